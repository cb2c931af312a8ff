//! DDL statements into catalog definitions.

use datafusion::sql::sqlparser::ast::{
    ColumnOption, CreateTable, CreateTableOptions, Expr, GeneratedAs, SequenceOptions, SqlOption,
    TableConstraint, UnaryOperator, Value,
};
use eddy_catalog::sequences::SequenceDef;
use eddy_catalog::{ColumnDef, History, TableDef};
use eddy_common::{Error, PgType, Result, SqlState};

use crate::names;

/// `CREATE TABLE` into a table definition (its id is assigned by the catalog), with the
/// sequences its `serial` and identity columns own.
pub fn create_table(
    ct: &CreateTable,
    default_schema: &str,
) -> Result<(TableDef, Vec<SequenceDef>)> {
    if ct.query.is_some() {
        return Err(Error::unsupported("CREATE TABLE ... AS"));
    }
    if ct.temporary {
        return Err(Error::unsupported("CREATE TEMPORARY TABLE"));
    }
    let (schema, name) = names::relation(&ct.name, default_schema)?;
    let mut columns: Vec<ColumnDef> = vec![];
    let mut primary_key: Option<Vec<usize>> = None;
    let mut sequences: Vec<SequenceDef> = vec![];
    let multiple_pk = || {
        Error::new(
            SqlState::INVALID_TABLE_DEFINITION,
            format!("multiple primary keys for table \"{name}\" are not allowed"),
        )
    };
    for col in &ct.columns {
        let col_name = names::ident(&col.name);
        if columns.iter().any(|c| c.name == col_name) {
            return Err(Error::new(
                SqlState::DUPLICATE_COLUMN,
                format!("column \"{col_name}\" specified more than once"),
            ));
        }
        let declared = col.data_type.to_string();
        let serial = serial_type(&declared);
        let ty = match &serial {
            Some(t) => t.clone(),
            None => column_type(&declared)?,
        };
        let mut def = ColumnDef {
            name: col_name.clone(),
            ty,
            not_null: serial.is_some(),
            default: None,
        };
        // `serial`: an integer column whose default takes the next value of a sequence that
        // the column owns, named as PostgreSQL names it.
        let seq_name = format!("{name}_{col_name}_seq");
        let seq_ref = if schema == default_schema {
            seq_name.clone()
        } else {
            format!("{schema}.{seq_name}")
        };
        if serial.is_some() {
            let mut seq = SequenceDef::new(&schema, &seq_name, def.ty.clone(), 1);
            seq.owned_by = Some((0, col_name.clone()));
            sequences.push(seq);
            def.default = Some(format!("nextval('{seq_ref}'::regclass)"));
        }
        for opt in &col.options {
            match &opt.option {
                ColumnOption::Null => def.not_null = false,
                ColumnOption::NotNull => def.not_null = true,
                ColumnOption::Default(_) if serial.is_some() => {
                    return Err(Error::new(
                        SqlState::SYNTAX_ERROR,
                        format!(
                            "multiple default values specified for column \"{col_name}\" of table \"{name}\""
                        ),
                    ));
                }
                ColumnOption::Default(e) => def.default = Some(e.to_string()),
                ColumnOption::Generated {
                    generated_as: kind @ (GeneratedAs::Always | GeneratedAs::ByDefault),
                    sequence_options,
                    generation_expr: None,
                    ..
                } => {
                    if !matches!(def.ty, PgType::Int2 | PgType::Int4 | PgType::Int8) {
                        return Err(Error::new(
                            SqlState::INVALID_PARAMETER_VALUE,
                            "identity column type must be smallint, integer, or bigint",
                        ));
                    }
                    let mut seq = sequence_def(
                        &schema,
                        &seq_name,
                        def.ty.clone(),
                        sequence_options.as_deref().unwrap_or_default(),
                    )?;
                    seq.owned_by = Some((0, col_name.clone()));
                    seq.identity = Some(if matches!(kind, GeneratedAs::Always) {
                        'a'
                    } else {
                        'd'
                    });
                    sequences.push(seq);
                    def.not_null = true;
                }
                ColumnOption::PrimaryKey(_) => {
                    if primary_key.is_some() {
                        return Err(multiple_pk());
                    }
                    primary_key = Some(vec![columns.len()]);
                }
                other => return Err(Error::unsupported(format!("column constraint {other}"))),
            }
        }
        columns.push(def);
    }
    if columns.is_empty() {
        return Err(Error::unsupported("a table without columns"));
    }
    for c in &ct.constraints {
        match c {
            TableConstraint::PrimaryKey(pk) => {
                if primary_key.is_some() {
                    return Err(multiple_pk());
                }
                let mut idx = vec![];
                for ic in &pk.columns {
                    let cname = match &ic.column.expr {
                        datafusion::sql::sqlparser::ast::Expr::Identifier(id) => names::ident(id),
                        other => return Err(Error::unsupported(format!("primary key on {other}"))),
                    };
                    let i = columns
                        .iter()
                        .position(|c| c.name == cname)
                        .ok_or_else(|| {
                            Error::new(
                                SqlState::UNDEFINED_COLUMN,
                                format!("column \"{cname}\" named in key does not exist"),
                            )
                        })?;
                    idx.push(i);
                }
                primary_key = Some(idx);
            }
            other => return Err(Error::unsupported(format!("table constraint {other}"))),
        }
    }
    let primary_key = primary_key.unwrap_or_default();
    for &i in &primary_key {
        columns[i].not_null = true;
    }
    let history = match &ct.table_options {
        CreateTableOptions::With(options) => retain_history(options)?.flatten(),
        _ => None,
    };
    Ok((
        TableDef {
            id: 0,
            schema,
            name,
            columns,
            primary_key,
            // The catalog sets the start epoch when it creates the table.
            history: history.map(|retention_secs| History {
                retention_secs,
                since_epoch: 0,
            }),
        },
        sequences,
    ))
}

