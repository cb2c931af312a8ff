//! The functions clients call to read the system catalog (`pg_get_userbyid`, `format_type`,
//! `pg_table_is_visible`, `pg_get_indexdef`, the `::regclass` family, ...). They read the
//! catalog as it is when they run, like the system tables.
//!
//! They are evaluated row by row: they run over catalog rows, a few hundred at most.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use eddy_common::{Error, SqlState};

use super::model::{Model, SUPERUSER_NAME, SUPERUSER_OID, quote_ident};
use super::{pg_catalog, pg_proc, types};
use crate::catalog::Catalog;

type Body = fn(&Model, &[ScalarValue]) -> std::result::Result<ScalarValue, Error>;
/// The result type of a catalog function, given its argument types.
type ReturnType = fn(&[DataType]) -> DataType;

struct CatalogFn {
    name: &'static str,
    signature: Signature,
    ret: ReturnType,
    body: Body,
    catalog: Arc<Catalog>,
}

impl std::fmt::Debug for CatalogFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CatalogFn({})", self.name)
    }
}

impl PartialEq for CatalogFn {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for CatalogFn {}

impl Hash for CatalogFn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}

impl ScalarUDFImpl for CatalogFn {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok((self.ret)(arg_types))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let model = Model::new(&self.catalog);
        let rows = args.number_rows;
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let want = args.return_field.data_type().clone();
        let eval = |vals: &[ScalarValue]| -> Result<ScalarValue> {
            let v =
                (self.body)(&model, vals).map_err(|e| DataFusionError::External(Box::new(e)))?;
            if v.is_null() {
                return ScalarValue::try_from(&want);
            }
            if v.data_type() == want {
                Ok(v)
            } else {
                v.cast_to(&want)
            }
        };
        if all_scalar {
            let vals: Vec<ScalarValue> = args
                .args
                .iter()
                .map(|a| match a {
                    ColumnarValue::Scalar(s) => s.clone(),
                    ColumnarValue::Array(_) => unreachable!(),
                })
                .collect();
            return Ok(ColumnarValue::Scalar(eval(&vals)?));
        }
        if rows == 0 {
            return Ok(ColumnarValue::Array(
                datafusion::arrow::array::new_empty_array(&want),
            ));
        }
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut out = Vec::with_capacity(rows);
        for i in 0..rows {
            let vals: Vec<ScalarValue> = arrays
                .iter()
                .map(|a| ScalarValue::try_from_array(a, i))
                .collect::<Result<_>>()?;
            out.push(eval(&vals)?);
        }
        Ok(ColumnarValue::Array(ScalarValue::iter_to_array(out)?))
    }
}

fn text(_: &[DataType]) -> DataType {
    DataType::Utf8
}

fn text_list(_: &[DataType]) -> DataType {
    DataType::List(Arc::new(datafusion::arrow::datatypes::Field::new(
        "item",
        DataType::Utf8,
        true,
    )))
}

fn boolean(_: &[DataType]) -> DataType {
    DataType::Boolean
}

fn oid(_: &[DataType]) -> DataType {
    DataType::UInt32
}

fn int8(_: &[DataType]) -> DataType {
    DataType::Int64
}

/// `x::regclass` and friends: a name gives the object's oid, an oid gives its name.
fn oid_or_text(args: &[DataType]) -> DataType {
    match args.first() {
        Some(DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null) => {
            DataType::UInt32
        }
        _ => DataType::Utf8,
    }
}

/// An argument as an oid: integers and digit strings (`'16384'`) both count.
fn arg_oid(args: &[ScalarValue], i: usize) -> Option<u32> {
    match args.get(i)? {
        v if v.is_null() => None,
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.trim().parse().ok(),
        v => match v.cast_to(&DataType::Int64).ok()? {
            ScalarValue::Int64(Some(n)) => u32::try_from(n).ok(),
            _ => None,
        },
    }
}

fn arg_text(args: &[ScalarValue], i: usize) -> Option<String> {
    match args.get(i)? {
        v if v.is_null() => None,
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Some(s.clone()),
        v => Some(v.to_string()),
    }
}

fn arg_int(args: &[ScalarValue], i: usize) -> Option<i64> {
    match args.get(i)?.cast_to(&DataType::Int64).ok()? {
        ScalarValue::Int64(n) => n,
        _ => None,
    }
}

