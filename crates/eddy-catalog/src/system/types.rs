//! `pg_type`: the types Eddy has, with PostgreSQL's OIDs, plus the system catalog's own types
//! (`regclass`, `oidvector`, ...) and the pseudo-types clients look up by name.

use eddy_common::PgType;

use super::model::oids;
use super::{Row, V, t};

/// A type as `pg_type` and `format_type` see it.
pub struct TypeInfo {
    pub oid: u32,
    pub name: &'static str,
    /// What `format_type` prints without a modifier.
    pub sql_name: String,
    pub len: i64,
    /// `b` base, `p` pseudo.
    pub kind: char,
    pub category: char,
    pub preferred: bool,
    pub elem: u32,
    pub array: u32,
    pub collation: u32,
    /// Stem of the I/O function names (`int4` gives `int4in`, `numeric_` gives `numeric_in`).
    pub io: &'static str,
}

/// Every scalar type Eddy stores, by its `pg_type` name.
const EDDY_TYPES: &[(&str, PgType)] = &[
    ("bool", PgType::Bool),
    ("int2", PgType::Int2),
    ("int4", PgType::Int4),
    ("int8", PgType::Int8),
    ("float4", PgType::Float4),
    ("float8", PgType::Float8),
    ("numeric", PgType::Numeric(None)),
    ("text", PgType::Text),
    ("varchar", PgType::Varchar(None)),
    ("bytea", PgType::Bytea),
    ("date", PgType::Date),
    ("time", PgType::Time),
    ("timestamp", PgType::Timestamp),
    ("timestamptz", PgType::Timestamptz),
    ("interval", PgType::Interval),
    ("json", PgType::Json),
    ("jsonb", PgType::Jsonb),
    ("uuid", PgType::Uuid),
    ("oid", PgType::Oid),
    ("name", PgType::Name),
    ("char", PgType::Char),
];

/// (oid, name, SQL name, len, kind, category, array oid, elem oid): types with no Eddy values.
/// (oid, name, SQL name, len, kind, category, array oid, elem oid).
type OtherType = (u32, &'static str, &'static str, i64, char, char, u32, u32);

const OTHER_TYPES: &[OtherType] = &[
    (22, "int2vector", "int2vector", -1, 'b', 'A', 1006, 21),
    (24, "regproc", "regproc", 4, 'b', 'N', 1008, 0),
    (28, "xid", "xid", 4, 'b', 'U', 1011, 0),
    (30, "oidvector", "oidvector", -1, 'b', 'A', 1013, 26),
    (194, "pg_node_tree", "pg_node_tree", -1, 'b', 'Z', 0, 0),
    (705, "unknown", "unknown", -2, 'p', 'X', 0, 0),
    (1033, "aclitem", "aclitem", 12, 'b', 'U', 1034, 0),
    (1042, "bpchar", "character", -1, 'b', 'S', 1014, 0),
    (2205, "regclass", "regclass", 4, 'b', 'N', 2210, 0),
    (2206, "regtype", "regtype", 4, 'b', 'N', 2211, 0),
    (4089, "regnamespace", "regnamespace", 4, 'b', 'N', 4090, 0),
    (2249, "record", "record", -1, 'p', 'P', 2287, 0),
    (2275, "cstring", "cstring", -2, 'p', 'P', 1263, 0),
    (2276, "any", "\"any\"", 4, 'p', 'P', 0, 0),
    (2277, "anyarray", "anyarray", -1, 'p', 'P', 0, 0),
    (2278, "void", "void", 4, 'p', 'P', 0, 0),
    (2279, "trigger", "trigger", 4, 'p', 'P', 0, 0),
    (2283, "anyelement", "anyelement", 4, 'p', 'P', 0, 0),
];

fn io_stem(name: &str) -> &'static str {
    match name {
        "bool" => "bool",
        "int2" => "int2",
        "int4" => "int4",
        "int8" => "int8",
        "float4" => "float4",
        "float8" => "float8",
        "text" => "text",
        "varchar" => "varchar",
        "bytea" => "bytea",
        "oid" => "oid",
        "name" => "name",
        "char" => "char",
        "int2vector" => "int2vector",
        "oidvector" => "oidvector",
        "regproc" => "regproc",
        "xid" => "xid",
        "aclitem" => "aclitem",
        "bpchar" => "bpchar",
        "regclass" => "regclass",
        "regtype" => "regtype",
        "regnamespace" => "regnamespace",
        "numeric" => "numeric_",
        "date" => "date_",
        "time" => "time_",
        "timestamp" => "timestamp_",
        "timestamptz" => "timestamptz_",
        "interval" => "interval_",
        "json" => "json_",
        "jsonb" => "jsonb_",
        "uuid" => "uuid_",
        "record" => "record_",
        "void" => "void_",
        "trigger" => "trigger_",
        "unknown" => "unknown",
        "cstring" => "cstring_",
        "any" => "any_",
        "anyarray" => "anyarray_",
        "anyelement" => "anyelement_",
        _ => "pg_node_tree_",
    }
}

fn category(t: &PgType) -> (char, bool) {
    match t {
        PgType::Bool => ('B', true),
        PgType::Int2 | PgType::Int4 | PgType::Int8 | PgType::Numeric(_) | PgType::Float4 => {
            ('N', false)
        }
        PgType::Float8 | PgType::Oid => ('N', true),
        PgType::Text => ('S', true),
        PgType::Varchar(_) | PgType::Name | PgType::Char => ('S', false),
        PgType::Date | PgType::Time | PgType::Timestamp => ('D', false),
        PgType::Timestamptz => ('D', true),
        PgType::Interval => ('T', true),
        PgType::Bytea | PgType::Json | PgType::Jsonb | PgType::Uuid => ('U', false),
        PgType::Array(_) | PgType::Vector(_) => ('A', false),
    }
}

