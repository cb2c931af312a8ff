//! The one error type of Eddy. Every error that can reach a client carries the `SQLSTATE`
//! PostgreSQL would send for it, so the wire layer never has to guess.

use std::fmt;

use datafusion::error::DataFusionError;

/// A PostgreSQL `SQLSTATE` code, as the five characters the wire carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SqlState(pub &'static str);

impl SqlState {
    pub const SUCCESSFUL_COMPLETION: SqlState = SqlState("00000");
    pub const FEATURE_NOT_SUPPORTED: SqlState = SqlState("0A000");
    pub const CARDINALITY_VIOLATION: SqlState = SqlState("21000");
    pub const STRING_DATA_RIGHT_TRUNCATION: SqlState = SqlState("22001");
    pub const NUMERIC_VALUE_OUT_OF_RANGE: SqlState = SqlState("22003");
    pub const INVALID_DATETIME_FORMAT: SqlState = SqlState("22007");
    pub const DATETIME_FIELD_OVERFLOW: SqlState = SqlState("22008");
    pub const DIVISION_BY_ZERO: SqlState = SqlState("22012");
    pub const INVALID_PARAMETER_VALUE: SqlState = SqlState("22023");
    pub const INVALID_ARGUMENT_FOR_POWER_FUNCTION: SqlState = SqlState("2201F");
    pub const INVALID_ARGUMENT_FOR_LOG: SqlState = SqlState("2201E");
    pub const INVALID_BINARY_REPRESENTATION: SqlState = SqlState("22P03");
    pub const CANNOT_COERCE: SqlState = SqlState("42846");
    pub const SERIALIZATION_FAILURE: SqlState = SqlState("40001");
    pub const WRONG_OBJECT_TYPE: SqlState = SqlState("42809");
    pub const DUPLICATE_CURSOR: SqlState = SqlState("42P03");
    pub const DUPLICATE_PREPARED_STATEMENT: SqlState = SqlState("42P05");
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: SqlState = SqlState("55000");
    pub const INVALID_TEXT_REPRESENTATION: SqlState = SqlState("22P02");
    pub const BAD_COPY_FILE_FORMAT: SqlState = SqlState("22P04");
    pub const INVALID_JSON_TEXT: SqlState = SqlState("22P02");
    pub const DATA_EXCEPTION: SqlState = SqlState("22000");
    pub const NULL_VALUE_NOT_ALLOWED: SqlState = SqlState("22004");
    pub const SEQUENCE_GENERATOR_LIMIT_EXCEEDED: SqlState = SqlState("2200H");
    pub const GENERATED_ALWAYS: SqlState = SqlState("428C9");
    pub const NOT_NULL_VIOLATION: SqlState = SqlState("23502");
    pub const UNIQUE_VIOLATION: SqlState = SqlState("23505");
    pub const ACTIVE_SQL_TRANSACTION: SqlState = SqlState("25001");
    pub const NO_ACTIVE_SQL_TRANSACTION: SqlState = SqlState("25P01");
    pub const IN_FAILED_SQL_TRANSACTION: SqlState = SqlState("25P02");
    pub const INVALID_CURSOR_NAME: SqlState = SqlState("34000");
    pub const INVALID_SQL_STATEMENT_NAME: SqlState = SqlState("26000");
    pub const SYNTAX_ERROR: SqlState = SqlState("42601");
    pub const UNDEFINED_COLUMN: SqlState = SqlState("42703");
    pub const UNDEFINED_FUNCTION: SqlState = SqlState("42883");
    pub const UNDEFINED_TABLE: SqlState = SqlState("42P01");
    pub const UNDEFINED_OBJECT: SqlState = SqlState("42704");
    pub const INVALID_SCHEMA_NAME: SqlState = SqlState("3F000");
    pub const DUPLICATE_TABLE: SqlState = SqlState("42P07");
    pub const DUPLICATE_SCHEMA: SqlState = SqlState("42P06");
    pub const DUPLICATE_COLUMN: SqlState = SqlState("42701");
    pub const DUPLICATE_OBJECT: SqlState = SqlState("42710");
    pub const AMBIGUOUS_COLUMN: SqlState = SqlState("42702");
    pub const DATATYPE_MISMATCH: SqlState = SqlState("42804");
    pub const INVALID_TABLE_DEFINITION: SqlState = SqlState("42P16");
    pub const GROUPING_ERROR: SqlState = SqlState("42803");
    pub const INVALID_COLUMN_REFERENCE: SqlState = SqlState("42P10");
    pub const DEPENDENT_OBJECTS_STILL_EXIST: SqlState = SqlState("2BP01");
    pub const PROTOCOL_VIOLATION: SqlState = SqlState("08P01");
    pub const QUERY_CANCELED: SqlState = SqlState("57014");
    pub const UNDEFINED_PARAMETER: SqlState = SqlState("42704");
    pub const CANT_CHANGE_RUNTIME_PARAM: SqlState = SqlState("55P02");
    pub const PROGRAM_LIMIT_EXCEEDED: SqlState = SqlState("54000");
    pub const IO_ERROR: SqlState = SqlState("58030");
    pub const INTERNAL_ERROR: SqlState = SqlState("XX000");

