//! PostgreSQL types as Eddy sees them, and how each one lives in Arrow.
//!
//! Arrow alone cannot tell `text` from `jsonb` or `varchar(10)`, so a table's Arrow fields carry
//! the PostgreSQL type name in their metadata (`eddy.pg_type`); every other column (an expression
//! result, say) takes the PostgreSQL type that naturally matches its Arrow type.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, IntervalUnit, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, SqlState};

/// A `numeric(precision, scale)` type modifier.
pub type NumericTypmod = (u16, i16);

/// `numeric(p, s)`'s typmod, or PostgreSQL's error for one out of its ranges (the scale may be
/// negative, or larger than the precision: `numeric(2,5)` holds values below 0.001).
pub fn numeric_typmod(p: i64, s: i64) -> Result<NumericTypmod> {
    let max = NUMERIC_PRECISION_MAX as i64;
    if !(1..=max).contains(&p) {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("NUMERIC precision {p} must be between 1 and {max}"),
        ));
    }
    if !(-max..=max).contains(&s) {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("NUMERIC scale {s} must be between -{max} and {max}"),
        ));
    }
    Ok((p as u16, s as i16))
}

/// Field-metadata key holding the PostgreSQL type of an Arrow field.
pub const PG_TYPE_METADATA_KEY: &str = "eddy.pg_type";

/// Largest precision a `numeric` typmod can have (`NUMERIC_MAX_PRECISION`); a scale is within
/// ± this much too (`NUMERIC_MIN_SCALE`, `NUMERIC_MAX_SCALE`).
pub const NUMERIC_PRECISION_MAX: u16 = 1000;
/// The precision DataFusion's planner gives a bare `numeric` cast (with
/// [`NUMERIC_UNCONSTRAINED_SCALE`]); Eddy plans casts with a typmod itself, so this one is
/// always a bare `numeric`.
pub const NUMERIC_UNCONSTRAINED_PRECISION: u8 = 38;
/// Scale given to `numeric` declared without one: PostgreSQL keeps arbitrary scale, we keep
/// this many fractional digits and print without trailing zeros.
pub const NUMERIC_UNCONSTRAINED_SCALE: i8 = 10;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PgType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// `numeric(p, s)`; `None` for a bare `numeric`.
    Numeric(Option<NumericTypmod>),
    Text,
    Varchar(Option<u32>),
    Bytea,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Interval,
    Json,
    Jsonb,
    Uuid,
    Oid,
    Name,
    /// PostgreSQL's one-byte `"char"` (`relkind` and the like in the system catalog).
    Char,
    /// One-dimensional array of the element type.
    Array(Box<PgType>),
    /// `int2vector` (of `Int2`) and `oidvector` (of `Oid`): the system catalog's arrays, whose
    /// text form is the elements separated by spaces (`pg_index.indkey` reads `1 2`).
    Vector(Box<PgType>),
}

impl PgType {
    /// The OID PostgreSQL gives this type in `pg_type` (and on the wire).
    pub fn oid(&self) -> u32 {
        match self {
            PgType::Bool => 16,
            PgType::Int2 => 21,
            PgType::Int4 => 23,
            PgType::Int8 => 20,
            PgType::Float4 => 700,
            PgType::Float8 => 701,
            PgType::Numeric(_) => 1700,
            PgType::Text => 25,
            PgType::Varchar(_) => 1043,
            PgType::Bytea => 17,
            PgType::Date => 1082,
            PgType::Time => 1083,
            PgType::Timestamp => 1114,
            PgType::Timestamptz => 1184,
            PgType::Interval => 1186,
            PgType::Json => 114,
            PgType::Jsonb => 3802,
            PgType::Uuid => 2950,
            PgType::Oid => 26,
            PgType::Name => 19,
            PgType::Char => 18,
            PgType::Array(elem) => elem.array_oid(),
            PgType::Vector(elem) if **elem == PgType::Oid => 30,
            PgType::Vector(_) => 22,
        }
    }

