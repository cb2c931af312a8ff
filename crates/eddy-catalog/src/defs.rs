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
