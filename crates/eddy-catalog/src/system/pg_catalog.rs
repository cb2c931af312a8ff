//! The rows of the `pg_catalog` tables that describe objects Eddy has. Every other
//! `pg_catalog` table is empty.

use eddy_common::PgType;

use super::model::{Model, Rel, SUPERUSER_NAME, SUPERUSER_OID, oids};
use super::{Row, V, t, types};

/// A column default as PostgreSQL prints it back (`pg_get_expr(adbin, ...)`,
/// `information_schema.columns.column_default`): a quoted literal carries a cast to the
/// column's type (`'x'::character varying`), and a negative number is a quoted literal of its
/// own type (`'-1'::integer`), as PostgreSQL's deparser writes them.
pub(crate) fn default_expression(default: &str, ty: &PgType) -> String {
    let d = default.trim();
    if is_string_literal(d) {
        return format!("{d}::{}", type_without_modifier(ty));
    }
    if let Some(digits) = d.strip_prefix('-')
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        let ty = match d.parse::<i64>() {
            Ok(v) if i32::try_from(v).is_ok() => "integer",
            Ok(_) => "bigint",
            Err(_) => "numeric",
        };
        return format!("'{d}'::{ty}");
    }
    d.to_string()
}

/// One `'...'` literal (doubled quotes inside), nothing around it.
fn is_string_literal(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) else {
        return false;
    };
    inner.replace("''", "").find('\'').is_none()
}

/// A type's name without its modifier: `character varying(10)` casts as `character varying`.
fn type_without_modifier(ty: &PgType) -> String {
    match ty {
        PgType::Varchar(_) => "character varying".into(),
        PgType::Numeric(_) => "numeric".into(),
        PgType::Array(e) => format!("{}[]", type_without_modifier(e)),
        t => t.to_string(),
    }
}

