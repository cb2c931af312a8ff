//! The objects the system catalog describes, gathered once per read: Eddy's schemas, tables and
//! views with their PostgreSQL OIDs, plus the system tables themselves.

use std::sync::OnceLock;

use eddy_common::PgType;

use super::{INFORMATION_SCHEMA, PG_CATALOG};
use crate::catalog::Catalog;

/// The one role: every object is owned by it and every user name connects as it.
pub const SUPERUSER_OID: u32 = 10;
pub const SUPERUSER_NAME: &str = "eddy";

/// OIDs of objects Eddy has no id of its own for. Tables, views and schemas use their catalog
/// id (16384 and up, PostgreSQL's first normal OID); the objects derived from a table are put
/// in ranges those ids never reach.
pub mod oids {
    pub const PG_CATALOG: u32 = 11;
    /// What PostgreSQL 15's initdb gives `information_schema`.
    pub const INFORMATION_SCHEMA: u32 = 13_207;
    pub const DATABASE: u32 = 1;
    /// PostgreSQL 15's role that owns `public`: whoever owns the database.
    pub const DATABASE_OWNER_ROLE: u32 = 6171;
    pub const HEAP_AM: u32 = 2;
    pub const BTREE_AM: u32 = 403;
    pub const DEFAULT_COLLATION: u32 = 100;
    pub const C_COLLATION: u32 = 950;
    pub const DEFAULT_TABLESPACE: u32 = 1663;

    /// The index behind a table's primary key.
    pub fn pkey_index(table: u32) -> u32 {
        table | 0x4000_0000
    }

    /// The primary-key constraint itself (`pg_constraint`).
    pub fn pkey_constraint(table: u32) -> u32 {
        table | 0x2000_0000
    }

    /// A column default (`pg_attrdef`).
    pub fn attrdef(table: u32, attnum: usize) -> u32 {
        0x6000_0000u32.wrapping_add(table.wrapping_mul(1600).wrapping_add(attnum as u32))
    }
}

#[derive(Clone, Debug)]
pub struct Col {
    pub name: String,
    pub ty: PgType,
    pub not_null: bool,
    /// The default as SQL text.
    pub default: Option<String>,
}

/// A relation as `pg_class` sees it.
#[derive(Clone, Debug)]
pub struct Rel {
    pub oid: u32,
    pub nsp: u32,
    pub schema: String,
    pub name: String,
    /// `r` table, `v` view, `m` materialized view, `i` index.
    pub kind: char,
    pub columns: Vec<Col>,
    /// Attribute numbers (1-based) of the primary key; for an index, of its table's columns.
    pub key: Vec<i64>,
    /// A view's defining query.
    pub definition: Option<String>,
    /// For an index: its table.
    pub table: Option<u32>,
    pub system: bool,
    /// `pg_class.reloptions`: a table's `retain_history`, in seconds.
    pub options: Vec<String>,
}

impl Rel {
    pub fn pkey_name(&self) -> String {
        format!("{}_pkey", self.name)
    }
}

pub struct Model {
    /// (oid, name), in oid order.
    pub namespaces: Vec<(u32, String)>,
    pub rels: Vec<Rel>,
    /// `COMMENT ON` texts by (object id, column number or 0).
    comments: Vec<((u32, i32), String)>,
    /// Every sequence, with its last value and whether it was handed out.
    pub sequences: Vec<(crate::sequences::SequenceDef, i64, bool)>,
}

/// One `pg_description` row.
pub struct Description {
    pub objoid: u32,
    pub classoid: u32,
    pub objsubid: i32,
    pub text: String,
}

impl Model {
    /// `pg_description`: the comments `COMMENT ON` set on schemas, relations and columns that
    /// still exist, and the descriptions PostgreSQL ships for its own schemas (unless a
    /// comment replaced them).
    pub fn descriptions(&self) -> Vec<Description> {
        let (Some(nsp_class), Some(rel_class)) = (
            self.rel_oid(PG_CATALOG, "pg_namespace"),
            self.rel_oid(PG_CATALOG, "pg_class"),
        ) else {
            return vec![];
        };
        let mut out: Vec<Description> = vec![];
        for ((obj, sub), text) in &self.comments {
            let classoid = if self.namespaces.iter().any(|(o, _)| o == obj) && *sub == 0 {
                nsp_class
            } else if self
                .rel(*obj)
                .is_some_and(|r| *sub == 0 || (*sub as usize) <= r.columns.len())
            {
                rel_class
            } else {
                continue;
            };
            out.push(Description {
                objoid: *obj,
                classoid,
                objsubid: *sub,
                text: text.clone(),
            });
        }
        for (oid, name) in &self.namespaces {
            let builtin = match name.as_str() {
                crate::DEFAULT_SCHEMA => "standard public schema",
                PG_CATALOG => "system catalog schema",
                _ => continue,
            };
            if !out.iter().any(|d| d.objoid == *oid && d.objsubid == 0) {
                out.push(Description {
                    objoid: *oid,
                    classoid: nsp_class,
                    objsubid: 0,
                    text: builtin.into(),
                });
            }
        }
        if let Some(proc_class) = self.rel_oid(PG_CATALOG, "pg_proc") {
            out.extend(
                super::pg_proc::described().map(|(objoid, text)| Description {
                    objoid,
                    classoid: proc_class,
                    objsubid: 0,
                    text: text.into(),
                }),
            );
        }
        out
    }

