//! Spreading one operator step over the dataflow workers by key shard.
//!
//! A stateful operator's state is keyed by a shard key (group, join key, view row) whose vnode
//! is part of every state key, so items of different vnodes touch disjoint keys. Items are dealt
//! to workers by vnode; each worker reads the epoch's state (committed snapshot plus the step's
//! pending writes so far) and writes through its own `Overlay`; the overlays merge back when
//! all are done. The result is the same as processing the items in one thread, shard by shard.

use eddy_common::Result;
use eddy_storage::vnode_of;

use crate::state::{Overlay, StateAccess, StateStore};

/// Items in one step from which the work is spread over the workers by default: below it,
/// starting threads costs more than it saves.
pub const PARALLEL_ITEMS_MIN: usize = 512;

/// How a step may use the workers.
#[derive(Clone, Copy, Debug)]
pub struct Parallelism {
    pub workers: usize,
    /// Items from which a step is spread over the workers.
    pub items_min: usize,
}

/// Runs `f` over `items`, sharded by the vnode of each item's shard key over the workers.
pub fn sharded<T: Sync, R: Send>(
    state: &mut StateStore,
    par: Parallelism,
    items: Vec<T>,
    shard_key: impl Fn(&T) -> &[u8] + Sync,
    f: impl Fn(&mut dyn StateAccess, &[T]) -> Result<Vec<R>> + Sync,
) -> Result<Vec<R>> {
    let workers = par.workers;
    if workers <= 1 || items.len() < par.items_min.max(2) {
        return f(state, &items);
    }
    let mut parts: Vec<Vec<T>> = (0..workers).map(|_| vec![]).collect();
    for it in items {
        let w = vnode_of(shard_key(&it)) as usize % workers;
        parts[w].push(it);
    }
    let base: &StateStore = state;
    let results: Vec<Result<_>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .map(|part| {
                let f = &f;
                scope.spawn(move || {
                    let mut ov = Overlay::new(base);
                    let out = f(&mut ov, part)?;
                    Ok((out, ov.writes))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("dataflow worker panicked"))
            .collect()
    });
    let mut out = vec![];
    for r in results {
        let (o, writes) = r?;
        state.absorb(writes);
        out.extend(o);
    }
    Ok(out)
}