pub(crate) fn rows(table: &str, m: &Model) -> Vec<Row> {
    match table {
        "pg_namespace" => m
            .namespaces
            .iter()
            .map(|(oid, name)| {
                let owner = if name == crate::DEFAULT_SCHEMA {
                    oids::DATABASE_OWNER_ROLE
                } else {
                    SUPERUSER_OID
                };
                vec![
                    ("oid", V::O(*oid)),
                    ("nspname", t(name)),
                    ("nspowner", V::O(owner)),
                ]
            })
            .collect(),
        "pg_class" => m.rels.iter().map(class_row).collect(),
        "pg_description" => m
            .descriptions()
            .into_iter()
            .map(|d| {
                vec![
                    ("objoid", V::O(d.objoid)),
                    ("classoid", V::O(d.classoid)),
                    ("objsubid", V::I(d.objsubid.into())),
                    ("description", t(d.text)),
                ]
            })
            .collect(),
        "pg_attribute" => m.rels.iter().flat_map(|r| attribute_rows(r, m)).collect(),
        // A serial or identity column's sequence depends on the column (`a`uto or `i`nternal),
        // which psql's `\d` of the sequence shows as "Owned by".
        "pg_depend" => m
            .sequences
            .iter()
            .filter_map(|(s, ..)| {
                let (table, column) = s.owned_by.as_ref()?;
                let attnum = m
                    .rel(*table)?
                    .columns
                    .iter()
                    .position(|c| &c.name == column)?;
                let pg_class = m.rel_oid(super::PG_CATALOG, "pg_class")?;
                Some(vec![
                    ("classid", V::O(pg_class)),
                    ("objid", V::O(s.id)),
                    ("objsubid", V::I(0)),
                    ("refclassid", V::O(pg_class)),
                    ("refobjid", V::O(*table)),
                    ("refobjsubid", V::I(attnum as i64 + 1)),
                    ("deptype", t(if s.identity.is_some() { "i" } else { "a" })),
                ])
            })
            .collect(),
        "pg_sequence" => m
            .sequences
            .iter()
            .map(|(s, ..)| {
                vec![
                    ("seqrelid", V::O(s.id)),
                    ("seqtypid", V::O(s.ty.oid())),
                    ("seqstart", V::I(s.start)),
                    ("seqincrement", V::I(s.increment)),
                    ("seqmax", V::I(s.max)),
                    ("seqmin", V::I(s.min)),
                    ("seqcache", V::I(1)),
                    ("seqcycle", V::B(s.cycle)),
                ]
            })
            .collect(),
        "pg_sequences" => m
            .sequences
            .iter()
            .map(|(s, last, called)| {
                vec![
                    ("schemaname", t(&s.schema)),
                    ("sequencename", t(&s.name)),
                    ("sequenceowner", t(SUPERUSER_NAME)),
                    ("data_type", V::O(s.ty.oid())),
                    ("start_value", V::I(s.start)),
                    ("min_value", V::I(s.min)),
                    ("max_value", V::I(s.max)),
                    ("increment_by", V::I(s.increment)),
                    ("cycle", V::B(s.cycle)),
                    ("cache_size", V::I(1)),
                    ("last_value", if *called { V::I(*last) } else { V::Null }),
                ]
            })
            .collect(),
        "pg_type" => types::all().iter().map(types::row).collect(),
        "pg_index" => indexes(m).map(|(ix, _)| index_row(ix)).collect(),
        "pg_constraint" => indexes(m)
            .map(|(ix, table)| {
                vec![
                    ("oid", V::O(oids::pkey_constraint(table.oid))),
                    ("conname", t(&ix.name)),
                    ("connamespace", V::O(table.nsp)),
                    ("contype", t("p")),
                    ("convalidated", V::B(true)),
                    ("conrelid", V::O(table.oid)),
                    ("conindid", V::O(ix.oid)),
                    ("confupdtype", t(" ")),
                    ("confdeltype", t(" ")),
                    ("confmatchtype", t(" ")),
                    ("conislocal", V::B(true)),
                    ("connoinherit", V::B(true)),
                    ("conkey", V::IA(table.key.clone())),
                ]
            })
            .collect(),
        "pg_attrdef" => m
            .rels
            .iter()
            .filter(|r| r.kind == 'r')
            .flat_map(|r| {
                r.columns.iter().enumerate().filter_map(|(i, c)| {
                    let d = c.default.as_ref()?;
                    Some(vec![
                        ("oid", V::O(oids::attrdef(r.oid, i + 1))),
                        ("adrelid", V::O(r.oid)),
                        ("adnum", V::I(i as i64 + 1)),
                        ("adbin", t(default_expression(d, &c.ty))),
                    ])
                })
            })
            .collect(),
        "pg_database" => vec![vec![
            ("oid", V::O(oids::DATABASE)),
            ("datname", t(crate::DATABASE_NAME)),
            ("datdba", V::O(SUPERUSER_OID)),
            ("encoding", V::I(6)),
            ("datlocprovider", t("c")),
            ("datallowconn", V::B(true)),
            ("datconnlimit", V::I(-1)),
            ("dattablespace", V::O(oids::DEFAULT_TABLESPACE)),
            ("datcollate", t("C")),
            ("datctype", t("C")),
        ]],
        "pg_roles" | "pg_authid" => vec![
            vec![
                ("oid", V::O(SUPERUSER_OID)),
                ("rolname", t(SUPERUSER_NAME)),
                ("rolsuper", V::B(true)),
                ("rolinherit", V::B(true)),
                ("rolcreaterole", V::B(true)),
                ("rolcreatedb", V::B(true)),
                ("rolcanlogin", V::B(true)),
                ("rolreplication", V::B(true)),
                ("rolbypassrls", V::B(true)),
                ("rolconnlimit", V::I(-1)),
                ("rolpassword", V::Null),
            ],
            vec![
                ("oid", V::O(oids::DATABASE_OWNER_ROLE)),
                ("rolname", t("pg_database_owner")),
                ("rolinherit", V::B(true)),
                ("rolconnlimit", V::I(-1)),
            ],
        ],
        "pg_user" => vec![vec![
            ("usename", t(SUPERUSER_NAME)),
            ("usesysid", V::O(SUPERUSER_OID)),
            ("usecreatedb", V::B(true)),
            ("usesuper", V::B(true)),
            ("userepl", V::B(true)),
            ("usebypassrls", V::B(true)),
            ("passwd", t("********")),
        ]],
        "pg_opclass" => BTREE_OPCLASSES
            .iter()
            .map(|(oid, name, family, input)| {
                vec![
                    ("oid", V::O(*oid)),
                    ("opcmethod", V::O(oids::BTREE_AM)),
                    ("opcname", t(*name)),
                    ("opcnamespace", V::O(oids::PG_CATALOG)),
                    ("opcowner", V::O(SUPERUSER_OID)),
                    ("opcfamily", V::O(*family)),
                    ("opcintype", V::O(*input)),
                    ("opcdefault", V::B(true)),
                    // name_ops stores its keys as cstring.
                    ("opckeytype", V::O(if *input == 19 { 2275 } else { 0 })),
                ]
            })
            .collect(),
        // The languages of the functions `pg_proc` lists; Eddy runs no procedural language.
        "pg_language" => [
            (12, "internal", 2246, false),
            (13, "c", 2247, false),
            (14, "sql", 2248, true),
        ]
        .into_iter()
        .map(|(oid, name, validator, trusted)| {
            vec![
                ("oid", V::O(oid)),
                ("lanname", t(name)),
                ("lanowner", V::O(SUPERUSER_OID)),
                ("lanpltrusted", V::B(trusted)),
                ("lanvalidator", V::O(validator)),
            ]
        })
        .collect(),
        "pg_am" => vec![
            vec![
                ("oid", V::O(oids::HEAP_AM)),
                ("amname", t("heap")),
                ("amhandler", t("heap_tableam_handler")),
                ("amtype", t("t")),
            ],
            vec![
                ("oid", V::O(oids::BTREE_AM)),
                ("amname", t("btree")),
                ("amhandler", t("bthandler")),
                ("amtype", t("i")),
            ],
        ],
        "pg_tablespace" => vec![
            vec![
                ("oid", V::O(oids::DEFAULT_TABLESPACE)),
                ("spcname", t("pg_default")),
                ("spcowner", V::O(SUPERUSER_OID)),
            ],
            vec![
                ("oid", V::O(1664)),
                ("spcname", t("pg_global")),
                ("spcowner", V::O(SUPERUSER_OID)),
            ],
        ],
        "pg_collation" => [
            (oids::DEFAULT_COLLATION, "default", "d", None),
            (oids::C_COLLATION, "C", "c", Some("C")),
            (951, "POSIX", "c", Some("POSIX")),
        ]
        .into_iter()
        .map(|(oid, name, provider, locale)| {
            vec![
                ("oid", V::O(oid)),
                ("collname", t(name)),
                ("collnamespace", V::O(oids::PG_CATALOG)),
                ("collowner", V::O(SUPERUSER_OID)),
                ("collprovider", t(provider)),
                ("collisdeterministic", V::B(true)),
                ("collencoding", V::I(-1)),
                ("collcollate", locale.map(t).unwrap_or(V::Null)),
                ("collctype", locale.map(t).unwrap_or(V::Null)),
            ]
        })
        .collect(),
        "pg_tables" => m
            .rels
            .iter()
            .filter(|r| r.kind == 'r')
            .map(|r| {
                vec![
                    ("schemaname", t(&r.schema)),
                    ("tablename", t(&r.name)),
                    ("tableowner", t(SUPERUSER_NAME)),
                    ("tablespace", V::Null),
                    ("hasindexes", V::B(!r.key.is_empty())),
                ]
            })
            .collect(),
        "pg_views" => m
            .rels
            .iter()
            .filter(|r| r.kind == 'v')
            .map(|r| {
                vec![
                    ("schemaname", t(&r.schema)),
                    ("viewname", t(&r.name)),
                    ("viewowner", t(SUPERUSER_NAME)),
                    (
                        "definition",
                        r.definition.clone().map(V::T).unwrap_or(V::Null),
                    ),
                ]
            })
            .collect(),
        "pg_matviews" => m
            .rels
            .iter()
            .filter(|r| r.kind == 'm')
            .map(|r| {
                vec![
                    ("schemaname", t(&r.schema)),
                    ("matviewname", t(&r.name)),
                    ("matviewowner", t(SUPERUSER_NAME)),
                    ("tablespace", V::Null),
                    ("hasindexes", V::B(false)),
                    ("ispopulated", V::B(true)),
                    (
                        "definition",
                        r.definition.clone().map(V::T).unwrap_or(V::Null),
                    ),
                ]
            })
            .collect(),
        "pg_indexes" => indexes(m)
            .map(|(ix, table)| {
                vec![
                    ("schemaname", t(&table.schema)),
                    ("tablename", t(&table.name)),
                    ("indexname", t(&ix.name)),
                    ("tablespace", V::Null),
                    ("indexdef", t(index_definition(ix, table))),
                ]
            })
            .collect(),
        _ => vec![],
    }
}

