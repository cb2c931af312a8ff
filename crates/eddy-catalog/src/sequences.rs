//! Sequences: `CREATE SEQUENCE`, the sequences behind `serial` and identity columns, and the
//! `nextval` that hands out their values.
//!
//! A sequence is not transactional, as in PostgreSQL: a value handed out is never handed out
//! again, whether the transaction that took it commits or not. Values are reserved durably in
//! blocks of [`RESERVE_BLOCK`]: before a value past the last reservation is returned, the end of
//! a new block is written (outside any epoch, like PostgreSQL's sequence WAL records), so after
//! a crash the sequence goes on after the block and a value returned before the crash is never
//! returned again. The price is the same as PostgreSQL's: a crash leaves a gap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, AsArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, Int64Type, UInt32Type};
use datafusion::common::{DataFusionError, Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use eddy_common::{Error, PgType, Result, SqlState, TableId};
use eddy_storage::{Cf, Store};
use serde::{Deserialize, Serialize};

/// How many values one durable reservation covers (PostgreSQL's `SEQ_LOG_VALS`).
pub const RESERVE_BLOCK: i64 = 32;

const STATE_PREFIX: &[u8] = b"seq/";

/// A sequence as persisted (`cat/sequence/<id>`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SequenceDef {
    pub id: TableId,
    pub schema: String,
    pub name: String,
    /// `smallint`, `integer` or `bigint`: bounds the default MINVALUE/MAXVALUE.
    pub ty: PgType,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cycle: bool,
    /// The table and column whose default or identity this sequence is: dropped with it.
    pub owned_by: Option<(TableId, String)>,
    /// For an identity column's sequence, PostgreSQL's `attidentity`: `a` (GENERATED ALWAYS)
    /// or `d` (BY DEFAULT); `None` for a `serial` column's or a free-standing sequence.
    #[serde(default)]
    pub identity: Option<char>,
}

impl SequenceDef {
    /// A sequence with PostgreSQL's defaults for its type and direction.
    pub fn new(schema: &str, name: &str, ty: PgType, increment: i64) -> SequenceDef {
        let type_max = match ty {
            PgType::Int2 => i16::MAX as i64,
            PgType::Int4 => i32::MAX as i64,
            _ => i64::MAX,
        };
        let type_min = match ty {
            PgType::Int2 => i16::MIN as i64,
            PgType::Int4 => i32::MIN as i64,
            _ => i64::MIN,
        };
        let (min, max) = if increment > 0 {
            (1, type_max)
        } else {
            (type_min, -1)
        };
        SequenceDef {
            id: 0,
            schema: schema.to_string(),
            name: name.to_string(),
            ty,
            start: if increment > 0 { min } else { max },
            increment,
            min,
            max,
            cycle: false,
            owned_by: None,
            identity: None,
        }
    }

    /// The bounds and start agree, as `CREATE SEQUENCE` checks them.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::new(SqlState::INVALID_PARAMETER_VALUE, m));
        if self.increment == 0 {
            return bad("INCREMENT must not be zero".into());
        }
        if self.min >= self.max {
            return bad(format!(
                "MINVALUE ({}) must be less than MAXVALUE ({})",
                self.min, self.max
            ));
        }
        if self.start < self.min {
            return bad(format!(
                "START value ({}) cannot be less than MINVALUE ({})",
                self.start, self.min
            ));
        }
        if self.start > self.max {
            return bad(format!(
                "START value ({}) cannot be greater than MAXVALUE ({})",
                self.start, self.max
            ));
        }
        Ok(())
    }

    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// Where a sequence is: the last value handed out, and how far values are reserved durably.
#[derive(Clone, Copy, Debug)]
struct Position {
    last: i64,
    /// False until the first `nextval` (or a `setval(..., false)`): then `last` is the next
    /// value to hand out rather than the one handed out.
    is_called: bool,
    /// Values up to here (in the sequence's direction) may have been handed out.
    reserved: i64,
}

/// Every sequence's definition and position. Shared by the catalog, the `nextval` of every
/// session and the column defaults that call it.
pub struct Sequences {
    store: Store,
    inner: Mutex<HashMap<TableId, (SequenceDef, Position)>>,
}

impl std::fmt::Debug for Sequences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sequences")
    }
}