fn some_text(s: impl Into<String>) -> ScalarValue {
    ScalarValue::Utf8(Some(s.into()))
}

const NULL: ScalarValue = ScalarValue::Null;

/// Splits `schema.name` (each part possibly quoted) as PostgreSQL reads a `regclass` literal.
fn qualified_name(s: &str) -> (Option<String>, String) {
    let mut parts = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut cur)),
            c if quoted => cur.push(c),
            c => cur.push(c.to_ascii_lowercase()),
        }
    }
    parts.push(cur);
    let name = parts.pop().unwrap_or_default();
    (parts.pop(), name)
}

fn regclass(m: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    if let Some(ScalarValue::Utf8(Some(s))) = args.first() {
        if let Ok(n) = s.trim().parse::<u32>() {
            return Ok(ScalarValue::UInt32(Some(n)));
        }
        let (schema, name) = qualified_name(s);
        return match m.rel_by_name(schema.as_deref(), &name) {
            Some(r) => Ok(ScalarValue::UInt32(Some(r.oid))),
            None => Err(Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{}\" does not exist", s.trim()),
            )),
        };
    }
    Ok(match arg_oid(args, 0) {
        None => NULL,
        Some(o) => match m.rel(o) {
            Some(r) => some_text(m.regclass_text(r)),
            None => some_text(o.to_string()),
        },
    })
}

/// `x::regclass::text` and the like: the object's name, whether `x` is its name or its oid.
macro_rules! name_of {
    ($name:ident, $lookup:ident) => {
        fn $name(m: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
            match $lookup(m, args)? {
                oid @ ScalarValue::UInt32(_) => $lookup(m, &[oid]),
                name => Ok(name),
            }
        }
    };
}

name_of!(regclass_name, regclass);
name_of!(regtype_name, regtype);
name_of!(regnamespace_name, regnamespace);
name_of!(regrole_name, regrole);

fn to_regclass(m: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    let Some(s) = arg_text(args, 0) else {
        return Ok(NULL);
    };
    let (schema, name) = qualified_name(&s);
    Ok(match m.rel_by_name(schema.as_deref(), &name) {
        Some(r) => ScalarValue::UInt32(Some(r.oid)),
        None => NULL,
    })
}

fn regtype(_: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    if let Some(ScalarValue::Utf8(Some(s))) = args.first() {
        let s = s.trim();
        let s = s.strip_prefix("pg_catalog.").unwrap_or(s);
        let found = types::all()
            .iter()
            .find(|t| t.name == s || t.sql_name == s)
            .map(|t| t.oid)
            .or_else(|| eddy_common::PgType::parse(s).ok().map(|t| t.oid()));
        return match found {
            Some(o) => Ok(ScalarValue::UInt32(Some(o))),
            None => Err(Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!("type \"{s}\" does not exist"),
            )),
        };
    }
    Ok(match arg_oid(args, 0) {
        None => NULL,
        Some(o) => some_text(types::format_type(o, None).unwrap_or_else(|| o.to_string())),
    })
}

/// `oids::regtype[]::text[]`: each type's name.
fn regtype_names(_: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    use datafusion::arrow::array::Array;
    let Some(ScalarValue::List(l)) = args.first() else {
        return Ok(ScalarValue::List(ScalarValue::new_list(
            &[],
            &DataType::Utf8,
            true,
        )));
    };
    if l.is_null(0) {
        return Ok(ScalarValue::try_from(&text_list(&[]))?);
    }
    let oids = datafusion::arrow::compute::cast(&l.value(0), &DataType::UInt32)?;
    let oids = datafusion::common::cast::as_uint32_array(&oids)?;
    let names: Vec<ScalarValue> = oids
        .iter()
        .map(|o| {
            ScalarValue::Utf8(
                o.map(|o| types::format_type(o, None).unwrap_or_else(|| o.to_string())),
            )
        })
        .collect();
    Ok(ScalarValue::List(ScalarValue::new_list(
        &names,
        &DataType::Utf8,
        true,
    )))
}