/// Each index with its table.
fn indexes(m: &Model) -> impl Iterator<Item = (&Rel, &Rel)> {
    m.rels
        .iter()
        .filter(|r| r.kind == 'i')
        .filter_map(|ix| Some((ix, m.rel(ix.table?)?)))
}

/// `CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)`, as `pg_get_indexdef` gives it.
pub fn index_definition(ix: &Rel, table: &Rel) -> String {
    let cols: Vec<String> = ix
        .columns
        .iter()
        .map(|c| super::model::quote_ident(&c.name))
        .collect();
    format!(
        "CREATE UNIQUE INDEX {} ON {}.{} USING btree ({})",
        super::model::quote_ident(&ix.name),
        super::model::quote_ident(&table.schema),
        super::model::quote_ident(&table.name),
        cols.join(", ")
    )
}

fn class_row(r: &Rel) -> Row {
    let has_index = r.kind == 'r' && !r.key.is_empty();
    vec![
        ("oid", V::O(r.oid)),
        ("relname", t(&r.name)),
        ("relnamespace", V::O(r.nsp)),
        ("relowner", V::O(SUPERUSER_OID)),
        (
            "relam",
            V::O(match r.kind {
                'r' | 'm' => oids::HEAP_AM,
                'i' => oids::BTREE_AM,
                _ => 0,
            }),
        ),
        ("relfilenode", V::O(if r.kind == 'v' { 0 } else { r.oid })),
        ("reltuples", V::F(-1.0)),
        ("relhasindex", V::B(has_index)),
        ("relpersistence", t("p")),
        ("relkind", t(r.kind.to_string())),
        ("relnatts", V::I(r.columns.len() as i64)),
        ("relhasrules", V::B(matches!(r.kind, 'v' | 'm'))),
        ("relispopulated", V::B(true)),
        (
            "relreplident",
            t(if matches!(r.kind, 'r' | 'm') {
                "d"
            } else {
                "n"
            }),
        ),
        ("relfrozenxid", t("0")),
        ("relminmxid", t("0")),
        (
            "reloptions",
            if r.options.is_empty() {
                V::Null
            } else {
                V::TA(r.options.clone())
            },
        ),
    ]
}