fn state_key(id: TableId) -> Vec<u8> {
    let mut k = STATE_PREFIX.to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn encode_state(last: i64, is_called: bool) -> Vec<u8> {
    let mut v = last.to_be_bytes().to_vec();
    v.push(is_called as u8);
    v
}

impl Sequences {
    pub(crate) fn new(store: Store) -> Sequences {
        Sequences {
            store,
            inner: Mutex::default(),
        }
    }

    /// Adds a sequence read from the catalog or just created, at its durable position.
    pub(crate) fn insert(&self, def: SequenceDef) -> Result<()> {
        let stored = self.store.snapshot().get(Cf::Meta, &state_key(def.id))?;
        let pos = match stored.as_deref() {
            Some([b @ .., called]) if b.len() == 8 => {
                let last = i64::from_be_bytes(b.try_into().expect("8 bytes"));
                Position {
                    last,
                    is_called: *called != 0,
                    reserved: last,
                }
            }
            _ => Position {
                last: def.start,
                is_called: false,
                reserved: def.start,
            },
        };
        self.inner
            .lock()
            .expect("sequences lock")
            .insert(def.id, (def, pos));
        Ok(())
    }

    pub(crate) fn remove(&self, id: TableId) -> Result<()> {
        self.inner.lock().expect("sequences lock").remove(&id);
        self.store.put_now(Cf::Meta, &state_key(id), &[])
    }

    pub fn def(&self, id: TableId) -> Option<SequenceDef> {
        let inner = self.inner.lock().expect("sequences lock");
        inner.get(&id).map(|(d, _)| d.clone())
    }

    pub fn all(&self) -> Vec<SequenceDef> {
        let inner = self.inner.lock().expect("sequences lock");
        let mut v: Vec<SequenceDef> = inner.values().map(|(d, _)| d.clone()).collect();
        v.sort_by_key(|d| d.id);
        v
    }

    /// The sequence named `name` (`schema.name`, or a bare name in `public`).
    pub fn by_name(&self, name: &str) -> Option<SequenceDef> {
        let (schema, bare) = match name.split_once('.') {
            Some((s, n)) => (s, n),
            None => (crate::DEFAULT_SCHEMA, name),
        };
        let unquote = |s: &str| s.trim_matches('"').to_string();
        self.find(&unquote(schema), &unquote(bare))
    }

    /// The sequence `name` of schema `schema` (both as stored, unquoted).
    pub fn find(&self, schema: &str, name: &str) -> Option<SequenceDef> {
        let inner = self.inner.lock().expect("sequences lock");
        inner
            .values()
            .find(|(d, _)| d.schema == schema && d.name == name)
            .map(|(d, _)| d.clone())
    }

    /// The last value handed out (PostgreSQL's `last_value` column), and whether any was.
    pub fn position(&self, id: TableId) -> Option<(i64, bool)> {
        let inner = self.inner.lock().expect("sequences lock");
        inner.get(&id).map(|(_, p)| (p.last, p.is_called))
    }

    /// Hands out the next `n` values of a sequence.
    pub fn next(&self, id: TableId, n: usize) -> Result<Vec<i64>> {
        let mut inner = self.inner.lock().expect("sequences lock");
        let (def, pos) = inner.get_mut(&id).ok_or_else(|| no_such_sequence(id))?;
        let mut out = Vec::with_capacity(n);
        let mut p = *pos;
        for _ in 0..n {
            let v = if p.is_called {
                step(def, p.last)?
            } else {
                p.last
            };
            p.last = v;
            p.is_called = true;
            out.push(v);
        }
        let beyond = |v: i64, mark: i64| {
            if def.increment > 0 {
                v > mark
            } else {
                v < mark
            }
        };
        if out
            .last()
            .is_some_and(|v| beyond(*v, pos.reserved) || !pos.is_called)
        {
            // Reserve a block past what is handed out now, clamped to the bounds; a cycling
            // sequence that wraps simply reserves again.
            let block = def.increment.saturating_mul(RESERVE_BLOCK);
            let mark = p.last.saturating_add(block).clamp(def.min, def.max);
            self.store
                .put_now(Cf::Meta, &state_key(id), &encode_state(mark, true))?;
            p.reserved = mark;
        }
        *pos = p;
        Ok(out)
    }

    /// `setval`: the next `nextval` returns `value` + increment (or `value` itself when
    /// `is_called` is false).
    pub fn set(&self, id: TableId, value: i64, is_called: bool) -> Result<()> {
        let mut inner = self.inner.lock().expect("sequences lock");
        let (def, pos) = inner.get_mut(&id).ok_or_else(|| no_such_sequence(id))?;
        if value < def.min || value > def.max {
            return Err(Error::new(
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                format!(
                    "setval: value {value} is out of bounds for sequence \"{}\" ({}..{})",
                    def.name, def.min, def.max
                ),
            ));
        }
        self.store
            .put_now(Cf::Meta, &state_key(id), &encode_state(value, is_called))?;
        *pos = Position {
            last: value,
            is_called,
            reserved: value,
        };
        Ok(())
    }
}

fn no_such_sequence(id: TableId) -> Error {
    Error::new(
        SqlState::UNDEFINED_TABLE,
        format!("sequence with OID {id} does not exist"),
    )
}

/// The value after `last`, or the bound's error, or the other bound for a cycling sequence.
fn step(def: &SequenceDef, last: i64) -> Result<i64> {
    let next = last.checked_add(def.increment);
    match next {
        Some(v) if v >= def.min && v <= def.max => Ok(v),
        _ if def.cycle => Ok(if def.increment > 0 { def.min } else { def.max }),
        _ => {
            let (which, bound) = if def.increment > 0 {
                ("maximum", def.max)
            } else {
                ("minimum", def.min)
            };
            Err(Error::new(
                SqlState::SEQUENCE_GENERATOR_LIMIT_EXCEEDED,
                format!(
                    "nextval: reached {which} value of sequence \"{}\" ({bound})",
                    def.name
                ),
            ))
        }
    }
}

/// Records the values a session took, for its `currval` and `lastval`.
pub trait SessionSequences: Send + Sync {
    fn took(&self, id: TableId, value: i64);
}

/// `nextval(sequence)`: one new value per row. The sequence is named by text (`'s'`,
/// `'public.s'`) or by OID, which is what a column default holds.
pub struct NextVal {
    sequences: Arc<Sequences>,
    session: Option<Arc<dyn SessionSequences>>,
    signature: Signature,
}

impl std::fmt::Debug for NextVal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NextVal")
    }
}

