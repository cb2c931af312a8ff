//! `pg_proc`: PostgreSQL 15's own rows for the functions a session can call.
//!
//! `pg_proc.tsv` is PostgreSQL 15's `pg_proc` (schema `pg_catalog`, leaving out the type I/O
//! and planner-support functions that take or return `cstring` or `internal`, which no client
//! can call), with what `pg_get_function_result`, `pg_get_function_arguments`,
//! `pg_get_function_identity_arguments` and `obj_description` say of each. The query that
//! dumps it is in `eddy-server`'s test `pg_proc_rows_are_postgres_own`, which checks the file
//! against a real PostgreSQL.
//!
//! A row is listed only when the session has a function of that name and `pg_type` knows every
//! type the row names, so `pg_proc` never offers a function that fails with "does not exist"
//! and `::regtype` of its argument types always prints a name. Keeping PostgreSQL's OIDs means a
//! client that caches function OIDs from PostgreSQL reads the same ones here.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use super::model::{SUPERUSER_OID, oids};
use super::{Row, V, t, types};

/// One function of PostgreSQL's `pg_proc`, as dumped.
pub(crate) struct Proc {
    pub oid: u32,
    pub name: &'static str,
    kind: &'static str,
    lang: u32,
    cost: f64,
    rows: f64,
    variadic: u32,
    strict: bool,
    returns_set: bool,
    volatility: &'static str,
    parallel: &'static str,
    nargs: i64,
    nargdefaults: i64,
    return_type: u32,
    arg_types: Vec<u32>,
    all_arg_types: Option<Vec<u32>>,
    arg_modes: Option<Vec<String>>,
    arg_names: Option<Vec<String>>,
    /// `pg_get_function_result`, `pg_get_function_arguments` and
    /// `pg_get_function_identity_arguments` as PostgreSQL prints them.
    pub result: &'static str,
    pub arguments: &'static str,
    pub identity_arguments: &'static str,
    source: &'static str,
    /// PostgreSQL's comment on the function, which `\df+` and `\da` show.
    pub description: Option<&'static str>,
}

const DUMP: &str = include_str!("pg_proc.tsv");

/// Every dumped function, parsed once.
pub(crate) fn all() -> &'static [Proc] {
    static PROCS: OnceLock<Vec<Proc>> = OnceLock::new();
    PROCS.get_or_init(|| DUMP.lines().map(parse_line).collect())
}

/// The dumped function with this OID.
pub(crate) fn by_oid(oid: u32) -> Option<&'static Proc> {
    let procs = all();
    procs
        .binary_search_by_key(&oid, |p| p.oid)
        .ok()
        .map(|i| &procs[i])
}

fn parse_line(line: &'static str) -> Proc {
    let f: Vec<&'static str> = line.split('\t').collect();
    assert_eq!(f.len(), 23, "pg_proc.tsv: 23 columns in {line:?}");
    let num = |s: &str| s.parse::<f64>().expect("pg_proc.tsv: a number");
    let oid = |s: &str| s.parse::<u32>().expect("pg_proc.tsv: an oid");
    let null = |s: &'static str| (s != "\\N").then_some(s);
    let array = |s: &'static str| {
        null(s).map(|s| {
            eddy_common::array_text::parse(s)
                .expect("pg_proc.tsv: an array")
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect::<Vec<String>>()
        })
    };
    Proc {
        oid: oid(f[0]),
        name: f[1],
        kind: f[2],
        lang: oid(f[3]),
        cost: num(f[4]),
        rows: num(f[5]),
        variadic: oid(f[6]),
        strict: f[7] == "t",
        returns_set: f[8] == "t",
        volatility: f[9],
        parallel: f[10],
        nargs: num(f[11]) as i64,
        nargdefaults: num(f[12]) as i64,
        return_type: oid(f[13]),
        arg_types: f[14].split_whitespace().map(oid).collect(),
        all_arg_types: array(f[15]).map(|a| a.iter().map(|s| oid(s)).collect()),
        arg_modes: array(f[16]),
        arg_names: array(f[17]),
        result: f[18],
        arguments: f[19],
        identity_arguments: f[20],
        source: f[21],
        description: null(f[22]),
    }
}

