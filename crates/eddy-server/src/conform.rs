//! Making computed rows fit a table: cast each column to its declared type with PostgreSQL's
//! errors, and enforce what the type or constraint demands (NOT NULL, `varchar(n)` length, valid
//! and normalized `jsonb`, canonical `uuid`).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::FormatOptions;
use eddy_catalog::{ColumnDef, TableEntry};
use eddy_common::datetime::{self, TimeSettings};
use eddy_common::{Error, PgType, Result, SqlState};

/// Casts and checks `columns` (one per table column, in table order) into a batch of the
/// table's schema.
pub fn conform(entry: &TableEntry, columns: Vec<ArrayRef>, rows: usize) -> Result<RecordBatch> {
    let schema = entry.codec.schema().clone();
    let mut out = Vec::with_capacity(columns.len());
    for (col, def) in columns.into_iter().zip(&entry.def.columns) {
        let arr = cast_column(col, def)?;
        if def.not_null && arr.null_count() > 0 {
            return Err(Error::new(
                SqlState::NOT_NULL_VIOLATION,
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    def.name, entry.def.name
                ),
            ));
        }
        out.push(check_values(arr, def)?);
    }
    let opts = datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(schema, out, &opts)?)
}

pub fn cast_column(col: ArrayRef, def: &ColumnDef) -> Result<ArrayRef> {
    let target = def.ty.to_arrow();
    // Numerics convert by their own rules: Arrow would take their bytes for a `bytea`.
    if let PgType::Numeric(typmod) = &def.ty {
        return eddy_common::numeric_array::cast_to_numeric(&col, *typmod);
    }
    if eddy_common::numeric_array::is_numeric(col.data_type()) {
        return eddy_common::numeric_array::cast_from_numeric(&col, &target);
    }
    if col.data_type() == &target {
        return Ok(col);
    }
    if matches!(col.data_type(), DataType::Null) {
        return Ok(datafusion::arrow::array::new_null_array(&target, col.len()));
    }
    let opts = CastOptions {
        safe: false,
        format_options: FormatOptions::default(),
    };
    cast_with_options(&col, &target, &opts).map_err(|e| cast_error(&col, def, e))
}

/// Finds the value that failed and words the error as PostgreSQL would.
fn cast_error(
    col: &ArrayRef,
    def: &ColumnDef,
    e: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    let safe = CastOptions {
        safe: true,
        format_options: FormatOptions::default(),
    };
    let target = def.ty.to_arrow();
    let bad = cast_with_options(col, &target, &safe)
        .ok()
        .and_then(|c| (0..col.len()).find(|&i| col.is_valid(i) && c.is_null(i)));
    let string_source = matches!(
        col.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    );
    match bad {
        Some(i) if string_source => {
            let v =
                datafusion::arrow::util::display::array_value_to_string(col, i).unwrap_or_default();
            Error::new(
                SqlState::INVALID_TEXT_REPRESENTATION,
                format!(
                    "invalid input syntax for type {}: \"{v}\"",
                    type_word(&def.ty)
                ),
            )
            .with_source(e)
        }
        _ => {
            let msg = match def.ty {
                PgType::Int2 => "smallint out of range".to_string(),
                PgType::Int4 => "integer out of range".to_string(),
                PgType::Int8 => "bigint out of range".to_string(),
                PgType::Numeric(_) => "numeric field overflow".to_string(),
                _ => format!("value out of range for type {}", def.ty),
            };
            Error::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, msg).with_source(e)
        }
    }
}

/// How PostgreSQL names a type in "invalid input syntax for type X".
pub fn type_word(t: &PgType) -> String {
    match t {
        PgType::Numeric(_) => "numeric".into(),
        PgType::Varchar(_) => "character varying".into(),
        other => other.to_string(),
    }
}

fn check_values(arr: ArrayRef, def: &ColumnDef) -> Result<ArrayRef> {
    match &def.ty {
        PgType::Varchar(Some(n)) => {
            let s = arr.as_string::<i32>();
            for v in s.iter().flatten() {
                if v.chars().count() > *n as usize {
                    return Err(Error::new(
                        SqlState::STRING_DATA_RIGHT_TRUNCATION,
                        format!("value too long for type character varying({n})"),
                    ));
                }
            }
            Ok(arr)
        }
        PgType::Jsonb => map_strings(&arr, |v| eddy_common::json::normalize_jsonb(v).map(Some)),
        PgType::Json => map_strings(&arr, |v| eddy_common::json::validate_json(v).map(|_| None)),
        PgType::Uuid => map_strings(&arr, |v| canonical_uuid(v).map(Some)),
        _ => Ok(arr),
    }
}

/// Applies `f` to every string; `Some` replaces the value, `None` keeps it.
fn map_strings(arr: &ArrayRef, f: impl Fn(&str) -> Result<Option<String>>) -> Result<ArrayRef> {
    let s = arr.as_string::<i32>();
    let mut changed = false;
    let mut out: Vec<Option<String>> = Vec::with_capacity(s.len());
    for v in s.iter() {
        match v {
            None => out.push(None),
            Some(v) => match f(v)? {
                Some(n) => {
                    changed |= n != v;
                    out.push(Some(n));
                }
                None => out.push(Some(v.to_string())),
            },
        }
    }
    if !changed {
        return Ok(arr.clone());
    }
    Ok(Arc::new(StringArray::from(out)))
}

