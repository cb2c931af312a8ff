//! Eddy's own system tables, in `pg_catalog` beside PostgreSQL's (so they resolve unqualified,
//! as PostgreSQL's do): `eddy_subscribers`, the subscriptions running now with their position
//! and lag, and `eddy_subscriptions`, the named durable subscriptions.

use super::{Row, V, t};
use crate::catalog::{Catalog, Relation};

/// Same shape as `columns::SYSTEM_TABLES`, with OIDs in the range PostgreSQL leaves free between
/// what initdb assigns and the first user object (16384).
pub(crate) const EDDY_TABLES: &[(&str, &str, char, u32, &str)] = &[
    (
        "pg_catalog",
        "eddy_subscribers",
        'v',
        16_000,
        "id:int8,pid:int4,kind:text,target:text,subscription:name,cursor:name,\
         started_epoch:int8,position:int8,committed_epoch:int8,lag_epochs:int8,rows_sent:int8",
    ),
    (
        "pg_catalog",
        "eddy_subscriptions",
        'v',
        16_001,
        "name:name,view_schema:name,view_name:name,retention_seconds:int8,created_epoch:int8",
    ),
];

pub(crate) fn rows(table: &str, catalog: &Catalog) -> Vec<Row> {
    match table {
        "eddy_subscribers" => {
            // Read once, so every row's lag is against the same epoch.
            let committed = catalog.epoch_committed();
            catalog
                .subscribers
                .list()
                .iter()
                .map(|s| {
                    let position = s.position();
                    vec![
                        ("id", V::I(s.id as i64)),
                        ("pid", V::I(s.about.pid.into())),
                        ("kind", t(s.about.kind)),
                        ("target", t(&s.about.target)),
                        (
                            "subscription",
                            s.about.subscription.as_ref().map_or(V::Null, t),
                        ),
                        ("cursor", s.about.cursor.as_ref().map_or(V::Null, t)),
                        ("started_epoch", V::I(s.about.started_epoch as i64)),
                        ("position", V::I(position as i64)),
                        ("committed_epoch", V::I(committed as i64)),
                        (
                            "lag_epochs",
                            V::I(committed.saturating_sub(position) as i64),
                        ),
                        ("rows_sent", V::I(s.rows() as i64)),
                    ]
                })
                .collect()
        }
        "eddy_subscriptions" => catalog
            .subscriptions()
            .iter()
            .map(|s| {
                let (schema, name) = match catalog.relation_by_id(s.view) {
                    Some(Relation::View(v)) => (t(&v.def.schema), t(&v.def.name)),
                    _ => (V::Null, V::Null),
                };
                vec![
                    ("name", t(&s.name)),
                    ("view_schema", schema),
                    ("view_name", name),
                    ("retention_seconds", V::I(s.retention_secs as i64)),
                    ("created_epoch", V::I(s.created_epoch as i64)),
                ]
            })
            .collect(),
        _ => vec![],
    }
}
