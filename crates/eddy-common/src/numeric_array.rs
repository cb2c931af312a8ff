//! `numeric` columns: Arrow `LargeBinary` arrays of [`Numeric`] values in their column form
//! (see `numeric_codec`), and the conversions between them and other columns that casts,
//! inserts, COPY and parameters share, with PostgreSQL's rounding and errors.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array,
    LargeBinaryArray, LargeBinaryBuilder, StringArray,
};
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use num_bigint::BigInt;

use crate::error::{Error, Result, SqlState};
use crate::numeric::Numeric;
use crate::types::NumericTypmod;

/// The Arrow type `numeric` values are carried in. Nothing else in Eddy is `LargeBinary`.
pub const NUMERIC_ARROW: DataType = DataType::LargeBinary;

pub fn is_numeric(dt: &DataType) -> bool {
    matches!(dt, DataType::LargeBinary)
}

/// A column of the given values.
pub fn from_values<I: IntoIterator<Item = Option<Numeric>>>(values: I) -> ArrayRef {
    let it = values.into_iter();
    let mut b = LargeBinaryBuilder::with_capacity(it.size_hint().0, it.size_hint().0 * 12);
    let mut buf = Vec::with_capacity(32);
    for v in it {
        match v {
            Some(v) => {
                buf.clear();
                v.write_bytes(&mut buf);
                b.append_value(&buf);
            }
            None => b.append_null(),
        }
    }
    Arc::new(b.finish())
}

/// Row `i` of a numeric column (`None` for NULL).
pub fn value_at(arr: &LargeBinaryArray, i: usize) -> Result<Option<Numeric>> {
    if arr.is_null(i) {
        return Ok(None);
    }
    Numeric::from_bytes(arr.value(i)).map(Some)
}

/// Every value of a numeric column.
pub fn values(arr: &dyn Array) -> Result<Vec<Option<Numeric>>> {
    let arr = arr.as_binary::<i64>();
    (0..arr.len()).map(|i| value_at(arr, i)).collect()
}

/// Each value's [`value_key`](crate::numeric_codec::value_key): equal exactly where the values
/// are, whatever their scales.
pub fn value_keys(arr: &ArrayRef) -> ArrayRef {
    let keys: LargeBinaryArray = (arr.as_binary::<i64>().iter())
        .map(|v| v.map(crate::numeric_codec::value_key))
        .collect();
    Arc::new(keys)
}

/// The values of a column of keys, each with the fewest fraction digits that show it.
pub fn from_keys(arr: &ArrayRef) -> Result<ArrayRef> {
    let vals = (arr.as_binary::<i64>().iter())
        .map(|k| k.map(Numeric::from_key).transpose())
        .collect::<Result<Vec<_>>>()?;
    Ok(from_values(vals))
}

/// Fits each value to `numeric(precision, scale)` (rounding, 22003 on overflow).
pub fn with_typmod(arr: &ArrayRef, typmod: Option<NumericTypmod>) -> Result<ArrayRef> {
    let Some((p, s)) = typmod else {
        return Ok(arr.clone());
    };
    let vals = values(arr.as_ref())?;
    let fitted = vals
        .into_iter()
        .map(|v| v.map(|v| v.with_typmod(p as u32, s as i32)).transpose())
        .collect::<Result<Vec<_>>>()?;
    Ok(from_values(fitted))
}

fn ints<I: Iterator<Item = Option<i64>>>(it: I) -> ArrayRef {
    from_values(it.map(|v| v.map(Numeric::from_i64)))
}

