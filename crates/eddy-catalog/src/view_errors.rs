//! A materialized view's error collection: runtime errors its query raised on some input rows
//! (division by zero, a failed cast), kept with a count like any Z-set row. While it is
//! non-empty, reading the view fails with the first error; retracting the offending input rows
//! brings the count back to zero and the view back (Materialize's model).
//!
//! Key (after the table prefix and vnode): `SQLSTATE (5 bytes) | message`; value: count.

use eddy_common::{Error, SqlState};

pub fn encode_key(err: &Error) -> Vec<u8> {
    let mut k = err.state.0.as_bytes().to_vec();
    k.resize(5, b'0');
    k.extend_from_slice(err.message.as_bytes());
    k
}

/// The error a read of view `view` reports for a stored error key.
pub fn decode(key: &[u8], view: &str) -> Error {
    let state = std::str::from_utf8(key.get(..5).unwrap_or(b"XX000")).unwrap_or("XX000");
    let message = String::from_utf8_lossy(key.get(5..).unwrap_or_default()).into_owned();
    let state = SqlState(leak_state(state));
    Error::new(state, message).with_detail(format!(
        "materialized view \"{view}\" holds this error for some of its input rows; it clears \
         when those rows are removed or fixed"
    ))
}

/// SQLSTATEs are `&'static str`; map the stored code back to one of the known constants.
fn leak_state(code: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "22012", "22003", "22P02", "22007", "22008", "22023", "22000", "22001", "42804", "XX000",
    ];
    KNOWN
        .iter()
        .find(|k| **k == code)
        .copied()
        .unwrap_or("22000")
}
