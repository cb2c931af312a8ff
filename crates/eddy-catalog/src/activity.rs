//! Who is subscribed right now. Every running subscription registers here for as long as it
//! lives, with how far its client has got, so that `pg_catalog.eddy_subscribers` can list them
//! with their position and lag. Nothing here is durable: it describes connections.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// One running subscription.
#[derive(Debug)]
pub struct SubscriberInfo {
    pub id: u64,
    /// What it is, as it registered.
    pub about: NewSubscriber,
    /// Every change up to this epoch has been handed to the client.
    position: AtomicU64,
    /// Rows handed to the client so far (progress rows not counted).
    rows: AtomicU64,
}

impl SubscriberInfo {
    pub fn position(&self) -> u64 {
        self.position.load(Ordering::Relaxed)
    }

    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }
}

/// What a subscription is.
#[derive(Debug)]
pub struct NewSubscriber {
    /// The backend process id of the session reading it.
    pub pid: i32,
    /// How it is read: `copy`, `cursor`, or `subscription cursor` (a named subscription's).
    pub kind: &'static str,
    /// The view, as `schema.name`, or the subscribed query.
    pub target: String,
    /// The named subscription it reads, if any.
    pub subscription: Option<String>,
    /// The cursor it is read through, if any.
    pub cursor: Option<String>,
    /// The epoch it started from.
    pub started_epoch: u64,
}

#[derive(Debug, Default)]
pub struct Subscribers {
    next: AtomicU64,
    live: Mutex<BTreeMap<u64, Arc<SubscriberInfo>>>,
}

impl Subscribers {
    /// Registers a subscription until the handle is dropped.
    pub fn register(self: &Arc<Self>, s: NewSubscriber) -> SubscriberHandle {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let info = Arc::new(SubscriberInfo {
            id,
            position: AtomicU64::new(s.started_epoch),
            rows: AtomicU64::new(0),
            about: s,
        });
        self.live
            .lock()
            .expect("subscribers")
            .insert(id, info.clone());
        SubscriberHandle {
            info,
            registry: Arc::downgrade(self),
        }
    }

    /// The running subscriptions, oldest first.
    pub fn list(&self) -> Vec<Arc<SubscriberInfo>> {
        self.live
            .lock()
            .expect("subscribers")
            .values()
            .cloned()
            .collect()
    }
}

/// A registered subscription; dropping it unregisters it.
#[derive(Debug)]
pub struct SubscriberHandle {
    info: Arc<SubscriberInfo>,
    registry: Weak<Subscribers>,
}

impl SubscriberHandle {
    /// The client now has every change up to `epoch`, and `rows` more rows.
    pub fn advance(&self, epoch: u64, rows: u64) {
        self.info.position.fetch_max(epoch, Ordering::Relaxed);
        self.info.rows.fetch_add(rows, Ordering::Relaxed);
    }
}

impl Drop for SubscriberHandle {
    fn drop(&mut self) {
        if let Some(r) = self.registry.upgrade() {
            r.live.lock().expect("subscribers").remove(&self.info.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscriber_is_listed_while_its_handle_lives() {
        let r = Arc::new(Subscribers::default());
        let h = r.register(NewSubscriber {
            pid: 7,
            kind: "copy",
            target: "public.v".into(),
            subscription: None,
            cursor: None,
            started_epoch: 3,
        });
        h.advance(5, 2);
        h.advance(4, 1);
        let l = r.list();
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].position(), l[0].rows()), (5, 3));
        drop(h);
        assert!(r.list().is_empty());
    }
}
