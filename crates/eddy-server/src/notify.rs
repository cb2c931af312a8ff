//! `LISTEN` / `NOTIFY` / `UNLISTEN`: channels, the sessions listening on each, and the
//! notification a materialized view sends on its own channel (payload: the epoch) after each
//! epoch that changed it. The cheapest push channel: every PostgreSQL driver already has it.
//!
//! A notification lands in each listener's inbox and wakes its connection, which sends it when
//! the session is between transactions (as PostgreSQL does). Nothing here waits for a
//! listener: a sender only appends to inboxes, so a slow listener never holds back writers.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, Weak};

use eddy_catalog::{DEFAULT_SCHEMA, ViewDef};
use eddy_common::{Error, Result, SqlState};
use eddy_pgwire::Notification;

/// PostgreSQL's limit on a NOTIFY payload, in bytes.
const MAX_PAYLOAD: usize = 7999;

/// Pending notifications past which an inbox folds a new notification into the newest one of
/// the same channel and sender (keeping the newer payload) instead of growing: a session that sits
/// in a transaction block while a view changes thousands of times learns the latest epoch, and
/// the server's memory stays bounded.
const INBOX_FOLD_AT: usize = 10_000;

/// One session's undelivered notifications.
#[derive(Default)]
pub(crate) struct Inbox {
    pid: AtomicI32,
    pending: Mutex<VecDeque<Notification>>,
    pub signal: Arc<tokio::sync::Notify>,
}

impl Inbox {
    pub fn set_pid(&self, pid: i32) {
        self.pid.store(pid, Ordering::Relaxed);
    }

    pub fn pid(&self) -> i32 {
        self.pid.load(Ordering::Relaxed)
    }

    fn push(&self, n: Notification) {
        {
            let mut q = self.pending.lock().expect("inbox");
            let older = match q.len() >= INBOX_FOLD_AT {
                true => q
                    .iter_mut()
                    .rev()
                    .find(|o| o.channel == n.channel && o.pid == n.pid),
                false => None,
            };
            match older {
                Some(o) => o.payload = n.payload,
                None => q.push_back(n),
            }
        }
        self.signal.notify_one();
    }

    pub fn take(&self) -> Vec<Notification> {
        self.pending.lock().expect("inbox").drain(..).collect()
    }
}

/// Who listens on which channel.
#[derive(Default)]
pub(crate) struct Channels {
    listeners: Mutex<HashMap<String, Vec<Weak<Inbox>>>>,
}

impl Channels {
    pub fn listen(&self, channel: &str, inbox: &Arc<Inbox>) {
        let mut l = self.listeners.lock().expect("channels");
        let list = l.entry(channel.to_string()).or_default();
        if !list.iter().any(|w| w.as_ptr() == Arc::as_ptr(inbox)) {
            list.push(Arc::downgrade(inbox));
        }
    }

    pub fn unlisten(&self, channel: &str, inbox: &Arc<Inbox>) {
        let mut l = self.listeners.lock().expect("channels");
        if let Some(list) = l.get_mut(channel) {
            list.retain(|w| w.as_ptr() != Arc::as_ptr(inbox) && w.strong_count() > 0);
            if list.is_empty() {
                l.remove(channel);
            }
        }
    }

    /// Sends `payload` to every live listener of `channel`, the sender's own session included
    /// (PostgreSQL delivers a session's notifications to itself too).
    pub fn notify(&self, channel: &str, payload: &str, pid: i32) {
        let mut l = self.listeners.lock().expect("channels");
        let Some(list) = l.get_mut(channel) else {
            return;
        };
        list.retain(|w| match w.upgrade() {
            Some(inbox) => {
                inbox.push(Notification {
                    pid,
                    channel: channel.to_string(),
                    payload: payload.to_string(),
                });
                true
            }
            None => false,
        });
        if list.is_empty() {
            l.remove(channel);
        }
    }

    /// Whether anyone listens on anything: commits skip naming their views' channels if not.
    pub fn any(&self) -> bool {
        !self.listeners.lock().expect("channels").is_empty()
    }
}

/// The channel a materialized view notifies on: its name, qualified by its schema outside
/// `public` (`LISTEN "s.v"`).
pub(crate) fn view_channel(def: &ViewDef) -> String {
    match def.schema == DEFAULT_SCHEMA {
        true => def.name.clone(),
        false => format!("{}.{}", def.schema, def.name),
    }
}

/// PostgreSQL's checks on a NOTIFY: a channel name, and a payload under 8000 bytes.
pub(crate) fn check(channel: &str, payload: &str) -> Result<()> {
    if channel.is_empty() {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "channel name cannot be empty",
        ));
    }
    if payload.len() > MAX_PAYLOAD {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "payload string too long",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_get_what_is_sent_on_their_channel_only() {
        let ch = Channels::default();
        let a = Arc::new(Inbox::default());
        let b = Arc::new(Inbox::default());
        ch.listen("v", &a);
        ch.listen("v", &a);
        ch.listen("w", &b);
        ch.notify("v", "7", 0);
        ch.notify("x", "8", 0);
        let got = a.take();
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].channel.as_str(), got[0].payload.as_str()),
            ("v", "7")
        );
        assert!(b.take().is_empty());
        ch.unlisten("v", &a);
        ch.notify("v", "9", 0);
        assert!(a.take().is_empty());
        drop(b);
        ch.notify("w", "1", 0);
        assert!(!ch.any());
    }

    #[test]
    fn a_full_inbox_folds_repeats_of_a_channel_into_the_newest() {
        let ch = Channels::default();
        let a = Arc::new(Inbox::default());
        ch.listen("v", &a);
        for i in 0..INBOX_FOLD_AT + 50 {
            ch.notify("v", &i.to_string(), 0);
        }
        let got = a.take();
        assert_eq!(got.len(), INBOX_FOLD_AT);
        assert_eq!(got[0].payload, "0");
        let last = got.last().expect("folded");
        assert_eq!(last.payload, (INBOX_FOLD_AT + 49).to_string());
    }
}