pub fn canonical_uuid(v: &str) -> Result<String> {
    let t = v.trim();
    let t = t
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(t);
    let hex: String = t.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type uuid: \"{v}\""),
        ));
    }
    let h = hex.to_ascii_lowercase();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// Converts PostgreSQL text-format values (from COPY) into a column of `def`'s type: like a
/// cast, plus the text forms Arrow does not know (`\x` bytea, `{a,b}` arrays).
pub fn from_text(strings: ArrayRef, def: &ColumnDef, time: &TimeSettings) -> Result<ArrayRef> {
    match &def.ty {
        PgType::Numeric(typmod) => eddy_common::numeric_array::cast_to_numeric(&strings, *typmod),
        PgType::Interval => {
            let s = strings.as_string::<i32>();
            let mut out = Vec::with_capacity(s.len());
            for v in s.iter() {
                out.push(match v {
                    None => None,
                    Some(v) => Some(crate::interval::parse(v)?),
                });
            }
            Ok(Arc::new(
                datafusion::arrow::array::IntervalMonthDayNanoArray::from(out),
            ))
        }
        PgType::Bytea => {
            let s = strings.as_string::<i32>();
            let mut out: Vec<Option<Vec<u8>>> = Vec::with_capacity(s.len());
            for v in s.iter() {
                out.push(match v {
                    None => None,
                    Some(v) => Some(bytea_from_text(v).ok_or_else(|| {
                        Error::new(
                            SqlState::INVALID_TEXT_REPRESENTATION,
                            format!("invalid input syntax for type bytea: \"{v}\""),
                        )
                    })?),
                });
            }
            Ok(Arc::new(datafusion::arrow::array::BinaryArray::from_iter(
                out,
            )))
        }
        PgType::Vector(_) => Err(Error::unsupported(format!(
            "values of type {} from text",
            def.ty
        ))),
        PgType::Array(elem) => {
            let s = strings.as_string::<i32>();
            let elem_def = ColumnDef {
                name: def.name.clone(),
                ty: (**elem).clone(),
                not_null: false,
                default: None,
            };
            let mut offsets = vec![0i32];
            let mut values: Vec<Option<String>> = vec![];
            let mut validity = vec![];
            for v in s.iter() {
                match v {
                    None => validity.push(false),
                    Some(v) => {
                        values.extend(eddy_common::array_text::parse(v)?);
                        validity.push(true);
                    }
                }
                offsets.push(values.len() as i32);
            }
            let elems = from_text(Arc::new(StringArray::from(values)), &elem_def, time)?;
            let field = Arc::new(elem.to_arrow_field("item"));
            let list = datafusion::arrow::array::ListArray::try_new(
                field,
                datafusion::arrow::buffer::OffsetBuffer::new(offsets.into()),
                elems,
                Some(validity.into()),
            )?;
            Ok(Arc::new(list))
        }
        PgType::Time => {
            let s = strings.as_string::<i32>();
            let mut out = Vec::with_capacity(s.len());
            for v in s.iter() {
                out.push(match v {
                    None => None,
                    Some(v) => {
                        Some(eddy_pgwire::encode::parse_time(v.trim()).ok_or_else(|| {
                            Error::new(
                                SqlState::INVALID_TEXT_REPRESENTATION,
                                format!("invalid input syntax for type time: \"{v}\""),
                            )
                        })?)
                    }
                });
            }
            Ok(Arc::new(
                datafusion::arrow::array::Time64MicrosecondArray::from(out),
            ))
        }
        PgType::Date => {
            let s = strings.as_string::<i32>();
            let out: Vec<Option<i32>> = s
                .iter()
                .map(|v| v.map(|v| datetime::parse_date(v, time)).transpose())
                .collect::<Result<_>>()?;
            Ok(Arc::new(datafusion::arrow::array::Date32Array::from(out)))
        }
        PgType::Timestamp | PgType::Timestamptz => {
            let s = strings.as_string::<i32>();
            let out: Vec<Option<i64>> = s
                .iter()
                .map(|v| {
                    v.map(|v| match def.ty {
                        PgType::Timestamp => datetime::parse_timestamp(v, time),
                        _ => datetime::parse_timestamptz(v, time),
                    })
                    .transpose()
                })
                .collect::<Result<_>>()?;
            let arr = datafusion::arrow::array::TimestampMicrosecondArray::from(out);
            Ok(match def.ty {
                PgType::Timestamp => Arc::new(arr),
                _ => Arc::new(arr.with_timezone("+00:00")),
            })
        }
        _ => cast_column(strings, def),
    }
}

fn bytea_from_text(v: &str) -> Option<Vec<u8>> {
    match v.strip_prefix("\\x") {
        Some(hex) if hex.len() % 2 == 0 => (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect(),
        Some(_) => None,
        None => {
            // escape format: backslash-octal and doubled backslashes
            let b = v.as_bytes();
            let mut out = Vec::with_capacity(b.len());
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'\\' {
                    if b.get(i + 1) == Some(&b'\\') {
                        out.push(b'\\');
                        i += 2;
                    } else {
                        let oct = std::str::from_utf8(b.get(i + 1..i + 4)?).ok()?;
                        out.push(u8::from_str_radix(oct, 8).ok()?);
                        i += 4;
                    }
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            Some(out)
        }
    }
}
