//! The RocksDB database, its snapshots and the epoch commit.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use eddy_common::{Epoch, Error, Result};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, DB, DBCompressionType, Direction, IteratorMode,
    Options, ReadOptions, SnapshotWithThreadMode, WriteBatch, WriteOptions,
};

use crate::write_set::WriteSet;

const CF_DATA: &str = "data";
const CF_META: &str = "meta";
/// Meta key holding the last committed epoch (u64 BE).
const EPOCH_KEY: &[u8] = b"sys/epoch";

/// Column families: `data` holds rows (and later operator state), `meta` the catalog, counters
/// and the committed epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cf {
    Data,
    Meta,
}

/// The process's one RocksDB database.
///
/// The handle is leaked on purpose: a server opens exactly one database for its whole life, and
/// a `'static` handle lets snapshots and iterators be shared across async tasks without
/// self-referential structs or `unsafe`.
#[derive(Clone)]
pub struct Store {
    db: &'static DB,
    epoch_committed: Arc<AtomicU64>,
    /// Options of the `data` column family, which SST files written for ingestion must share.
    data_opts: Arc<Options>,
    dir: Arc<std::path::PathBuf>,
}

/// Bulk puts at least this large are written as a sorted SST file and ingested, bypassing the
/// memtable and the WAL: for a large COPY that halves the work of the commit.
const BULK_INGEST_ROWS_MIN: usize = 100_000;

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(2);
        opts.set_bytes_per_sync(1 << 20);
        let cache = Cache::new_lru_cache(256 << 20);
        let mut cf_opts = Options::default();
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        // Point reads (primary-key checks on every insert) dominate: bloom filters make the
        // common "key is absent" answer cost no disk read.
        table.set_bloom_filter(10.0, false);
        table.set_cache_index_and_filter_blocks(true);
        cf_opts.set_block_based_table_factory(&table);
        cf_opts.set_compression_type(DBCompressionType::Lz4);
        cf_opts.set_bottommost_compression_type(DBCompressionType::Zstd);
        cf_opts.set_write_buffer_size(64 << 20);
        // Ingested bulk files get the fast codec; compaction recompresses the bottom level.
        let mut ingest_opts = cf_opts.clone();
        ingest_opts.set_bottommost_compression_type(DBCompressionType::Lz4);
        let data_opts = Arc::new(ingest_opts);
        let cfs = vec![
            rocksdb::ColumnFamilyDescriptor::new(CF_DATA, cf_opts.clone()),
            rocksdb::ColumnFamilyDescriptor::new(CF_META, cf_opts),
        ];
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(|e| {
            Error::io(
                format!("could not open data directory \"{}\": {e}", path.display()),
                e,
            )
        })?;
        let db: &'static DB = Box::leak(Box::new(db));
        let epoch = match db.get_cf(db.cf_handle(CF_META).expect("meta cf"), EPOCH_KEY) {
            Ok(Some(v)) => u64::from_be_bytes(v.as_slice().try_into().unwrap_or([0; 8])),
            Ok(None) => 0,
            Err(e) => return Err(Error::io("could not read the committed epoch", e)),
        };
        Ok(Store {
            db,
            epoch_committed: Arc::new(AtomicU64::new(epoch)),
            data_opts,
            dir: Arc::new(path.to_path_buf()),
        })
    }

    fn cf(&self, cf: Cf) -> &'static ColumnFamily {
        self.db
            .cf_handle(match cf {
                Cf::Data => CF_DATA,
                Cf::Meta => CF_META,
            })
            .expect("column families are created at open")
    }

    /// A consistent view of everything committed so far.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            store: self.clone(),
            inner: Arc::new(self.db.snapshot()),
            epoch: self.epoch_committed.load(Ordering::Acquire),
        }
    }

    pub fn epoch_committed(&self) -> Epoch {
        self.epoch_committed.load(Ordering::Acquire)
    }

    /// Commits `writes` atomically as the next epoch and returns it. The write goes through the
    /// WAL before this returns, so it survives the process being killed. Callers serialize
    /// commits (the coordinator holds its commit lock), which is what keeps epochs ordered.
    #[must_use = "the committed epoch tells readers what they may see"]
    pub fn commit(&self, writes: WriteSet) -> Result<Epoch> {
        let epoch = self.epoch_committed.load(Ordering::Acquire) + 1;
        let mut batch = WriteBatch::default();
        let data = self.cf(Cf::Data);
        let meta = self.cf(Cf::Meta);
        for prefix in &writes.data_prefix_deletes {
            let mut end = prefix.clone();
            if increment(&mut end) {
                batch.delete_range_cf(data, prefix, &end);
            }
        }
        for (k, v) in &writes.data {
            match v {
                Some(v) => batch.put_cf(data, k, v),
                None => batch.delete_cf(data, k),
            }
        }
        let ingest = !writes.bulk_feeds_others
            && writes.bulk.len() >= BULK_INGEST_ROWS_MIN
            && writes.bulk.is_sorted_unique();
        let sst = if ingest {
            Some(self.write_sst(&writes, epoch)?)
        } else {
            None
        };
        if !ingest {
            for (k, v) in writes.bulk.iter() {
                batch.put_cf(data, k, v);
            }
        }
        for (k, v) in &writes.meta {
            match v {
                Some(v) => batch.put_cf(meta, k, v),
                None => batch.delete_cf(meta, k),
            }
        }
        batch.put_cf(meta, EPOCH_KEY, epoch.to_be_bytes());
        let mut wo = WriteOptions::default();
        // The WAL write reaches the OS before `write` returns: enough for kill -9. An fsync per
        // commit (power-loss safety) is a later, configurable choice.
        wo.set_sync(false);
        self.db
            .write_opt(batch, &wo)
            .map_err(|e| Error::io("could not commit", e))?;
        // The epoch is taken as soon as its batch is durable, so a failed ingestion below can
        // never make the next commit reuse its number.
        let prev = self.epoch_committed.swap(epoch, Ordering::AcqRel);
        debug_assert_eq!(prev + 1, epoch, "commits must be serialized by the caller");
        // The rest of the epoch is durable first: a crash before the ingestion leaves the bulk
        // rows out (the client got no acknowledgement) but never reuses a row id.
        if let Some(path) = sst {
            let mut io = rocksdb::IngestExternalFileOptions::default();
            io.set_move_files(true);
            let r = self.db.ingest_external_file_cf_opts(data, &io, vec![&path]);
            let _ = std::fs::remove_file(&path);
            r.map_err(|e| Error::io("could not ingest the bulk load", e))?;
        }
        Ok(epoch)
    }

    /// Writes the bulk puts (already in strictly increasing key order) as one SST file.
    fn write_sst(&self, writes: &WriteSet, epoch: Epoch) -> Result<std::path::PathBuf> {
        let path = self.dir.join(format!("eddy-bulk-{epoch}.sst"));
        let mut w = rocksdb::SstFileWriter::create(&self.data_opts);
        let err = |e| Error::io("could not write the bulk load file", e);
        w.open(&path).map_err(err)?;
        for (k, v) in writes.bulk.iter() {
            w.put(k, v).map_err(err)?;
        }
        w.finish().map_err(err)?;
        Ok(path)
    }

    /// Deletes `[from, to)` at once, outside any epoch: for data no epoch's reads depend on
    /// (changelog entries older than every reader's horizon). Snapshots taken before still
    /// see the keys.
    pub fn delete_range_now(&self, cf: Cf, from: &[u8], to: &[u8]) -> Result<()> {
        self.db
            .delete_range_cf(self.cf(cf), from, to)
            .map_err(|e| Error::io("could not delete a key range", e))
    }

    /// Writes one key at once, outside any epoch (bookkeeping such as the changelog horizon).
    pub fn put_now(&self, cf: Cf, key: &[u8], value: &[u8]) -> Result<()> {
        self.db
            .put_cf(self.cf(cf), key, value)
            .map_err(|e| Error::io("could not write", e))
    }

    /// Flushes memtables and the WAL: used at clean shutdown so restart replays little.
    pub fn flush(&self) -> Result<()> {
        self.db
            .flush_wal(true)
            .map_err(|e| Error::io("could not flush the WAL", e))
    }
}