/// `retain_history` among a table's `WITH (...)` or `SET (...)` options, in whole seconds
/// (rounded up), `Some(None)` for a zero duration (keep no history); `None` if not named.
/// Other options (PostgreSQL's storage parameters) are left to the caller.
pub fn retain_history(options: &[SqlOption]) -> Result<Option<Option<u64>>> {
    for o in options {
        let SqlOption::KeyValue { key, value } = o else {
            continue;
        };
        if names::ident(key) != "retain_history" {
            continue;
        }
        let text = match value {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) | Value::Number(s, _) => s.clone(),
                Value::Boolean(false) => "0".into(),
                other => other.to_string(),
            },
            other => other.to_string(),
        };
        let secs = crate::subscribe::parse_duration(&text)?
            .as_secs_f64()
            .ceil() as u64;
        return Ok(Some((secs > 0).then_some(secs)));
    }
    Ok(None)
}

/// The column type a `serial` pseudo-type stands for.
fn serial_type(sql: &str) -> Option<PgType> {
    match sql.to_ascii_lowercase().as_str() {
        "serial" | "serial4" => Some(PgType::Int4),
        "bigserial" | "serial8" => Some(PgType::Int8),
        "smallserial" | "serial2" => Some(PgType::Int2),
        _ => None,
    }
}

/// A sequence from `CREATE SEQUENCE`'s or an identity column's options, with PostgreSQL's
/// defaults for what they leave out (which depend on the type and the increment's sign).
pub fn sequence_def(
    schema: &str,
    name: &str,
    ty: PgType,
    options: &[SequenceOptions],
) -> Result<SequenceDef> {
    let mut increment = 1;
    for o in options {
        if let SequenceOptions::IncrementBy(e, _) = o {
            increment = option_int(e)?;
        }
    }
    if increment == 0 {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "INCREMENT must not be zero",
        ));
    }
    let mut seq = SequenceDef::new(schema, name, ty, increment);
    let mut start = None;
    for o in options {
        match o {
            SequenceOptions::MinValue(Some(e)) => seq.min = option_int(e)?,
            SequenceOptions::MaxValue(Some(e)) => seq.max = option_int(e)?,
            SequenceOptions::StartWith(e, _) => start = Some(option_int(e)?),
            SequenceOptions::Cycle(no_cycle) => seq.cycle = !no_cycle,
            SequenceOptions::Cache(e) => {
                option_int(e)?;
            }
            SequenceOptions::IncrementBy(..)
            | SequenceOptions::MinValue(None)
            | SequenceOptions::MaxValue(None) => {}
        }
    }
    seq.start = start.unwrap_or(if increment > 0 { seq.min } else { seq.max });
    seq.validate()?;
    Ok(seq)
}

/// The type a sequence's values have: `AS smallint|integer|bigint`, bigint by default.
pub fn sequence_type(sql: Option<&str>) -> Result<PgType> {
    match sql.map(PgType::parse).transpose()? {
        None => Ok(PgType::Int8),
        Some(t @ (PgType::Int2 | PgType::Int4 | PgType::Int8)) => Ok(t),
        Some(_) => Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "sequence type must be smallint, integer, or bigint",
        )),
    }
}

fn option_int(e: &Expr) -> Result<i64> {
    let bad = || {
        Error::new(
            SqlState::SYNTAX_ERROR,
            format!("invalid sequence option value {e}"),
        )
    };
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse::<i64>().map_err(|_| bad()),
            _ => Err(bad()),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => option_int(expr)?.checked_neg().ok_or_else(bad),
        Expr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => option_int(expr),
        _ => Err(bad()),
    }
}

fn column_type(sql: &str) -> Result<PgType> {
    match PgType::parse(sql)? {
        // The system catalog's own types: readable there, not stored in tables.
        t @ PgType::Vector(_) => Err(Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("columns of type {t} are not supported"),
        )),
        t => Ok(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_statements;
    use datafusion::sql::sqlparser::ast::Statement;

    fn ct(sql: &str) -> Result<TableDef> {
        match parse_statements(sql).unwrap().remove(0) {
            Statement::CreateTable(ct) => create_table(&ct, "public").map(|(t, _)| t),
            _ => unreachable!(),
        }
    }

    #[test]
    fn create_table_maps_types_keys_and_defaults() {
        let t = ct(
            "CREATE TABLE s.T (id int PRIMARY KEY, \"Name\" varchar(5) NOT NULL, \
                    n numeric(10,2) DEFAULT 1.5, tags text[])",
        )
        .unwrap();
        assert_eq!((t.schema.as_str(), t.name.as_str()), ("s", "t"));
        assert_eq!(t.primary_key, vec![0]);
        assert!(t.columns[0].not_null);
        assert_eq!(t.columns[1].name, "Name");
        assert_eq!(t.columns[1].ty, PgType::Varchar(Some(5)));
        assert_eq!(t.columns[2].default.as_deref(), Some("1.5"));
        assert_eq!(t.columns[3].ty, PgType::Array(Box::new(PgType::Text)));
        let e = ct("CREATE TABLE t (a int PRIMARY KEY, b int, PRIMARY KEY (b))").unwrap_err();
        assert_eq!(e.state, SqlState::INVALID_TABLE_DEFINITION);
        let e = ct("CREATE TABLE t (a int, a int)").unwrap_err();
        assert_eq!(e.state, SqlState::DUPLICATE_COLUMN);
    }
}