    /// The OID of a relation, by schema and name.
    pub fn rel_oid(&self, schema: &str, name: &str) -> Option<u32> {
        self.rels
            .iter()
            .find(|r| r.schema == schema && r.name == name)
            .map(|r| r.oid)
    }

    pub fn new(catalog: &Catalog) -> Model {
        let mut namespaces = vec![
            (oids::PG_CATALOG, PG_CATALOG.to_string()),
            (oids::INFORMATION_SCHEMA, INFORMATION_SCHEMA.to_string()),
        ];
        let schemas = catalog.schemas();
        namespaces.extend(schemas.iter().map(|s| (s.id, s.name.clone())));
        let nsp_of = |name: &str| {
            schemas
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.id)
                .unwrap_or(0)
        };
        let mut rels = system_relations().to_vec();
        let mut user = vec![];
        for t in catalog.all_tables() {
            let def = &t.def;
            let columns: Vec<Col> = def
                .columns
                .iter()
                .map(|c| Col {
                    name: c.name.clone(),
                    ty: c.ty.clone(),
                    not_null: c.not_null,
                    default: c.default.clone(),
                })
                .collect();
            let key: Vec<i64> = def.primary_key.iter().map(|i| *i as i64 + 1).collect();
            let nsp = nsp_of(&def.schema);
            if !key.is_empty() {
                user.push(Rel {
                    oid: oids::pkey_index(def.id),
                    nsp,
                    schema: def.schema.clone(),
                    name: def.pkey_name(),
                    kind: 'i',
                    columns: def
                        .primary_key
                        .iter()
                        .map(|i| columns[*i].clone())
                        .collect(),
                    key: key.clone(),
                    definition: None,
                    table: Some(def.id),
                    system: false,
                    options: vec![],
                });
            }
            user.push(Rel {
                oid: def.id,
                nsp,
                schema: def.schema.clone(),
                name: def.name.clone(),
                kind: 'r',
                columns,
                key,
                definition: None,
                table: None,
                system: false,
                options: (def.history.iter())
                    .map(|h| format!("retain_history={}", h.retention_secs))
                    .collect(),
            });
        }
        for v in catalog.all_views() {
            let def = &v.def;
            user.push(Rel {
                oid: def.id,
                nsp: nsp_of(&def.schema),
                schema: def.schema.clone(),
                name: def.name.clone(),
                kind: if def.materialized { 'm' } else { 'v' },
                columns: def
                    .columns
                    .iter()
                    .map(|c| Col {
                        name: c.name.clone(),
                        ty: c.ty.clone(),
                        not_null: false,
                        default: None,
                    })
                    .collect(),
                key: vec![],
                definition: Some(def.sql.clone()),
                table: None,
                system: false,
                options: vec![],
            });
        }
        let mut sequences = vec![];
        for s in catalog.sequences.all() {
            let column = |name: &str, ty: PgType| Col {
                name: name.into(),
                ty,
                not_null: true,
                default: None,
            };
            user.push(Rel {
                oid: s.id,
                nsp: nsp_of(&s.schema),
                schema: s.schema.clone(),
                name: s.name.clone(),
                kind: 'S',
                columns: vec![
                    column("last_value", PgType::Int8),
                    column("log_cnt", PgType::Int8),
                    column("is_called", PgType::Bool),
                ],
                key: vec![],
                definition: None,
                table: None,
                system: false,
                options: vec![],
            });
            let (last, called) = catalog.sequences.position(s.id).unwrap_or((s.start, false));
            sequences.push((s, last, called));
        }
        user.sort_by_key(|r| r.oid);
        rels.extend(user);
        Model {
            namespaces,
            rels,
            comments: catalog.comments(),
            sequences,
        }
    }

    /// The identity kind (`a` ALWAYS, `d` BY DEFAULT) of a table's column, if it has one.
    pub fn identity(&self, table: u32, column: &str) -> Option<&crate::sequences::SequenceDef> {
        self.sequences.iter().map(|(s, ..)| s).find(|s| {
            s.identity.is_some()
                && s.owned_by
                    .as_ref()
                    .is_some_and(|(t, c)| *t == table && c == column)
        })
    }

    pub fn rel(&self, oid: u32) -> Option<&Rel> {
        self.rels.iter().find(|r| r.oid == oid)
    }

    pub fn namespace(&self, oid: u32) -> Option<&str> {
        self.namespaces
            .iter()
            .find(|(o, _)| *o == oid)
            .map(|(_, n)| n.as_str())
    }

    pub fn namespace_oid(&self, name: &str) -> Option<u32> {
        self.namespaces
            .iter()
            .find(|(_, n)| n == name)
            .map(|(o, _)| *o)
    }

    /// A relation by name: `schema.name`, or a bare name through the search path
    /// (`public`, then `pg_catalog`... PostgreSQL looks in `pg_catalog` first, but a user
    /// relation may not shadow a system one in Eddy, so the order gives the same answer).
    pub fn rel_by_name(&self, schema: Option<&str>, name: &str) -> Option<&Rel> {
        match schema {
            Some(s) => self.rels.iter().find(|r| r.schema == s && r.name == name),
            None => [crate::DEFAULT_SCHEMA, PG_CATALOG]
                .iter()
                .find_map(|s| self.rels.iter().find(|r| r.schema == *s && r.name == name)),
        }
    }

    /// Whether a relation is found by its bare name (its schema is on the search path).
    pub fn visible(&self, rel: &Rel) -> bool {
        rel.schema == crate::DEFAULT_SCHEMA || rel.schema == PG_CATALOG
    }

    /// How PostgreSQL prints a relation's `regclass`: qualified unless visible.
    pub fn regclass_text(&self, rel: &Rel) -> String {
        if self.visible(rel) {
            quote_ident(&rel.name)
        } else {
            format!("{}.{}", quote_ident(&rel.schema), quote_ident(&rel.name))
        }
    }
}

