//! DDL statements into catalog definitions.

use datafusion::sql::sqlparser::ast::{ColumnOption, CreateTable, TableConstraint};
use eddy_catalog::{ColumnDef, TableDef};
use eddy_common::{Error, PgType, Result, SqlState};

use crate::names;

/// `CREATE TABLE` into a table definition (its id is assigned by the catalog).
pub fn create_table(ct: &CreateTable, default_schema: &str) -> Result<TableDef> {
    if ct.query.is_some() {
        return Err(Error::unsupported("CREATE TABLE ... AS"));
    }
    if ct.temporary {
        return Err(Error::unsupported("CREATE TEMPORARY TABLE"));
    }
    let (schema, name) = names::relation(&ct.name, default_schema)?;
    let mut columns: Vec<ColumnDef> = vec![];
    let mut primary_key: Option<Vec<usize>> = None;
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
        let ty = column_type(&col.data_type.to_string())?;
        let mut def = ColumnDef {
            name: col_name.clone(),
            ty,
            not_null: false,
            default: None,
        };
        for opt in &col.options {
            match &opt.option {
                ColumnOption::Null => def.not_null = false,
                ColumnOption::NotNull => def.not_null = true,
                ColumnOption::Default(e) => def.default = Some(e.to_string()),
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
    Ok(TableDef {
        id: 0,
        schema,
        name,
        columns,
        primary_key,
    })
}

fn column_type(sql: &str) -> Result<PgType> {
    let lower = sql.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "serial" | "bigserial" | "smallserial" | "serial4" | "serial8"
    ) {
        return Err(Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("type {lower} is not supported yet"),
        )
        .with_hint("Use an integer column with an explicit key value."));
    }
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
            Statement::CreateTable(ct) => create_table(&ct, "public"),
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
