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
        self.data.extend(later.data);
        self.meta.extend(later.meta);
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty() && self.meta.is_empty() && self.data_prefix_deletes.is_empty()
    }

    pub fn len(&self) -> usize {
        self.data.len() + self.meta.len()
    }

    /// Keys of `cf` in `[prefix, prefix+)` with their pending value.
    pub fn range_with_prefix<'a>(
        &'a self,
        cf: Cf,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = (&'a Vec<u8>, &'a Option<Vec<u8>>)> + 'a {
        self.map(cf)
            .range(prefix.to_vec()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
    }
}