fn attribute_rows(r: &Rel, m: &Model) -> Vec<Row> {
    r.columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            // A column's physical properties are its type's, as pg_type gives them.
            let ty = types::by_oid(c.ty.oid());
            let len = ty.map_or(-1, |t| t.len);
            vec![
                ("attrelid", V::O(r.oid)),
                ("attname", t(&c.name)),
                ("atttypid", V::O(c.ty.oid())),
                ("attstattarget", V::I(-1)),
                ("attlen", V::I(len)),
                ("attnum", V::I(i as i64 + 1)),
                ("attndims", V::I(matches!(c.ty, PgType::Array(_)) as i64)),
                ("attcacheoff", V::I(-1)),
                ("atttypmod", V::I(c.ty.typmod() as i64)),
                ("attbyval", V::B(ty.is_some_and(|t| t.byval()))),
                ("attalign", t(ty.map_or("i", |t| t.align()))),
                ("attstorage", t(ty.map_or("x", |t| t.storage()))),
                ("attnotnull", V::B(c.not_null)),
                ("atthasdef", V::B(c.default.is_some())),
                ("attislocal", V::B(true)),
                ("attcollation", V::O(ty.map_or(0, |t| t.collation))),
                (
                    "attidentity",
                    t(m.identity(r.oid, &c.name)
                        .and_then(|s| s.identity)
                        .map(String::from)
                        .unwrap_or_default()),
                ),
            ]
        })
        .collect()
}

