//! The rows of the SQL-standard `information_schema` views that describe objects Eddy has.
//! As in PostgreSQL, materialized views are not in `tables` or `columns` (the standard has no
//! such thing); the others with nothing to show are empty.

use eddy_common::PgType;

use super::model::{Model, Rel, SUPERUSER_NAME};
use super::{Row, V, t};
use crate::DATABASE_NAME;

fn yes(b: bool) -> V {
    t(if b { "YES" } else { "NO" })
}

pub(crate) fn rows(table: &str, m: &Model) -> Vec<Row> {
    let db = || t(DATABASE_NAME);
    let tables = || m.rels.iter().filter(|r| matches!(r.kind, 'r' | 'v'));
    let user_tables = || m.rels.iter().filter(|r| r.kind == 'r' && !r.system);
    match table {
        "information_schema_catalog_name" => vec![vec![("catalog_name", db())]],
        "schemata" => m
            .namespaces
            .iter()
            .map(|(_, name)| {
                vec![
                    ("catalog_name", db()),
                    ("schema_name", t(name)),
                    ("schema_owner", t(SUPERUSER_NAME)),
                ]
            })
            .collect(),
        "tables" => tables()
            .map(|r| {
                vec![
                    ("table_catalog", db()),
                    ("table_schema", t(&r.schema)),
                    ("table_name", t(&r.name)),
                    (
                        "table_type",
                        t(if r.kind == 'r' { "BASE TABLE" } else { "VIEW" }),
                    ),
                    ("is_insertable_into", yes(r.kind == 'r')),
                    ("is_typed", yes(false)),
                ]
            })
            .collect(),
        "views" => m
            .rels
            .iter()
            .filter(|r| r.kind == 'v')
            .map(|r| {
                vec![
                    ("table_catalog", db()),
                    ("table_schema", t(&r.schema)),
                    ("table_name", t(&r.name)),
                    (
                        "view_definition",
                        r.definition.clone().map(V::T).unwrap_or(V::Null),
                    ),
                    ("check_option", t("NONE")),
                    ("is_updatable", yes(false)),
                    ("is_insertable_into", yes(false)),
                    ("is_trigger_updatable", yes(false)),
                    ("is_trigger_deletable", yes(false)),
                    ("is_trigger_insertable_into", yes(false)),
                ]
            })
            .collect(),
        "columns" => tables().flat_map(|r| column_rows(r, m)).collect(),
        "sequences" => m
            .sequences
            .iter()
            .map(|(s, ..)| {
                let bits = match s.ty {
                    PgType::Int2 => 16,
                    PgType::Int4 => 32,
                    _ => 64,
                };
                vec![
                    ("sequence_catalog", db()),
                    ("sequence_schema", t(&s.schema)),
                    ("sequence_name", t(&s.name)),
                    ("data_type", t(s.ty.name())),
                    ("numeric_precision", V::I(bits)),
                    ("numeric_precision_radix", V::I(2)),
                    ("numeric_scale", V::I(0)),
                    ("start_value", t(s.start.to_string())),
                    ("minimum_value", t(s.min.to_string())),
                    ("maximum_value", t(s.max.to_string())),
                    ("increment", t(s.increment.to_string())),
                    ("cycle_option", yes(s.cycle)),
                ]
            })
            .collect(),
        "table_constraints" => user_tables()
            .flat_map(|r| {
                let mut out = vec![];
                if !r.key.is_empty() {
                    out.push(constraint_row(r, &r.pkey_name(), "PRIMARY KEY"));
                }
                for (i, c) in r.columns.iter().enumerate() {
                    if c.not_null {
                        out.push(constraint_row(r, &not_null_name(r, i), "CHECK"));
                    }
                }
                out
            })
            .collect(),
        "check_constraints" => user_tables()
            .flat_map(|r| {
                r.columns
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.not_null)
                    .map(|(i, c)| {
                        vec![
                            ("constraint_catalog", db()),
                            ("constraint_schema", t(&r.schema)),
                            ("constraint_name", t(not_null_name(r, i))),
                            (
                                "check_clause",
                                t(format!(
                                    "{} IS NOT NULL",
                                    super::model::quote_ident(&c.name)
                                )),
                            ),
                        ]
                    })
            })
            .collect(),
        "key_column_usage" => user_tables()
            .flat_map(|r| {
                r.key.iter().enumerate().map(|(pos, attnum)| {
                    vec![
                        ("constraint_catalog", db()),
                        ("constraint_schema", t(&r.schema)),
                        ("constraint_name", t(r.pkey_name())),
                        ("table_catalog", db()),
                        ("table_schema", t(&r.schema)),
                        ("table_name", t(&r.name)),
                        ("column_name", t(&r.columns[*attnum as usize - 1].name)),
                        ("ordinal_position", V::I(pos as i64 + 1)),
                    ]
                })
            })
            .collect(),
        "constraint_column_usage" => user_tables()
            .flat_map(|r| {
                r.key.iter().map(|attnum| {
                    vec![
                        ("table_catalog", db()),
                        ("table_schema", t(&r.schema)),
                        ("table_name", t(&r.name)),
                        ("column_name", t(&r.columns[*attnum as usize - 1].name)),
                        ("constraint_catalog", db()),
                        ("constraint_schema", t(&r.schema)),
                        ("constraint_name", t(r.pkey_name())),
                    ]
                })
            })
            .collect(),
        "enabled_roles" => vec![vec![("role_name", t(SUPERUSER_NAME))]],
        "applicable_roles" => vec![],
        "character_sets" => vec![vec![
            ("character_set_name", t("UTF8")),
            ("character_repertoire", t("UCS")),
            ("form_of_use", t("UTF8")),
            ("default_collate_catalog", db()),
            ("default_collate_schema", t("pg_catalog")),
            ("default_collate_name", t("C")),
        ]],
        _ => vec![],
    }
}