/// A column of another type as `numeric` (PostgreSQL's casts: integers exactly, floats to 15
/// significant digits, text by `numeric`'s input rules), then fitted to `typmod`.
pub fn cast_to_numeric(arr: &ArrayRef, typmod: Option<NumericTypmod>) -> Result<ArrayRef> {
    let out: ArrayRef = match arr.data_type() {
        DataType::LargeBinary => arr.clone(),
        DataType::Null => from_values((0..arr.len()).map(|_| None)),
        DataType::Int8 => ints(
            arr.as_primitive::<Int8Type>()
                .iter()
                .map(|v| v.map(i64::from)),
        ),
        DataType::Int16 => ints(
            arr.as_primitive::<Int16Type>()
                .iter()
                .map(|v| v.map(i64::from)),
        ),
        DataType::Int32 => ints(
            arr.as_primitive::<Int32Type>()
                .iter()
                .map(|v| v.map(i64::from)),
        ),
        DataType::Int64 => ints(arr.as_primitive::<Int64Type>().iter()),
        DataType::UInt8 => ints(
            arr.as_primitive::<UInt8Type>()
                .iter()
                .map(|v| v.map(i64::from)),
        ),
        DataType::UInt16 => ints(
            arr.as_primitive::<UInt16Type>()
                .iter()
                .map(|v| v.map(i64::from)),
        ),
        DataType::UInt32 => ints(
            arr.as_primitive::<UInt32Type>()
                .iter()
                .map(|v| v.map(i64::from)),
        ),
        DataType::UInt64 => from_values(
            (arr.as_primitive::<UInt64Type>().iter())
                .map(|v| v.map(|v| Numeric::finite(BigInt::from(v), 0))),
        ),
        DataType::Float32 => from_values(
            (arr.as_primitive::<Float32Type>().iter()).map(|v| v.map(Numeric::from_f32)),
        ),
        DataType::Float64 => from_values(
            (arr.as_primitive::<Float64Type>().iter()).map(|v| v.map(Numeric::from_f64)),
        ),
        DataType::Decimal128(_, s) => from_values(
            (arr.as_primitive::<Decimal128Type>().iter())
                .map(|v| v.map(|v| Numeric::from_i128(v, *s as i32))),
        ),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let strings = datafusion::arrow::compute::cast(arr, &DataType::Utf8)?;
            let strings = strings.as_string::<i32>();
            let vals = (strings.iter())
                .map(|v| v.map(Numeric::parse).transpose())
                .collect::<Result<Vec<_>>>()?;
            from_values(vals)
        }
        other => {
            return Err(Error::new(
                SqlState::CANNOT_COERCE,
                format!(
                    "cannot cast type {} to numeric",
                    crate::PgType::from_arrow(other)
                ),
            ));
        }
    };
    with_typmod(&out, typmod)
}

/// A numeric column as another type: integers rounded (22003 when out of range), floats
/// through the value's text as PostgreSQL does, text as `numeric` prints.
pub fn cast_from_numeric(arr: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    let vals = values(arr.as_ref())?;
    let int = |bits: u32| -> Result<Vec<Option<i64>>> {
        vals.iter()
            .map(|v| v.as_ref().map(|v| v.to_int(bits)).transpose())
            .collect()
    };
    Ok(match to {
        DataType::LargeBinary => arr.clone(),
        DataType::Int16 => Arc::new(Int16Array::from_iter(
            int(16)?.into_iter().map(|v| v.map(|v| v as i16)),
        )),
        DataType::Int32 => Arc::new(Int32Array::from_iter(
            int(32)?.into_iter().map(|v| v.map(|v| v as i32)),
        )),
        DataType::Int64 => Arc::new(Int64Array::from_iter(int(64)?)),
        DataType::Float64 => Arc::new(Float64Array::from_iter(
            vals.iter().map(|v| v.as_ref().map(Numeric::to_f64)),
        )),
        DataType::Float32 => Arc::new(Float32Array::from_iter(
            vals.iter().map(|v| v.as_ref().map(Numeric::to_f32)),
        )),
        DataType::Utf8 => Arc::new(StringArray::from_iter(
            vals.iter().map(|v| v.as_ref().map(|v| v.to_string())),
        )),
        other => {
            return Err(Error::new(
                SqlState::CANNOT_COERCE,
                format!(
                    "cannot cast type numeric to {}",
                    crate::PgType::from_arrow(other)
                ),
            ));
        }
    })
}