fn regnamespace(m: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    if let Some(ScalarValue::Utf8(Some(s))) = args.first() {
        let (_, name) = qualified_name(s);
        return match m.namespace_oid(&name) {
            Some(o) => Ok(ScalarValue::UInt32(Some(o))),
            None => Err(Error::new(
                SqlState::INVALID_SCHEMA_NAME,
                format!("schema \"{name}\" does not exist"),
            )),
        };
    }
    Ok(match arg_oid(args, 0) {
        None => NULL,
        Some(o) => some_text(
            m.namespace(o)
                .map(quote_ident)
                .unwrap_or_else(|| o.to_string()),
        ),
    })
}

fn regrole(_: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    if let Some(ScalarValue::Utf8(Some(s))) = args.first() {
        return match s.trim() {
            SUPERUSER_NAME => Ok(ScalarValue::UInt32(Some(SUPERUSER_OID))),
            other => Err(Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!("role \"{other}\" does not exist"),
            )),
        };
    }
    Ok(match arg_oid(args, 0) {
        None => NULL,
        Some(SUPERUSER_OID) => some_text(SUPERUSER_NAME),
        Some(o) => some_text(o.to_string()),
    })
}

fn userbyid(_: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    Ok(match arg_oid(args, 0) {
        None => NULL,
        Some(SUPERUSER_OID) => some_text(SUPERUSER_NAME),
        Some(super::oids::DATABASE_OWNER_ROLE) => some_text("pg_database_owner"),
        Some(o) => some_text(format!("unknown (OID={o})")),
    })
}

fn table_is_visible(m: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    Ok(match arg_oid(args, 0) {
        None => NULL,
        Some(o) => match m.rel(o) {
            Some(r) => ScalarValue::Boolean(Some(m.visible(r))),
            None => NULL,
        },
    })
}

/// `pg_get_serial_sequence(table, column)`: the sequence a serial or identity column owns,
/// schema-qualified.
fn serial_sequence(m: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    let (Some(table), Some(column)) = (arg_text(args, 0), arg_text(args, 1)) else {
        return Ok(NULL);
    };
    let (schema, name) = qualified_name(&table);
    let Some(rel) = m.rel_by_name(schema.as_deref(), &name) else {
        return Err(Error::new(
            SqlState::UNDEFINED_TABLE,
            format!("relation \"{table}\" does not exist"),
        ));
    };
    let column = column.trim_matches('"').to_string();
    if !rel.columns.iter().any(|c| c.name == column) {
        return Err(Error::new(
            SqlState::UNDEFINED_COLUMN,
            format!(
                "column \"{column}\" of relation \"{}\" does not exist",
                rel.name
            ),
        ));
    }
    Ok(m.sequences
        .iter()
        .map(|(s, ..)| s)
        .find(|s| {
            s.owned_by
                .as_ref()
                .is_some_and(|(t, c)| *t == rel.oid && *c == column)
        })
        .map_or(NULL, |s| {
            some_text(format!(
                "{}.{}",
                quote_ident(&s.schema),
                quote_ident(&s.name)
            ))
        }))
}

fn always_true(_: &Model, _: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    Ok(ScalarValue::Boolean(Some(true)))
}

/// `obj_description(oid [, catalog])`.
fn obj_description(m: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    let Some(oid) = arg_oid(args, 0) else {
        return Ok(NULL);
    };
    let class = match arg_text(args, 1) {
        Some(catalog) => match m.rel_oid(super::PG_CATALOG, &catalog) {
            Some(c) => Some(c),
            None => return Ok(NULL),
        },
        None => None,
    };
    Ok(m.descriptions()
        .into_iter()
        .find(|d| d.objoid == oid && d.objsubid == 0 && class.is_none_or(|k| k == d.classoid))
        .map_or(NULL, |d| some_text(d.text)))
}

/// `col_description(table oid, column number)`.
fn col_description(m: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    let (Some(oid), Some(n)) = (arg_oid(args, 0), arg_int(args, 1)) else {
        return Ok(NULL);
    };
    Ok(m.descriptions()
        .into_iter()
        .find(|d| d.objoid == oid && i64::from(d.objsubid) == n && n > 0)
        .map_or(NULL, |d| some_text(d.text)))
}

fn always_null(_: &Model, _: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    Ok(NULL)
}

fn zero(_: &Model, _: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    Ok(ScalarValue::Int64(Some(0)))
}

fn format_type(_: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    Ok(match arg_oid(args, 0) {
        None => NULL,
        Some(o) => {
            some_text(types::format_type(o, arg_int(args, 1)).unwrap_or_else(|| "???".into()))
        }
    })
}