/// All of `pg_type`, base types then their array types.
pub fn all() -> &'static [TypeInfo] {
    static ALL: std::sync::OnceLock<Vec<TypeInfo>> = std::sync::OnceLock::new();
    ALL.get_or_init(build)
}

pub fn by_oid(oid: u32) -> Option<&'static TypeInfo> {
    all().iter().find(|t| t.oid == oid)
}

fn build() -> Vec<TypeInfo> {
    let mut out = vec![];
    for (name, ty) in EDDY_TYPES {
        let (category, preferred) = category(ty);
        let array = PgType::Array(Box::new(ty.clone())).oid();
        let collation = match ty {
            PgType::Text | PgType::Varchar(_) => oids::DEFAULT_COLLATION,
            PgType::Name => oids::C_COLLATION,
            _ => 0,
        };
        out.push(TypeInfo {
            oid: ty.oid(),
            name,
            sql_name: ty.name(),
            len: ty.typlen() as i64,
            kind: 'b',
            category,
            preferred,
            elem: if *name == "name" { 18 } else { 0 },
            array,
            collation,
            io: io_stem(name),
        });
        out.push(array_of(array, name, &ty.name(), ty.oid(), collation));
    }
    for (oid, name, sql, len, kind, category, array, elem) in OTHER_TYPES {
        out.push(TypeInfo {
            oid: *oid,
            name,
            sql_name: sql.to_string(),
            len: *len,
            kind: *kind,
            category: *category,
            preferred: false,
            elem: *elem,
            array: *array,
            collation: if *name == "bpchar" {
                oids::DEFAULT_COLLATION
            } else {
                0
            },
            io: io_stem(name),
        });
        if *array != 0 {
            out.push(array_of(*array, name, sql, *oid, 0));
        }
    }
    out
}

fn array_of(oid: u32, elem_name: &str, elem_sql: &str, elem: u32, collation: u32) -> TypeInfo {
    TypeInfo {
        oid,
        name: Box::leak(format!("_{elem_name}").into_boxed_str()),
        sql_name: format!("{elem_sql}[]"),
        len: -1,
        kind: 'b',
        category: 'A',
        preferred: false,
        elem,
        array: 0,
        collation,
        io: "array_",
    }
}

impl TypeInfo {
    /// Whether values are passed by value (`typbyval`, and `attbyval` of its columns).
    pub fn byval(&self) -> bool {
        matches!(self.len, 1 | 2 | 4 | 8) && self.kind == 'b'
    }

    /// `typalign`, and `attalign` of its columns.
    pub fn align(&self) -> &'static str {
        match self.len {
            1 | -2 => "c",
            2 => "s",
            8 => "d",
            _ => "i",
        }
    }

    /// `typstorage`, and `attstorage` of its columns.
    pub fn storage(&self) -> &'static str {
        match self.name {
            // numeric is compressed in line rather than moved out; the vectors stay plain.
            "numeric" => "m",
            "int2vector" | "oidvector" => "p",
            _ if self.len == -1 => "x",
            _ => "p",
        }
    }
}

/// One type's `pg_type` row.
pub fn row(ty: &TypeInfo) -> Row {
    let io = |suffix: &str| match ty.io.strip_suffix('_') {
        Some(stem) => format!("{stem}_{suffix}"),
        None => format!("{}{suffix}", ty.io),
    };
    vec![
        ("oid", V::O(ty.oid)),
        ("typname", t(ty.name)),
        ("typnamespace", V::O(oids::PG_CATALOG)),
        ("typowner", V::O(super::SUPERUSER_OID)),
        ("typlen", V::I(ty.len)),
        ("typbyval", V::B(ty.byval())),
        ("typtype", t(ty.kind.to_string())),
        ("typcategory", t(ty.category.to_string())),
        ("typispreferred", V::B(ty.preferred)),
        ("typisdefined", V::B(true)),
        ("typdelim", t(",")),
        (
            "typsubscript",
            t(if ty.category == 'A' {
                "array_subscript_handler"
            } else {
                "-"
            }),
        ),
        ("typelem", V::O(ty.elem)),
        ("typarray", V::O(ty.array)),
        ("typinput", t(io("in"))),
        ("typoutput", t(io("out"))),
        ("typreceive", t(io("recv"))),
        ("typsend", t(io("send"))),
        ("typmodin", t("-")),
        ("typmodout", t("-")),
        ("typanalyze", t("-")),
        ("typalign", t(ty.align())),
        ("typstorage", t(ty.storage())),
        ("typtypmod", V::I(-1)),
        ("typcollation", V::O(ty.collation)),
    ]
}

/// PostgreSQL's `format_type(oid, typmod)`.
pub fn format_type(oid: u32, typmod: Option<i64>) -> Option<String> {
    let info = by_oid(oid)?;
    let typmod = typmod.filter(|m| *m >= 0);
    let (base, is_array) = match info.sql_name.strip_suffix("[]") {
        Some(b) => (b.to_string(), true),
        None => (info.sql_name.clone(), false),
    };
    let elem = if is_array { info.elem } else { info.oid };
    let base = match (elem, typmod) {
        (1043, Some(m)) => format!("character varying({})", m - 4),
        (1042, Some(m)) => format!("character({})", m - 4),
        (1700, Some(m)) => {
            let m = m - 4;
            // The scale is 11 bits of two's complement (it may be negative).
            format!(
                "numeric({},{})",
                (m >> 16) & 0xffff,
                ((m & 0x7ff) ^ 1024) - 1024
            )
        }
        _ => base,
    };
    Some(if is_array { format!("{base}[]") } else { base })
}