impl Proc {
    /// Whether `pg_type` has every type this function takes or returns.
    fn types_known(&self) -> bool {
        let known = |o: &u32| types::format_type(*o, None).is_some();
        known(&self.return_type)
            && self.arg_types.iter().all(known)
            && self.all_arg_types.iter().flatten().all(known)
            && (self.variadic == 0 || known(&self.variadic))
    }

    fn row(&self) -> Row {
        let mut row = vec![
            ("oid", V::O(self.oid)),
            ("proname", t(self.name)),
            ("pronamespace", V::O(oids::PG_CATALOG)),
            ("proowner", V::O(SUPERUSER_OID)),
            ("prolang", V::O(self.lang)),
            ("procost", V::F(self.cost)),
            ("prorows", V::F(self.rows)),
            ("provariadic", V::O(self.variadic)),
            ("prosupport", t("-")),
            ("prokind", t(self.kind)),
            ("proisstrict", V::B(self.strict)),
            ("proretset", V::B(self.returns_set)),
            ("provolatile", t(self.volatility)),
            ("proparallel", t(self.parallel)),
            ("pronargs", V::I(self.nargs)),
            ("pronargdefaults", V::I(self.nargdefaults)),
            ("prorettype", V::O(self.return_type)),
            ("proargtypes", V::OA(self.arg_types.clone())),
            ("prosrc", t(self.source)),
            ("proallargtypes", V::Null),
            ("proargmodes", V::Null),
            ("proargnames", V::Null),
            ("proargdefaults", V::Null),
            ("protrftypes", V::Null),
            ("probin", V::Null),
            ("prosqlbody", V::Null),
            ("proconfig", V::Null),
            ("proacl", V::Null),
        ];
        let mut set = |name: &'static str, v: V| {
            if let Some(slot) = row.iter_mut().find(|(n, _)| *n == name) {
                slot.1 = v;
            }
        };
        if let Some(a) = &self.all_arg_types {
            set("proallargtypes", V::OA(a.clone()));
        }
        if let Some(m) = &self.arg_modes {
            set("proargmodes", V::TA(m.clone()));
        }
        if let Some(n) = &self.arg_names {
            set("proargnames", V::TA(n.clone()));
        }
        row
    }
}

/// PostgreSQL's comments on the functions `pg_proc` can list, for `pg_description`.
pub(crate) fn described() -> impl Iterator<Item = (u32, &'static str)> {
    all()
        .iter()
        .filter(|p| p.types_known())
        .filter_map(|p| Some((p.oid, p.description?)))
}

/// `pg_proc`'s rows for a session that can call the functions named in `callable`.
pub(crate) fn rows(callable: &BTreeSet<String>) -> Vec<Row> {
    all()
        .iter()
        .filter(|p| callable.contains(p.name) && p.types_known())
        .map(Proc::row)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dump_parses_and_is_sorted_by_oid() {
        let procs = all();
        assert!(procs.len() > 2000);
        assert!(procs.windows(2).all(|w| w[0].oid < w[1].oid));
        let lower = procs.iter().find(|p| p.name == "lower").expect("lower");
        assert_eq!(by_oid(lower.oid).map(|p| p.name), Some("lower"));
    }

    #[test]
    fn only_callable_functions_with_known_types_are_listed() {
        let callable: BTreeSet<String> = ["sum", "upper"].map(String::from).into();
        let rows = rows(&callable);
        let names: BTreeSet<String> = rows
            .iter()
            .filter_map(|r| match &r[1].1 {
                V::T(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(names, callable);
        // upper(text) and upper(anyrange) exist; every listed row's types are in pg_type.
        assert!(all().iter().filter(|p| p.name == "sum").count() >= rows.len() / 2);
    }
}
