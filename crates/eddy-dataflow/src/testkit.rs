//! Test helpers: Z-set batches written by hand, and epochs against a throwaway store.
//!
//! `pretty("k:utf8 v:int64", "+1 a 1\n-1 b 2")` is a batch with weights +1 and -1
//! (RisingWave's `StreamChunk::from_pretty` is the model); `NULL` is a null.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use eddy_common::TableId;
use eddy_storage::{Store, WriteSet};

use crate::operator::{Operator, StepCx};
use crate::parallel::Parallelism;
use crate::state::StateStore;
use crate::zset::ZBatch;

pub fn schema(spec: &str) -> SchemaRef {
    Arc::new(Schema::new(
        spec.split_whitespace()
            .map(|c| {
                let (name, ty) = c.split_once(':').expect("name:type");
                let dt = match ty {
                    "int64" => DataType::Int64,
                    "utf8" => DataType::Utf8,
                    other => panic!("type {other}"),
                };
                Field::new(name, dt, true)
            })
            .collect::<Vec<_>>(),
    ))
}

pub fn pretty(schema: &SchemaRef, rows: &str) -> ZBatch {
    let lines: Vec<Vec<&str>> = rows
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|l| !l.is_empty())
        .collect();
    let weights = lines
        .iter()
        .map(|l| l[0].parse().expect("weight"))
        .collect();
    let cols: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let cell = |l: &Vec<&'_ str>| -> Option<String> {
                Some(l[i + 1]).filter(|c| *c != "NULL").map(str::to_string)
            };
            match f.data_type() {
                DataType::Int64 => Arc::new(Int64Array::from_iter(
                    lines
                        .iter()
                        .map(|l| cell(l).map(|c| c.parse::<i64>().unwrap())),
                )) as ArrayRef,
                _ => Arc::new(StringArray::from_iter(lines.iter().map(cell))) as ArrayRef,
            }
        })
        .collect();
    let rows = crate::zset::rebatch_columns(schema, cols, lines.len()).unwrap();
    ZBatch::new(rows, weights)
}

/// The rows of a batch as sorted text lines `weight cells...`, for assertions.
pub fn lines(z: &Option<ZBatch>) -> Vec<String> {
    let Some(z) = z else { return vec![] };
    let mut out: Vec<String> = (0..z.len())
        .map(|i| {
            let cells: Vec<String> = z
                .rows
                .columns()
                .iter()
                .map(|c| {
                    datafusion::arrow::util::display::array_value_to_string(c, i)
                        .map(|s| if c.is_null(i) { "NULL".into() } else { s })
                        .unwrap()
                })
                .collect();
            format!("{:+} {}", z.weights[i], cells.join(" "))
        })
        .collect();
    out.sort();
    out
}

use datafusion::arrow::array::Array;

/// A throwaway store on which steps run as committed epochs.
pub struct Epochs {
    store: Store,
    dir: std::path::PathBuf,
}

impl Epochs {
    pub fn new(tag: &str) -> Epochs {
        let dir = std::env::temp_dir().join(format!(
            "eddy-dataflow-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Epochs {
            store: Store::open(&dir).unwrap(),
            dir,
        }
    }

    /// One epoch: `op` sees `inputs` and its state as committed by earlier epochs.
    pub fn step(&self, op: &dyn Operator, inputs: Vec<(TableId, ZBatch)>) -> Option<ZBatch> {
        let inputs: HashMap<TableId, ZBatch> = inputs.into_iter().collect();
        let mut state = StateStore::new(self.store.snapshot());
        let mut cx = StepCx {
            state: &mut state,
            inputs: &inputs,
            first: false,
            errors: vec![],
            rows_processed: 0,
            parallel: Parallelism {
                workers: 2,
                items_min: 2,
            },
        };
        let out = op.step(&mut cx).unwrap();
        let mut w = WriteSet::default();
        w.data.extend(state.into_pending());
        let _ = self.store.commit(w).unwrap();
        out
    }
}

impl Drop for Epochs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