    fn array_oid(&self) -> u32 {
        match self {
            PgType::Bool => 1000,
            PgType::Int2 => 1005,
            PgType::Int4 => 1007,
            PgType::Int8 => 1016,
            PgType::Float4 => 1021,
            PgType::Float8 => 1022,
            PgType::Numeric(_) => 1231,
            PgType::Text => 1009,
            PgType::Varchar(_) => 1015,
            PgType::Bytea => 1001,
            PgType::Date => 1182,
            PgType::Time => 1183,
            PgType::Timestamp => 1115,
            PgType::Timestamptz => 1185,
            PgType::Interval => 1187,
            PgType::Json => 199,
            PgType::Jsonb => 3807,
            PgType::Uuid => 2951,
            PgType::Oid => 1028,
            PgType::Name => 1003,
            PgType::Char => 1002,
            // PostgreSQL has no arrays of arrays as a type: a nested array is the same type.
            PgType::Array(inner) => inner.array_oid(),
            PgType::Vector(elem) if **elem == PgType::Oid => 1013,
            PgType::Vector(_) => 1006,
        }
    }

    /// The type modifier sent in RowDescription (`atttypmod`): -1 when there is none.
    pub fn typmod(&self) -> i32 {
        match self {
            PgType::Varchar(Some(n)) => *n as i32 + 4,
            // The scale in 11 bits, two's complement, as PostgreSQL packs a negative one.
            PgType::Numeric(Some((p, s))) => (((*p as i32) << 16) | (*s as i32 & 0x7ff)) + 4,
            PgType::Array(elem) => elem.typmod(),
            _ => -1,
        }
    }

    /// `typlen` in `pg_type`: fixed size in bytes, or -1 for varlena.
    pub fn typlen(&self) -> i16 {
        match self {
            PgType::Bool | PgType::Char => 1,
            PgType::Int2 => 2,
            PgType::Int4 | PgType::Float4 | PgType::Date | PgType::Oid => 4,
            PgType::Int8 | PgType::Float8 | PgType::Time | PgType::Timestamp => 8,
            PgType::Timestamptz => 8,
            PgType::Interval | PgType::Uuid => 16,
            PgType::Name => 64,
            _ => -1,
        }
    }