    pub fn code(&self) -> &'static str {
        self.0
    }
}

impl fmt::Debug for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error as a client will see it: `SQLSTATE`, message in PostgreSQL style (lower case, no
/// trailing period), optional detail and hint, and the cause chain for logs. The body is boxed
/// so `Result<T>` stays one pointer wide on the hot paths that never fail.
#[derive(Debug)]
pub struct Error(Box<ErrorBody>);

#[derive(Debug)]
pub struct ErrorBody {
    pub state: SqlState,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// Where it happened (PostgreSQL's CONTEXT), e.g. `COPY t, line 3, column a: "x"`.
    pub context: Option<String>,
    pub source: Option<Source>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl std::ops::Deref for Error {
    type Target = ErrorBody;

    fn deref(&self) -> &ErrorBody {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut ErrorBody {
        &mut self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl Error {
    pub fn new(state: SqlState, message: impl Into<String>) -> Self {
        Error(Box::new(ErrorBody {
            state,
            message: message.into(),
            detail: None,
            hint: None,
            context: None,
            source: None,
        }))
    }

    /// The error's parts, to hand over to the wire.
    pub fn state(&self) -> SqlState {
        self.0.state
    }

    pub fn into_body(self) -> ErrorBody {
        *self.0
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn unsupported(what: impl fmt::Display) -> Self {
        Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("{what} is not supported"),
        )
    }

    pub fn syntax(message: impl Into<String>) -> Self {
        Error::new(SqlState::SYNTAX_ERROR, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(SqlState::INTERNAL_ERROR, message)
    }

    pub fn io(message: impl Into<String>, source: impl Into<Source>) -> Self {
        Error::new(SqlState::IO_ERROR, message).with_source(source)
    }
}

impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Self {
        classify_datafusion(e)
    }
}

impl From<datafusion::arrow::error::ArrowError> for Error {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        classify_datafusion(DataFusionError::ArrowError(Box::new(e), None))
    }
}

/// Our own error inside a DataFusion error that others still hold (a failure shared by the
/// partitions of a plan, say).
fn ours_in(e: &DataFusionError) -> Option<&Error> {
    match e {
        DataFusionError::External(inner) => inner.downcast_ref::<Error>(),
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => {
            ours_in(inner)
        }
        DataFusionError::Shared(inner) => ours_in(inner),
        DataFusionError::ArrowError(inner, _) => match inner.as_ref() {
            datafusion::arrow::error::ArrowError::ExternalError(x) => x
                .downcast_ref::<Error>()
                .or_else(|| x.downcast_ref::<DataFusionError>().and_then(ours_in)),
            _ => None,
        },
        _ => None,
    }
}

/// DataFusion reports most failures as strings; map them to the SQLSTATE and wording
/// PostgreSQL uses so clients (and our PostgreSQL-checked tests) see the same thing.
fn classify_datafusion(e: DataFusionError) -> Error {
    // An error we raised ourselves inside DataFusion (a UDF, a table provider) travels back
    // unchanged in `External`.
    let e = match e {
        DataFusionError::External(inner) => match inner.downcast::<Error>() {
            Ok(ours) => return *ours,
            Err(other) => DataFusionError::External(other),
        },
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => {
            return classify_datafusion(*inner);
        }
        DataFusionError::Collection(mut all) if !all.is_empty() => {
            return classify_datafusion(all.swap_remove(0));
        }
        DataFusionError::Shared(inner) => match std::sync::Arc::try_unwrap(inner) {
            Ok(e) => return classify_datafusion(e),
            Err(shared) => match ours_in(&shared) {
                Some(ours) => return Error::new(ours.state, ours.message.clone()),
                None => DataFusionError::Execution(shared.to_string()),
            },
        },
        other => other,
    };
    let text = e.strip_backtrace();
    let lower = text.to_lowercase();
    let (state, message) = if lower.contains("divide by zero") || lower.contains("division by zero")
    {
        (SqlState::DIVISION_BY_ZERO, "division by zero".to_string())
    } else if let Some(m) = table_not_found(&text) {
        (SqlState::UNDEFINED_TABLE, m)
    } else if let Some(m) = column_not_found(&text) {
        (SqlState::UNDEFINED_COLUMN, m)
    } else if lower.contains("non-boolean predicate") {
        (
            SqlState::DATATYPE_MISMATCH,
            "argument of WHERE must be type boolean".to_string(),
        )
    } else if lower.contains("ambiguous reference") {
        (SqlState::AMBIGUOUS_COLUMN, strip_prefixes(&text))
    } else if lower.contains("can't cast value") || lower.contains("array overflow on") {
        let ty = if text.contains("Int16") {
            "smallint"
        } else if text.contains("Int32") {
            "integer"
        } else if text.contains("Int64") {
            "bigint"
        } else {
            "value"
        };
        (
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("{ty} out of range"),
        )
    } else if lower.contains("too large to store in a decimal") {
        (
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "numeric field overflow".to_string(),
        )
    } else if lower.contains("overflow") {
        (SqlState::NUMERIC_VALUE_OUT_OF_RANGE, strip_prefixes(&text))
    } else if lower.contains("cannot cast")
        || lower.contains("cast error")
        || lower.contains("parser error")
        || lower.contains("error parsing")
    {
        (SqlState::INVALID_TEXT_REPRESENTATION, strip_prefixes(&text))
    } else if lower.contains("invalid function") || lower.contains("no function matches") {
        (SqlState::UNDEFINED_FUNCTION, strip_prefixes(&text))
    } else if matches!(e, DataFusionError::SQL(..)) {
        (SqlState::SYNTAX_ERROR, strip_prefixes(&text))
    } else if matches!(e, DataFusionError::NotImplemented(_)) && text.contains("OuterReference") {
        // A FROM item reading a column of another one that neither DataFusion's
        // decorrelation nor `eddy_sql::lateral` could turn into a join.
        (
            SqlState::FEATURE_NOT_SUPPORTED,
            "this FROM item reads columns of another FROM item (LATERAL) in a form Eddy cannot \
             run yet: a LEFT JOIN of a set-returning function, or a subquery that reads them \
             under LIMIT, ORDER BY or grouping"
                .to_string(),
        )
    } else if matches!(e, DataFusionError::NotImplemented(_)) {
        (SqlState::FEATURE_NOT_SUPPORTED, strip_prefixes(&text))
    } else if lower.contains("projection references non-aggregate")
        || lower.contains("must appear in the group by")
    {
        (SqlState::GROUPING_ERROR, strip_prefixes(&text))
    } else if matches!(
        e,
        DataFusionError::Plan(_) | DataFusionError::SchemaError(..)
    ) {
        (SqlState::SYNTAX_ERROR, strip_prefixes(&text))
    } else {
        (SqlState::INTERNAL_ERROR, strip_prefixes(&text))
    };
    Error::new(state, message).with_source(e)
}

fn strip_prefixes(text: &str) -> String {
    let mut t = text.trim();
    for p in [
        "Error during planning: ",
        "This feature is not implemented: ",
        "Arrow error: ",
        "Execution error: ",
        "Schema error: ",
        "SQL error: ",
        "Cast error: ",
        "Parser error: ",
        "Compute error: ",
        "Internal error: ",
        "External error: ",
        "Invalid argument error: ",
    ] {
        while let Some(rest) = t.strip_prefix(p) {
            t = rest;
        }
    }
    t.lines().next().unwrap_or(t).to_string()
}

fn table_not_found(text: &str) -> Option<String> {
    // "table 'eddy.public.foo' not found"
    let idx = text.find("table '")?;
    let rest = &text[idx + 7..];
    let end = rest.find('\'')?;
    if !rest[end..].starts_with("' not found") {
        return None;
    }
    let name = rest[..end].rsplit('.').next().unwrap_or(&rest[..end]);
    Some(format!("relation \"{name}\" does not exist"))
}

fn column_not_found(text: &str) -> Option<String> {
    // "No field named zz.", "No field named t.\"zz\". Did you mean ...", "No field named \"Zz\"."
    let idx = text.find("No field named ")?;
    let rest = &text[idx + 15..];
    let end = [". Did you mean", ". Valid fields", ".\n"]
        .iter()
        .filter_map(|p| rest.find(p))
        .min()
        .unwrap_or(rest.len());
    let name = rest[..end].trim().trim_end_matches('.');
    let last = if let Some(stripped) = name.strip_suffix('"') {
        let open = stripped.rfind('"')?;
        stripped[open + 1..].to_string()
    } else {
        name.rsplit('.').next().unwrap_or(name).to_string()
    };
    Some(format!("column \"{last}\" does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_common_datafusion_errors() {
        let e: Error = DataFusionError::Plan("table 'eddy.public.nope' not found".into()).into();
        assert_eq!(e.state, SqlState::UNDEFINED_TABLE);
        assert_eq!(e.message, "relation \"nope\" does not exist");
        let e: Error = DataFusionError::SchemaError(
            Box::new(datafusion::common::SchemaError::FieldNotFound {
                field: Box::new(datafusion::common::Column::from_name("zz")),
                valid_fields: vec![],
            }),
            Box::new(None),
        )
        .into();
        assert_eq!(e.state, SqlState::UNDEFINED_COLUMN, "{}", e.message);
        assert_eq!(e.message, "column \"zz\" does not exist");
        let e: Error = DataFusionError::ArrowError(
            Box::new(datafusion::arrow::error::ArrowError::DivideByZero),
            None,
        )
        .into();
        assert_eq!(e.state, SqlState::DIVISION_BY_ZERO);
    }
}