/// The specification of one system relation (its oid, kind and columns), or `None`.
pub(crate) fn system_relation(schema: &str, name: &str) -> Option<&'static Rel> {
    system_relations()
        .iter()
        .find(|r| r.schema == schema && r.name == name)
}

fn system_relations() -> &'static [Rel] {
    static RELS: OnceLock<Vec<Rel>> = OnceLock::new();
    RELS.get_or_init(|| {
        super::all_tables()
            .map(|(schema, name, kind, oid, cols)| Rel {
                oid: *oid,
                nsp: if *schema == PG_CATALOG {
                    oids::PG_CATALOG
                } else {
                    oids::INFORMATION_SCHEMA
                },
                schema: schema.to_string(),
                name: name.to_string(),
                kind: *kind,
                columns: cols
                    .split(',')
                    .map(|c| {
                        let (n, t) = c.split_once(':').expect("name:type");
                        Col {
                            name: n.to_string(),
                            ty: spec_type(t),
                            not_null: false,
                            default: None,
                        }
                    })
                    .collect(),
                key: vec![],
                definition: None,
                table: None,
                system: true,
                options: vec![],
            })
            .collect()
    })
}

/// The Eddy type a system column of PostgreSQL type `t` is kept in. Types Eddy has no values
/// of (`regproc`, `pg_node_tree`, `aclitem`, ...) are text; information_schema's domains are
/// their base types.
fn spec_type(t: &str) -> PgType {
    match t {
        "sql_identifier" => PgType::Name,
        "character_data" => PgType::Varchar(None),
        "yes_or_no" => PgType::Varchar(Some(3)),
        "cardinal_number" => PgType::Int4,
        "time_stamp" => PgType::Timestamptz,
        "int2vector" => PgType::Vector(Box::new(PgType::Int2)),
        "oidvector" => PgType::Vector(Box::new(PgType::Oid)),
        t if t.ends_with("[]") => PgType::Array(Box::new(match spec_type(&t[..t.len() - 2]) {
            PgType::Array(e) => *e,
            e => e,
        })),
        t => PgType::parse(t).unwrap_or(PgType::Text),
    }
}

/// PostgreSQL's `quote_ident`: quotes a name unless it is a lower-case identifier that is not
/// a reserved word.
pub fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED.contains(&name);
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// PostgreSQL 15's reserved key words (those `quote_ident` quotes).
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];