/// The name PostgreSQL 15 gives the CHECK a NOT NULL column shows as in information_schema.
fn not_null_name(r: &Rel, i: usize) -> String {
    format!("{}_{}_{}_not_null", r.nsp, r.oid, i + 1)
}

fn constraint_row(r: &Rel, name: &str, kind: &str) -> Row {
    vec![
        ("constraint_catalog", t(DATABASE_NAME)),
        ("constraint_schema", t(&r.schema)),
        ("constraint_name", t(name)),
        ("table_catalog", t(DATABASE_NAME)),
        ("table_schema", t(&r.schema)),
        ("table_name", t(&r.name)),
        ("constraint_type", t(kind)),
        ("is_deferrable", yes(false)),
        ("initially_deferred", yes(false)),
        ("enforced", yes(true)),
        (
            "nulls_distinct",
            if kind == "CHECK" { V::Null } else { yes(true) },
        ),
    ]
}

fn column_rows(r: &Rel, m: &Model) -> Vec<Row> {
    r.columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let elem = match &c.ty {
                PgType::Array(e) | PgType::Vector(e) => Some(e.as_ref()),
                _ => None,
            };
            let data_type = match (&c.ty, elem) {
                (_, Some(_)) => "ARRAY".to_string(),
                (PgType::Numeric(_), _) => "numeric".into(),
                (PgType::Varchar(_), _) => "character varying".into(),
                (ty, _) => ty.name(),
            };
            let udt = super::types::by_oid(c.ty.oid())
                .map(|ti| ti.name)
                .unwrap_or_default();
            let mut row = vec![
                ("table_catalog", t(DATABASE_NAME)),
                ("table_schema", t(&r.schema)),
                ("table_name", t(&r.name)),
                ("column_name", t(&c.name)),
                ("ordinal_position", V::I(i as i64 + 1)),
                (
                    "column_default",
                    c.default
                        .as_deref()
                        .map(|d| t(super::pg_catalog::default_expression(d, &c.ty)))
                        .unwrap_or(V::Null),
                ),
                ("is_nullable", yes(!c.not_null)),
                ("data_type", t(data_type)),
                ("udt_catalog", t(DATABASE_NAME)),
                ("udt_schema", t("pg_catalog")),
                ("udt_name", t(udt)),
                ("dtd_identifier", t((i + 1).to_string())),
                ("is_self_referencing", yes(false)),
                ("is_identity", yes(m.identity(r.oid, &c.name).is_some())),
                (
                    "identity_cycle",
                    yes(m.identity(r.oid, &c.name).is_some_and(|s| s.cycle)),
                ),
                ("is_generated", t("NEVER")),
                ("is_updatable", yes(r.kind == 'r')),
            ];
            if let Some(s) = m.identity(r.oid, &c.name) {
                let always = s.identity == Some('a');
                row.push((
                    "identity_generation",
                    t(if always { "ALWAYS" } else { "BY DEFAULT" }),
                ));
                row.push(("identity_start", t(s.start.to_string())));
                row.push(("identity_increment", t(s.increment.to_string())));
                row.push(("identity_maximum", t(s.max.to_string())));
                row.push(("identity_minimum", t(s.min.to_string())));
            }
            match &c.ty {
                PgType::Varchar(n) => {
                    if let Some(n) = n {
                        row.push(("character_maximum_length", V::I(*n as i64)));
                        row.push(("character_octet_length", V::I(*n as i64 * 4)));
                    } else {
                        row.push(("character_octet_length", V::I(1_073_741_824)));
                    }
                }
                PgType::Text => row.push(("character_octet_length", V::I(1_073_741_824))),
                PgType::Int2 | PgType::Int4 | PgType::Int8 | PgType::Float4 | PgType::Float8 => {
                    let p = match c.ty {
                        PgType::Int2 => 16,
                        PgType::Int4 => 32,
                        PgType::Int8 => 64,
                        PgType::Float4 => 24,
                        _ => 53,
                    };
                    row.push(("numeric_precision", V::I(p)));
                    row.push(("numeric_precision_radix", V::I(2)));
                    if matches!(c.ty, PgType::Int2 | PgType::Int4 | PgType::Int8) {
                        row.push(("numeric_scale", V::I(0)));
                    }
                }
                PgType::Numeric(ps) => {
                    row.push(("numeric_precision_radix", V::I(10)));
                    if let Some((p, s)) = ps {
                        row.push(("numeric_precision", V::I(*p as i64)));
                        row.push(("numeric_scale", V::I(*s as i64)));
                    }
                }
                PgType::Date => row.push(("datetime_precision", V::I(0))),
                PgType::Time | PgType::Timestamp | PgType::Timestamptz | PgType::Interval => {
                    row.push(("datetime_precision", V::I(6)))
                }
                _ => {}
            }
            row
        })
        .collect()
}