    /// The Arrow type values of this PostgreSQL type are stored and computed in.
    pub fn to_arrow(&self) -> DataType {
        match self {
            PgType::Bool => DataType::Boolean,
            PgType::Int2 => DataType::Int16,
            PgType::Int4 => DataType::Int32,
            PgType::Int8 => DataType::Int64,
            PgType::Float4 => DataType::Float32,
            PgType::Float8 => DataType::Float64,
            // Each value keeps its own scale (`numeric_array`); a typmod travels as metadata.
            PgType::Numeric(_) => crate::numeric_array::NUMERIC_ARROW,
            PgType::Text
            | PgType::Varchar(_)
            | PgType::Json
            | PgType::Jsonb
            | PgType::Uuid
            | PgType::Name
            | PgType::Char => DataType::Utf8,
            PgType::Oid => DataType::UInt32,
            PgType::Bytea => DataType::Binary,
            PgType::Date => DataType::Date32,
            PgType::Time => DataType::Time64(TimeUnit::Microsecond),
            PgType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            PgType::Timestamptz => {
                DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("+00:00")))
            }
            PgType::Interval => DataType::Interval(IntervalUnit::MonthDayNano),
            PgType::Array(elem) | PgType::Vector(elem) => {
                DataType::List(Arc::new(elem.to_arrow_field("item")))
            }
        }
    }

    /// An Arrow field of this type, carrying the PostgreSQL type where Arrow loses it.
    pub fn to_arrow_field(&self, name: &str) -> Field {
        let field = Field::new(name, self.to_arrow(), true);
        if self.needs_metadata() {
            let mut md = HashMap::new();
            md.insert(PG_TYPE_METADATA_KEY.to_string(), self.to_string());
            field.with_metadata(md)
        } else {
            field
        }
    }

    fn needs_metadata(&self) -> bool {
        !matches!(self, PgType::Text) && PgType::from_arrow(&self.to_arrow()) != *self
    }

    /// The PostgreSQL type of an Arrow field: its metadata if it has some, else the natural
    /// match for its Arrow type.
    pub fn from_field(field: &Field) -> PgType {
        if let Some(name) = field.metadata().get(PG_TYPE_METADATA_KEY)
            && let Ok(t) = PgType::parse(name)
            && t.to_arrow() == *field.data_type()
        {
            return t;
        }
        PgType::from_arrow(field.data_type())
    }

    pub fn from_arrow(dt: &DataType) -> PgType {
        match dt {
            DataType::Boolean => PgType::Bool,
            DataType::Int8 | DataType::Int16 | DataType::UInt8 => PgType::Int2,
            DataType::Int32 | DataType::UInt16 => PgType::Int4,
            // Nothing but the system catalog's oids is UInt32 in Eddy.
            DataType::UInt32 => PgType::Oid,
            DataType::Int64 | DataType::UInt64 => PgType::Int8,
            DataType::Float16 | DataType::Float32 => PgType::Float4,
            DataType::Float64 => PgType::Float8,
            // The type unconstrained `numeric` is computed in: an expression over such values
            // (`x * 2`, `x::numeric`) is unconstrained too, shown without trailing zeros.
            DataType::Decimal128(NUMERIC_UNCONSTRAINED_PRECISION, NUMERIC_UNCONSTRAINED_SCALE) => {
                PgType::Numeric(None)
            }
            DataType::Decimal32(p, s) | DataType::Decimal64(p, s) | DataType::Decimal128(p, s) => {
                PgType::Numeric(Some((*p as u16, *s as i16)))
            }
            DataType::Decimal256(p, s) => PgType::Numeric(Some((*p as u16, *s as i16))),
            DataType::LargeBinary => PgType::Numeric(None),
            DataType::Binary | DataType::BinaryView | DataType::FixedSizeBinary(_) => PgType::Bytea,
            DataType::Date32 | DataType::Date64 => PgType::Date,
            DataType::Time32(_) | DataType::Time64(_) => PgType::Time,
            DataType::Timestamp(_, None) => PgType::Timestamp,
            DataType::Timestamp(_, Some(_)) => PgType::Timestamptz,
            DataType::Interval(_) | DataType::Duration(_) => PgType::Interval,
            DataType::List(f)
            | DataType::LargeList(f)
            | DataType::ListView(f)
            | DataType::LargeListView(f)
            | DataType::FixedSizeList(f, _) => PgType::Array(Box::new(PgType::from_field(f))),
            DataType::Dictionary(_, v) => PgType::from_arrow(v),
            _ => PgType::Text,
        }
    }

    /// Parses a type as written in SQL (`int`, `character varying(10)`, `numeric(10,2)`,
    /// `timestamp with time zone`, `text[]`, ...), case-insensitively.
    pub fn parse(sql: &str) -> Result<PgType> {
        let s = sql.trim().to_ascii_lowercase();
        let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(inner) = s.strip_suffix("[]") {
            let elem = PgType::parse(inner)?;
            return Ok(match elem {
                PgType::Array(e) => PgType::Array(e),
                e => PgType::Array(Box::new(e)),
            });
        }
        if let Some(inner) = s.strip_prefix("array<").and_then(|r| r.strip_suffix('>')) {
            return Ok(PgType::Array(Box::new(PgType::parse(inner)?)));
        }
        let (base, args) = match s.find('(') {
            Some(i) => {
                let close = s.rfind(')').ok_or_else(|| bad_type(sql))?;
                let args: Vec<String> = s[i + 1..close]
                    .split(',')
                    .map(|a| a.trim().to_string())
                    .collect();
                let rest = s[close + 1..].trim();
                let base = format!("{} {}", s[..i].trim(), rest);
                (base.trim().to_string(), args)
            }
            None => (s.clone(), vec![]),
        };
        let num = |i: usize| -> Result<Option<i64>> {
            match args.get(i) {
                None => Ok(None),
                Some(a) => a.parse::<i64>().map(Some).map_err(|_| bad_type(sql)),
            }
        };
        let t = match base.as_str() {
            "bool" | "boolean" => PgType::Bool,
            "smallint" | "int2" => PgType::Int2,
            "int" | "integer" | "int4" => PgType::Int4,
            "bigint" | "int8" => PgType::Int8,
            "real" | "float4" => PgType::Float4,
            "double precision" | "float8" | "double" => PgType::Float8,
            "float" => match num(0)? {
                Some(p) if (1..=24).contains(&p) => PgType::Float4,
                _ => PgType::Float8,
            },
            "numeric" | "decimal" | "dec" => match (num(0)?, num(1)?) {
                (None, _) => PgType::Numeric(None),
                (Some(p), s) => {
                    let s = s.unwrap_or(0);
                    PgType::Numeric(Some(numeric_typmod(p, s)?))
                }
            },
            "text" | "string" => PgType::Text,
            "varchar" | "character varying" => match num(0)? {
                None => PgType::Varchar(None),
                Some(n) if n >= 1 => PgType::Varchar(Some(n as u32)),
                Some(_) => {
                    return Err(Error::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        "length for type varchar must be at least 1",
                    ));
                }
            },
            "bytea" => PgType::Bytea,
            "date" => PgType::Date,
            "time" | "time without time zone" => PgType::Time,
            "timestamp" | "timestamp without time zone" => PgType::Timestamp,
            "timestamptz" | "timestamp with time zone" => PgType::Timestamptz,
            "interval" => PgType::Interval,
            "json" => PgType::Json,
            "jsonb" => PgType::Jsonb,
            "uuid" => PgType::Uuid,
            "oid" => PgType::Oid,
            "int2vector" => PgType::Vector(Box::new(PgType::Int2)),
            "oidvector" => PgType::Vector(Box::new(PgType::Oid)),
            "name" => PgType::Name,
            "\"char\"" => PgType::Char,
            _ => {
                return Err(Error::new(
                    SqlState::UNDEFINED_OBJECT,
                    format!("type \"{}\" does not exist", sql.trim()),
                ));
            }
        };
        Ok(t)
    }

    /// The name PostgreSQL's `format_type` gives this type.
    pub fn name(&self) -> String {
        self.to_string()
    }
}