impl PartialEq for NextVal {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.sequences, &other.sequences)
            && match (&self.session, &other.session) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
    }
}

impl Eq for NextVal {}

impl std::hash::Hash for NextVal {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        "nextval".hash(state);
    }
}

impl NextVal {
    pub fn udf(sequences: Arc<Sequences>, session: Option<Arc<dyn SessionSequences>>) -> ScalarUDF {
        ScalarUDF::new_from_impl(NextVal {
            sequences,
            session,
            signature: Signature::any(1, Volatility::Volatile),
        })
    }

    /// The default of a column that takes its values from sequence `id`.
    pub fn default_expr(sequences: Arc<Sequences>, id: TableId) -> Expr {
        Arc::new(Self::udf(sequences, None)).call(vec![Expr::Literal(
            ScalarValue::Int64(Some(id as i64)),
            None,
        )])
    }

    fn resolve(&self, arg: &ScalarValue) -> Result<TableId> {
        let missing = |what: String| {
            Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{what}\" does not exist"),
            )
        };
        match arg {
            ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) => {
                match s.parse::<u32>() {
                    Ok(oid) => Ok(oid),
                    Err(_) => self
                        .sequences
                        .by_name(s)
                        .map(|d| d.id)
                        .ok_or_else(|| missing(s.clone())),
                }
            }
            other => match other.cast_to(&DataType::Int64) {
                Ok(ScalarValue::Int64(Some(oid))) => Ok(oid as u32),
                _ => Err(Error::new(
                    SqlState::NULL_VALUE_NOT_ALLOWED,
                    "nextval of a NULL sequence",
                )),
            },
        }
    }
}

fn to_df(e: Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Each row's argument as one scalar: the sequence a default or a call names.
fn row_arg(arg: &ColumnarValue, row: usize) -> DfResult<ScalarValue> {
    match arg {
        ColumnarValue::Scalar(s) => Ok(s.clone()),
        ColumnarValue::Array(a) => {
            if let Some(ids) = a.as_primitive_opt::<UInt32Type>() {
                return Ok(ScalarValue::UInt32(
                    ids.is_valid(row).then(|| ids.value(row)),
                ));
            }
            if let Some(ids) = a.as_primitive_opt::<Int64Type>() {
                return Ok(ScalarValue::Int64(
                    ids.is_valid(row).then(|| ids.value(row)),
                ));
            }
            ScalarValue::try_from_array(a.as_ref(), row)
        }
    }
}

impl ScalarUDFImpl for NextVal {
    fn name(&self) -> &str {
        "nextval"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let arg = args
            .args
            .first()
            .ok_or_else(|| DataFusionError::Plan("nextval takes one argument".into()))?;
        let values: Vec<i64> = match arg {
            // One sequence for every row (a default, `nextval('s')`): one reservation.
            ColumnarValue::Scalar(s) => {
                let id = self.resolve(s).map_err(to_df)?;
                let vs = self.sequences.next(id, n).map_err(to_df)?;
                if let (Some(sess), Some(v)) = (&self.session, vs.last()) {
                    sess.took(id, *v);
                }
                vs
            }
            ColumnarValue::Array(_) => {
                let mut vs = Vec::with_capacity(n);
                for row in 0..n {
                    let id = self.resolve(&row_arg(arg, row)?).map_err(to_df)?;
                    let v = self.sequences.next(id, 1).map_err(to_df)?[0];
                    if let Some(sess) = &self.session {
                        sess.took(id, v);
                    }
                    vs.push(v);
                }
                vs
            }
        };
        Ok(ColumnarValue::Array(Arc::new(Int64Array::from(values))))
    }
}

/// Whether `e` calls `nextval`, which a materialized view cannot maintain and a COPY must call
/// once per row.
pub fn sequence_of_default(e: &Expr) -> Option<TableId> {
    let Expr::ScalarFunction(f) = e else {
        return None;
    };
    if f.name() != "nextval" {
        return None;
    }
    match f.args.as_slice() {
        [Expr::Literal(ScalarValue::Int64(Some(id)), _)] => Some(*id as TableId),
        _ => None,
    }
}
