//! State of one epoch: reads see the last committed epoch plus the writes this epoch made so
//! far; writes stay pending until the coordinator puts them into the epoch's write set.
//!
//! State keys: `state table id (u32) | vnode of the shard key (u16) | shard key length (u32) |
//! shard key | rest`. The shard key is what an operator partitions by (a group, a join key), so
//! everything one key needs sits in one vnode and one contiguous range, in memcomparable order.

use std::collections::BTreeMap;

use eddy_common::{Result, TableId};
use eddy_storage::{Cf, Snapshot, table_prefix, vnode_of};

pub struct StateStore {
    snapshot: Snapshot,
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl StateStore {
    pub fn new(snapshot: Snapshot) -> StateStore {
        StateStore {
            snapshot,
            pending: BTreeMap::new(),
        }
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.pending.get(key) {
            return Ok(v.clone());
        }
        self.snapshot.get(Cf::Data, key)
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.pending.insert(key, Some(value));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.pending.insert(key, None);
    }

    /// Live entries under `prefix` in key order, until `f` returns `false`.
    pub fn scan_prefix(
        &self,
        prefix: &[u8],
        f: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        merge_scan(&self.pending, prefix, f, |g| {
            self.snapshot.scan_prefix_while(Cf::Data, prefix, g)
        })
    }

    /// Takes in the writes a worker made through an `Overlay` (keys of its own shards).
    pub fn absorb(&mut self, writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
        self.pending.extend(writes);
    }

    /// The epoch's state writes, for the coordinator's write set.
    pub fn into_pending(self) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        self.pending
    }
}

/// Calls `f` on the live entries under `prefix` of `pending` laid over `under` (which scans
/// the layer below, stopping when its callback returns `false`), in key order.
fn merge_scan(
    pending: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    prefix: &[u8],
    mut f: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    under: impl FnOnce(&mut ScanFn) -> Result<()>,
) -> Result<()> {
    let pending: Vec<(&Vec<u8>, &Option<Vec<u8>>)> = pending
        .range(prefix.to_vec()..)
        .take_while(|(k, _)| k.starts_with(prefix))
        .collect();
    let mut next = 0;
    let mut go = true;
    under(&mut |k, v| {
        while next < pending.len() && pending[next].0.as_slice() < k {
            if let Some(pv) = pending[next].1
                && !f(pending[next].0, pv)?
            {
                go = false;
                return Ok(false);
            }
            next += 1;
        }
        if next < pending.len() && pending[next].0.as_slice() == k {
            next += 1;
            if let Some(pv) = pending[next - 1].1 {
                go = f(k, pv)?;
            }
            return Ok(go);
        }
        go = f(k, v)?;
        Ok(go)
    })?;
    if go {
        for (k, v) in &pending[next..] {
            if let Some(v) = v
                && !f(k, v)?
            {
                break;
            }
        }
    }
    Ok(())
}

/// Called with each (key, value) of a scan; returns whether to go on.
pub type ScanFn<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'a;

/// What operators read and write state through: the epoch's `StateStore`, or a worker's
/// `Overlay` on it while operators process shards in parallel.
pub trait StateAccess {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>);
    fn delete(&mut self, key: Vec<u8>);
    fn scan_prefix(&self, prefix: &[u8], f: &mut ScanFn) -> Result<()>;

    /// Adds `w` to the `i64` counter at `key`; a counter that reaches zero is deleted. Returns
    /// (old, new).
    fn add_count(&mut self, key: Vec<u8>, w: i64) -> Result<(i64, i64)> {
        let old = self.get(&key)?.map(|v| decode_i64(&v)).unwrap_or(0);
        let new = old + w;
        if new == 0 {
            self.delete(key);
        } else {
            self.put(key, new.to_be_bytes().to_vec());
        }
        Ok((old, new))
    }
}

impl StateAccess for StateStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        StateStore::get(self, key)
    }
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        StateStore::put(self, key, value)
    }
    fn delete(&mut self, key: Vec<u8>) {
        StateStore::delete(self, key)
    }
    fn scan_prefix(&self, prefix: &[u8], f: &mut ScanFn) -> Result<()> {
        StateStore::scan_prefix(self, prefix, f)
    }
}

/// A worker's private writes over the shared epoch state: workers own disjoint shards (key
/// ranges), so their writes never overlap and merge back with `StateStore::absorb`.
pub struct Overlay<'a> {
    base: &'a StateStore,
    pub writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> Overlay<'a> {
    pub fn new(base: &'a StateStore) -> Overlay<'a> {
        Overlay {
            base,
            writes: BTreeMap::new(),
        }
    }
}

impl StateAccess for Overlay<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }
    fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }
    fn scan_prefix(&self, prefix: &[u8], f: &mut ScanFn) -> Result<()> {
        merge_scan(&self.writes, prefix, f, |g| {
            self.base.scan_prefix(prefix, g)
        })
    }
}

pub fn decode_i64(v: &[u8]) -> i64 {
    i64::from_be_bytes(v.try_into().unwrap_or([0; 8]))
}

/// The prefix of everything state table `id` keeps for `shard`.
pub fn shard_prefix(id: TableId, shard: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(10 + shard.len());
    k.extend_from_slice(&table_prefix(id));
    k.extend_from_slice(&vnode_of(shard).to_be_bytes());
    k.extend_from_slice(&(shard.len() as u32).to_be_bytes());
    k.extend_from_slice(shard);
    k
}

pub fn state_key(id: TableId, shard: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut k = shard_prefix(id, shard);
    k.extend_from_slice(rest);
    k
}