/// Expressions are kept as SQL text, so the text is its own deparsed form.
fn get_expr(_: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    Ok(arg_text(args, 0).map(some_text).unwrap_or(NULL))
}

fn get_indexdef(m: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    let Some(ix) = arg_oid(args, 0).and_then(|o| m.rel(o)) else {
        return Ok(NULL);
    };
    let Some(table) = ix.table.and_then(|t| m.rel(t)) else {
        return Ok(NULL);
    };
    Ok(match arg_int(args, 1).unwrap_or(0) {
        0 => some_text(pg_catalog::index_definition(ix, table)),
        n => match ix.columns.get(n as usize - 1) {
            Some(c) => some_text(quote_ident(&c.name)),
            None => NULL,
        },
    })
}

fn get_constraintdef(m: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    let Some(o) = arg_oid(args, 0) else {
        return Ok(NULL);
    };
    let table = m
        .rels
        .iter()
        .find(|r| r.kind == 'r' && super::oids::pkey_constraint(r.oid) == o);
    Ok(match table {
        Some(t) => {
            let cols: Vec<String> = t
                .key
                .iter()
                .map(|a| quote_ident(&t.columns[*a as usize - 1].name))
                .collect();
            some_text(format!("PRIMARY KEY ({})", cols.join(", ")))
        }
        None => NULL,
    })
}

fn get_viewdef(m: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    let rel = match args.first() {
        Some(ScalarValue::Utf8(Some(s))) if s.trim().parse::<u32>().is_err() => {
            let (schema, name) = qualified_name(s);
            m.rel_by_name(schema.as_deref(), &name)
        }
        _ => arg_oid(args, 0).and_then(|o| m.rel(o)),
    };
    Ok(match rel.and_then(|r| r.definition.clone()) {
        Some(d) => some_text(d),
        None => NULL,
    })
}

/// `pg_get_function_result(oid)` and its two siblings: PostgreSQL's own text for the
/// functions `pg_proc` lists.
fn function_text(
    args: &[ScalarValue],
    part: fn(&pg_proc::Proc) -> &'static str,
) -> std::result::Result<ScalarValue, Error> {
    Ok(match arg_oid(args, 0).and_then(pg_proc::by_oid) {
        Some(p) => some_text(part(p)),
        None => NULL,
    })
}

fn function_result(_: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    function_text(args, |p| p.result)
}

fn function_arguments(_: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    function_text(args, |p| p.arguments)
}

fn function_identity_arguments(
    _: &Model,
    args: &[ScalarValue],
) -> std::result::Result<ScalarValue, Error> {
    function_text(args, |p| p.identity_arguments)
}

fn encoding_to_char(_: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    Ok(match arg_int(args, 0) {
        None => NULL,
        Some(6) => some_text("UTF8"),
        Some(_) => some_text(""),
    })
}

fn relation_is_publishable(
    m: &Model,
    args: &[ScalarValue],
) -> std::result::Result<ScalarValue, Error> {
    Ok(match arg_oid(args, 0).and_then(|o| m.rel(o)) {
        Some(r) => ScalarValue::Boolean(Some(r.kind == 'r' && !r.system)),
        None => NULL,
    })
}

fn size_pretty(_: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    Ok(match arg_int(args, 0) {
        None => NULL,
        Some(n) => some_text(pretty_size(n)),
    })
}

/// PostgreSQL's `pg_size_pretty(bigint)`: bytes below 10 kB, then each unit below 20 of the
/// next, rounded half away from zero.
fn pretty_size(size: i64) -> String {
    const LIMIT: i64 = 10 * 1024;
    const LIMIT2: i64 = LIMIT * 2 - 1;
    let half_rounded = |x: i64| (x + if x < 0 { -1 } else { 1 }) / 2;
    if size.abs() < LIMIT {
        return format!("{size} bytes");
    }
    let mut size = size >> 9;
    for unit in ["kB", "MB", "GB", "TB"] {
        if size.abs() < LIMIT2 {
            return format!("{} {unit}", half_rounded(size));
        }
        size >>= 10;
    }
    format!("{} PB", half_rounded(size))
}

fn quote_ident_fn(_: &Model, args: &[ScalarValue]) -> std::result::Result<ScalarValue, Error> {
    Ok(arg_text(args, 0)
        .map(|s| some_text(quote_ident(&s)))
        .unwrap_or(NULL))
}