fn bad_type(sql: &str) -> Error {
    Error::new(
        SqlState::SYNTAX_ERROR,
        format!("invalid type name \"{sql}\""),
    )
}

impl fmt::Display for PgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgType::Bool => f.write_str("boolean"),
            PgType::Int2 => f.write_str("smallint"),
            PgType::Int4 => f.write_str("integer"),
            PgType::Int8 => f.write_str("bigint"),
            PgType::Float4 => f.write_str("real"),
            PgType::Float8 => f.write_str("double precision"),
            PgType::Numeric(None) => f.write_str("numeric"),
            PgType::Numeric(Some((p, s))) => write!(f, "numeric({p},{s})"),
            PgType::Text => f.write_str("text"),
            PgType::Varchar(None) => f.write_str("character varying"),
            PgType::Varchar(Some(n)) => write!(f, "character varying({n})"),
            PgType::Bytea => f.write_str("bytea"),
            PgType::Date => f.write_str("date"),
            PgType::Time => f.write_str("time without time zone"),
            PgType::Timestamp => f.write_str("timestamp without time zone"),
            PgType::Timestamptz => f.write_str("timestamp with time zone"),
            PgType::Interval => f.write_str("interval"),
            PgType::Json => f.write_str("json"),
            PgType::Jsonb => f.write_str("jsonb"),
            PgType::Uuid => f.write_str("uuid"),
            PgType::Oid => f.write_str("oid"),
            PgType::Name => f.write_str("name"),
            PgType::Char => f.write_str("\"char\""),
            PgType::Array(e) => write!(f, "{e}[]"),
            PgType::Vector(e) if **e == PgType::Oid => f.write_str("oidvector"),
            PgType::Vector(_) => f.write_str("int2vector"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_round_trips_names() {
        for (sql, want) in [
            ("INT", PgType::Int4),
            ("character varying(10)", PgType::Varchar(Some(10))),
            ("NUMERIC(10, 2)", PgType::Numeric(Some((10, 2)))),
            ("timestamp with time zone", PgType::Timestamptz),
            ("TEXT[]", PgType::Array(Box::new(PgType::Text))),
            ("double precision", PgType::Float8),
            ("int2vector", PgType::Vector(Box::new(PgType::Int2))),
            ("oidvector", PgType::Vector(Box::new(PgType::Oid))),
        ] {
            let t = PgType::parse(sql).unwrap();
            assert_eq!(t, want, "{sql}");
            assert_eq!(PgType::parse(&t.to_string()).unwrap(), t);
            let field = t.to_arrow_field("c");
            assert_eq!(PgType::from_field(&field), t);
        }
        assert_eq!(
            PgType::parse("nope").unwrap_err().state,
            SqlState::UNDEFINED_OBJECT
        );
    }

    #[test]
    fn typmods_match_postgres() {
        assert_eq!(PgType::Varchar(Some(10)).typmod(), 14);
        assert_eq!(PgType::Numeric(Some((10, 2))).typmod(), 655366);
        assert_eq!(PgType::Text.typmod(), -1);
    }
}
