//! The writes of one statement or transaction before they commit.

use std::collections::BTreeMap;

use crate::store::Cf;

/// Pending puts (`Some`) and deletes (`None`) per column family, in key order. Later writes to
/// a key replace earlier ones, so a transaction's overlay always holds the latest state.
#[derive(Default, Debug, Clone)]
pub struct WriteSet {
    pub data: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    pub meta: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Prefixes of `data` to delete whole (a dropped table), applied before the puts above.
    pub data_prefix_deletes: Vec<Vec<u8>>,
    /// Inserts of keys checked to be absent, for autocommit bulk loads: kept flat and unordered,
    /// so a large COPY costs no map node or allocation per row. Never read by a scan, so only
    /// statements outside a transaction may use it.
    pub bulk: BulkPuts,
    /// Other writes of this set were computed from the bulk puts (a view's rows and state, a
    /// table's history). The bulk puts then go in the same WAL batch as those, never as a file
    /// ingested after it, so a crash cannot keep the derived writes without their source.
    pub bulk_feeds_others: bool,
}

/// Append-only `data` puts in one buffer: `key | value` back to back, indexed by lengths.
#[derive(Default, Debug, Clone)]
pub struct BulkPuts {
    bytes: Vec<u8>,
    /// (offset, key length, value length) of each put.
    index: Vec<(usize, u32, u32)>,
    /// The index is in strictly increasing key order (set by a sort that found no duplicate).
    sorted_unique: bool,
}

impl BulkPuts {
    pub fn push(&mut self, key: &[u8], value: &[u8]) {
        self.index
            .push((self.bytes.len(), key.len() as u32, value.len() as u32));
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(value);
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.index.iter().map(|&(off, kl, vl)| {
            let k = off + kl as usize;
            (&self.bytes[off..k], &self.bytes[k..k + vl as usize])
        })
    }

    pub fn keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Orders the puts by key (the index, not the data) and returns a key put twice, if any.
    /// Sorted puts also make the commit cheaper: RocksDB's memtable inserts them in order.
    pub fn sort_and_find_duplicate(&mut self) -> Option<&[u8]> {
        let bytes = &self.bytes;
        let key = |i: &(usize, u32, u32)| &bytes[i.0..i.0 + i.1 as usize];
        // Stable merge sort: bulk loads push sorted runs (one per chunk), which it merges.
        self.index.sort_by(|a, b| key(a).cmp(key(b)));
        let dup = self.index.windows(2).position(|w| key(&w[0]) == key(&w[1]));
        self.sorted_unique = dup.is_none();
        dup.map(|i| key(&self.index[i]))
    }

    /// Whether `iter` yields strictly increasing keys, as an SST file requires.
    pub fn is_sorted_unique(&self) -> bool {
        self.sorted_unique
    }
}

impl WriteSet {
    pub fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        self.map_mut(cf).insert(key, Some(value));
    }

    pub fn delete(&mut self, cf: Cf, key: Vec<u8>) {
        self.map_mut(cf).insert(key, None);
    }

    /// Deletes every `cf` key starting with `prefix` (only `Cf::Data` is supported).
    pub fn delete_range(&mut self, cf: Cf, prefix: Vec<u8>) {
        assert_eq!(cf, Cf::Data, "prefix deletes exist for table data only");
        self.data.retain(|k, _| !k.starts_with(&prefix));
        self.data_prefix_deletes.push(prefix);
    }

    pub fn get(&self, cf: Cf, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.map(cf).get(key)
    }

    pub fn map(&self, cf: Cf) -> &BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        match cf {
            Cf::Data => &self.data,
            Cf::Meta => &self.meta,
        }
    }

    fn map_mut(&mut self, cf: Cf) -> &mut BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        match cf {
            Cf::Data => &mut self.data,
            Cf::Meta => &mut self.meta,
        }
    }

    /// Folds `later` over `self`: what `later` wrote wins.
    pub fn absorb(&mut self, later: WriteSet) {
        for p in &later.data_prefix_deletes {
            self.data.retain(|k, _| !k.starts_with(p));
        }
        self.data_prefix_deletes.extend(later.data_prefix_deletes);
        debug_assert!(later.bulk.is_empty(), "bulk puts never join a transaction");
        self.data.extend(later.data);
        self.meta.extend(later.meta);
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.meta.is_empty()
            && self.data_prefix_deletes.is_empty()
            && self.bulk.is_empty()
    }

    pub fn len(&self) -> usize {
        self.data.len() + self.meta.len() + self.bulk.len()
    }

    /// Keys of `cf` in `[prefix, prefix+)` with their pending value.
    pub fn range_with_prefix<'a, 'p>(
        &'a self,
        cf: Cf,
        prefix: &'p [u8],
    ) -> impl Iterator<Item = (&'a Vec<u8>, &'a Option<Vec<u8>>)> + use<'a, 'p> {
        self.map(cf)
            .range(prefix.to_vec()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
    }
}
