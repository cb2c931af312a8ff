//! Catalog records as persisted (JSON in the `meta` column family).

use eddy_common::{PgType, TableId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: PgType,
    pub not_null: bool,
    /// The `DEFAULT` expression as SQL text, planned again when the table is loaded.
    pub default: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TableDef {
    pub id: TableId,
    pub schema: String,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Indexes into `columns`; empty means rows are keyed by a hidden row id.
    pub primary_key: Vec<usize>,
    /// Set by `WITH (retain_history = ...)`: the table's changes are kept in the changelog, so
    /// a `SUBSCRIBE (query) AS OF` an earlier epoch can rebuild what the query gave then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<History>,
}

/// How long a table keeps its changes, and since when it has kept them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct History {
    pub retention_secs: u64,
    /// The epoch that turned the history on: every change after it is kept (until pruned), so
    /// the table's contents can be rebuilt as of this epoch or any later one.
    pub since_epoch: u64,
}

impl TableDef {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The constraint name PostgreSQL would give the primary key.
    pub fn pkey_name(&self) -> String {
        format!("{}_pkey", self.name)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SchemaDef {
    pub id: u32,
    pub name: String,
}

/// A view as persisted. A materialized view's rows live under `id` in the `data` column family
/// (one key per distinct row, the value its multiplicity); its operators' state tables use the
/// ids `id + 1 ..= id + state_count`. The dataflow is compiled again from `sql` at start;
/// `fingerprint` (the compiled dataflow's description) tells whether that compilation still
/// matches the persisted state.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ViewDef {
    pub id: TableId,
    pub schema: String,
    pub name: String,
    /// The defining query, as SQL text.
    pub sql: String,
    pub columns: Vec<ColumnDef>,
    pub materialized: bool,
    pub state_count: u32,
    /// Tables and views the query reads, by id.
    pub inputs: Vec<TableId>,
    pub fingerprint: String,
    /// The epoch the view was created in: its changes are known from there on, so a
    /// subscription cannot start before it. 0 for views made before Eddy recorded it.
    #[serde(default)]
    pub created_epoch: u64,
}

/// A named, durable subscription (`CREATE SUBSCRIPTION s FROM v WITH (retention = ...)`): the
/// view it follows and how long that view's changes must be kept for it. Where a client is up
/// to is the client's to remember (`SINCE <epoch>`), so nothing changes here as it reads.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SubscriptionDef {
    pub name: String,
    pub view: TableId,
    pub retention_secs: u64,
    /// The epoch the subscription was created at: the oldest it can be resumed from.
    pub created_epoch: u64,
}