/// A consistent read of one committed epoch. Cheap to clone; every table read by one statement
/// uses the same snapshot, so they agree with each other.
#[derive(Clone)]
pub struct Snapshot {
    store: Store,
    inner: Arc<SnapshotWithThreadMode<'static, DB>>,
    epoch: Epoch,
}

impl Snapshot {
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut ro = ReadOptions::default();
        ro.set_snapshot(&self.inner);
        self.store
            .db
            .get_cf_opt(self.store.cf(cf), key, &ro)
            .map_err(|e| Error::io("could not read", e))
    }

    /// Looks up many keys at once; RocksDB batches the work, which matters for the primary-key
    /// checks of a large COPY.
    pub fn multi_get<K: AsRef<[u8]>>(&self, cf: Cf, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>> {
        self.multi_get_opt(cf, keys, false)
    }

    /// `multi_get` for keys already in increasing order: RocksDB then skips its own sort.
    pub fn multi_get_sorted<K: AsRef<[u8]>>(
        &self,
        cf: Cf,
        keys: &[K],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        debug_assert!(keys.windows(2).all(|w| w[0].as_ref() <= w[1].as_ref()));
        self.multi_get_opt(cf, keys, true)
    }

    fn multi_get_opt<K: AsRef<[u8]>>(
        &self,
        cf: Cf,
        keys: &[K],
        sorted: bool,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let mut ro = ReadOptions::default();
        ro.set_snapshot(&self.inner);
        let handle = self.store.cf(cf);
        self.store
            .db
            .batched_multi_get_cf_opt(handle, keys.iter().map(|k| k.as_ref()), sorted, &ro)
            .into_iter()
            .map(|r| {
                r.map(|o| o.map(|p| p.to_vec()))
                    .map_err(|e| Error::io("could not read", e))
            })
            .collect()
    }

    /// Calls `f` with every key/value under `prefix`, in key order.
    pub fn scan_prefix(
        &self,
        cf: Cf,
        prefix: &[u8],
        mut f: impl FnMut(&[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        self.scan_prefix_while(cf, prefix, |k, v| f(k, v).map(|_| true))
    }

    /// Like `scan_prefix`, stopping as soon as `f` returns `false` (a min/max lookup reads one
    /// entry, not the whole group).
    pub fn scan_prefix_while(
        &self,
        cf: Cf,
        prefix: &[u8],
        f: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        self.scan_prefix_from(cf, prefix, prefix, f)
    }

    /// Like `scan_prefix_while`, starting at `start` (a key under `prefix`): a changelog read
    /// resumes after the last epoch it delivered.
    pub fn scan_prefix_from(
        &self,
        cf: Cf,
        prefix: &[u8],
        start: &[u8],
        mut f: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        let mut ro = ReadOptions::default();
        ro.set_snapshot(&self.inner);
        let mut upper = prefix.to_vec();
        if increment(&mut upper) {
            ro.set_iterate_upper_bound(upper);
        }
        let iter = self.store.db.iterator_cf_opt(
            self.store.cf(cf),
            ro,
            IteratorMode::From(start.max(prefix), Direction::Forward),
        );
        for item in iter {
            let (k, v) = item.map_err(|e| Error::io("could not scan", e))?;
            if !k.starts_with(prefix) || !f(&k, &v)? {
                break;
            }
        }
        Ok(())
    }
}

/// The smallest byte string greater than every string with prefix `bytes`; false if none.
fn increment(bytes: &mut Vec<u8>) -> bool {
    while let Some(last) = bytes.last_mut() {
        if *last < 0xff {
            *last += 1;
            return true;
        }
        bytes.pop();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_is_visible_to_new_snapshots_only() {
        let dir = std::env::temp_dir().join(format!("eddy-store-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        let before = store.snapshot();
        let mut w = WriteSet::default();
        w.put(Cf::Data, b"t1".to_vec(), b"v1".to_vec());
        w.put(Cf::Data, b"t2".to_vec(), b"v2".to_vec());
        w.put(Cf::Data, b"u1".to_vec(), b"x".to_vec());
        let epoch = store.commit(w).unwrap();
        assert_eq!(epoch, before.epoch() + 1);
        assert_eq!(before.get(Cf::Data, b"t1").unwrap(), None);
        let after = store.snapshot();
        let mut seen = vec![];
        after
            .scan_prefix(Cf::Data, b"t", |k, v| {
                seen.push((k.to_vec(), v.to_vec()));
                Ok(())
            })
            .unwrap();
        assert_eq!(seen.len(), 2);
        let got = after
            .multi_get(Cf::Data, &[b"t2".to_vec(), b"zz".to_vec()])
            .unwrap();
        assert_eq!(got, vec![Some(b"v2".to_vec()), None]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Files of the data column family (ingested bulk loads; nothing is flushed this soon).
    fn data_files(store: &Store) -> usize {
        let files = store.db.live_files().unwrap();
        files
            .iter()
            .filter(|f| f.column_family_name == "data")
            .count()
    }

    fn bulk_load(first: u32, feeds_others: bool) -> WriteSet {
        let mut w = WriteSet::default();
        for i in first..first + BULK_INGEST_ROWS_MIN as u32 {
            w.bulk.push(&i.to_be_bytes(), b"v");
        }
        assert!(w.bulk.sort_and_find_duplicate().is_none());
        w.bulk_feeds_others = feeds_others;
        w
    }

    #[test]
    fn a_bulk_load_that_feeds_other_writes_commits_in_their_batch() {
        let dir = std::env::temp_dir().join(format!("eddy-store-bulk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        // On its own, a large bulk load is ingested as a file after the batch.
        store.commit(bulk_load(0, false)).unwrap();
        assert_eq!(data_files(&store), 1);
        // Feeding a view or a history, it goes through the WAL with them, atomically.
        store.commit(bulk_load(1 << 20, true)).unwrap();
        assert_eq!(data_files(&store), 1);
        let snap = store.snapshot();
        assert!(
            snap.get(Cf::Data, &(1u32 << 20).to_be_bytes())
                .unwrap()
                .is_some()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