/// Registers the catalog functions on a session.
pub fn register(ctx: &SessionContext, catalog: Arc<Catalog>) {
    let any = || Signature::variadic_any(Volatility::Stable);
    let fns: Vec<(&'static str, ReturnType, Body)> = vec![
        ("eddy_regclass", oid_or_text, regclass),
        ("eddy_regtype", oid_or_text, regtype),
        ("eddy_regnamespace", oid_or_text, regnamespace),
        ("eddy_regrole", oid_or_text, regrole),
        ("eddy_regclass_name", text, regclass_name),
        ("eddy_regtype_name", text, regtype_name),
        ("eddy_regtype_names", text_list, regtype_names),
        ("eddy_regnamespace_name", text, regnamespace_name),
        ("eddy_regrole_name", text, regrole_name),
        ("to_regclass", oid, to_regclass),
        ("pg_get_userbyid", text, userbyid),
        ("pg_table_is_visible", boolean, table_is_visible),
        ("pg_type_is_visible", boolean, always_true),
        ("pg_function_is_visible", boolean, always_true),
        ("pg_collation_is_visible", boolean, always_true),
        ("pg_get_serial_sequence", text, serial_sequence),
        ("format_type", text, format_type),
        ("pg_get_expr", text, get_expr),
        ("pg_get_indexdef", text, get_indexdef),
        ("pg_get_constraintdef", text, get_constraintdef),
        ("pg_get_viewdef", text, get_viewdef),
        ("pg_get_statisticsobjdef_columns", text, always_null),
        ("pg_get_function_result", text, function_result),
        ("pg_get_function_arguments", text, function_arguments),
        (
            "pg_get_function_identity_arguments",
            text,
            function_identity_arguments,
        ),
        ("pg_get_ruledef", text, always_null),
        // Only functions written in SQL with a body have one; Eddy lists none.
        ("pg_get_function_sqlbody", text, always_null),
        ("pg_get_triggerdef", text, always_null),
        // COMMENT ON texts, and PostgreSQL's own descriptions of its schemas.
        ("obj_description", text, obj_description),
        ("col_description", text, col_description),
        ("shobj_description", text, always_null),
        ("pg_encoding_to_char", text, encoding_to_char),
        (
            "pg_relation_is_publishable",
            boolean,
            relation_is_publishable,
        ),
        ("pg_size_pretty", text, size_pretty),
        // Sizes are not tracked per relation (RocksDB shares its files between them).
        ("pg_table_size", int8, zero),
        ("pg_relation_size", int8, zero),
        ("pg_total_relation_size", int8, zero),
        ("pg_indexes_size", int8, zero),
        ("pg_database_size", int8, zero),
        ("quote_ident", text, quote_ident_fn),
        // One role, the superuser, holds every privilege.
        ("has_table_privilege", boolean, always_true),
        ("has_schema_privilege", boolean, always_true),
        ("has_database_privilege", boolean, always_true),
        ("has_column_privilege", boolean, always_true),
        ("has_any_column_privilege", boolean, always_true),
        ("has_function_privilege", boolean, always_true),
        ("has_sequence_privilege", boolean, always_true),
        ("has_type_privilege", boolean, always_true),
        ("has_language_privilege", boolean, always_true),
        ("has_tablespace_privilege", boolean, always_true),
        ("has_foreign_data_wrapper_privilege", boolean, always_true),
        ("has_server_privilege", boolean, always_true),
        ("pg_has_role", boolean, always_true),
    ];
    for (name, ret, body) in fns {
        ctx.register_udf(ScalarUDF::new_from_impl(CatalogFn {
            name,
            signature: any(),
            ret,
            body,
            catalog: catalog.clone(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_like_postgres() {
        assert_eq!(pretty_size(0), "0 bytes");
        assert_eq!(pretty_size(10239), "10239 bytes");
        assert_eq!(pretty_size(10240), "10 kB");
        assert_eq!(pretty_size(1_000_000), "977 kB");
        assert_eq!(pretty_size(123_456_789), "118 MB");
    }

    #[test]
    fn regclass_names_split_like_postgres() {
        assert_eq!(qualified_name("Foo"), (None, "foo".into()));
        assert_eq!(
            qualified_name("s.\"Foo.Bar\""),
            (Some("s".into()), "Foo.Bar".into())
        );
    }
}