/// PostgreSQL 15's default btree operator classes for the types Eddy has, as (oid, name,
/// family, input type): what `pg_index.indclass` names for a key column and `pg_opclass` lists.
const BTREE_OPCLASSES: &[(u32, &str, u32, u32)] = &[
    (1978, "int4_ops", 1976, 23),
    (1979, "int2_ops", 1976, 21),
    (1981, "oid_ops", 1989, 26),
    (3122, "date_ops", 434, 1082),
    (3123, "float8_ops", 1970, 701),
    (3124, "int8_ops", 1976, 20),
    (3125, "numeric_ops", 1988, 1700),
    (3126, "text_ops", 1994, 25),
    (3127, "timestamptz_ops", 434, 1184),
    (3128, "timestamp_ops", 434, 1114),
    (10000, "array_ops", 397, 2277),
    (10003, "bool_ops", 424, 16),
    (10006, "bytea_ops", 428, 17),
    (10007, "char_ops", 429, 18),
    (10012, "float4_ops", 1970, 700),
    (10022, "interval_ops", 1982, 1186),
    (10028, "name_ops", 1994, 19),
    (10038, "time_ops", 1996, 1083),
    (10065, "uuid_ops", 2968, 2950),
    (10088, "jsonb_ops", 4033, 3802),
];

/// The operator class a btree index uses for a column of type `ty` unless told otherwise
/// (`varchar` sorts with `text`'s, every array type with `anyarray`'s).
fn default_opclass(ty: &PgType) -> Option<(u32, &'static str, u32, u32)> {
    let input = match ty {
        PgType::Varchar(_) => 25,
        PgType::Array(_) => 2277,
        other => other.oid(),
    };
    BTREE_OPCLASSES.iter().find(|o| o.3 == input).copied()
}

fn index_row(ix: &Rel) -> Row {
    let n = ix.key.len() as i64;
    vec![
        ("indexrelid", V::O(ix.oid)),
        ("indrelid", V::O(ix.table.unwrap_or(0))),
        ("indnatts", V::I(n)),
        ("indnkeyatts", V::I(n)),
        ("indisunique", V::B(true)),
        ("indisprimary", V::B(true)),
        ("indimmediate", V::B(true)),
        ("indisvalid", V::B(true)),
        ("indisready", V::B(true)),
        ("indislive", V::B(true)),
        ("indkey", V::IA(ix.key.clone())),
        (
            "indcollation",
            V::OA(
                ix.columns
                    .iter()
                    .map(|c| types::by_oid(c.ty.oid()).map_or(0, |t| t.collation))
                    .collect(),
            ),
        ),
        (
            "indclass",
            V::OA(
                ix.columns
                    .iter()
                    .map(|c| default_opclass(&c.ty).map_or(0, |o| o.0))
                    .collect(),
            ),
        ),
        ("indoption", V::IA(vec![0; ix.key.len()])),
    ]
}
