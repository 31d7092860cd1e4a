//! Interest propagation over leaf links: which subjects each leaf
//! connection has been told (`LS+`/`LS-`) that this server wants.
//!
//! Every subscription change in the server passes through
//! [`LeafRegistry::changed`], which keeps a table of interest by key
//! (`subject` or `subject queue`) and source, and updates each registered
//! leaf link whose audience includes that source. A link that registers
//! gets the whole table at once; both happen under one lock, so a
//! subscription made while a link registers is announced exactly once.
//!
//! Audience rules (nats-server's): a link never hears its own interest;
//! on a link where we are the spoke we announce only local interest and
//! that of leaves we are the hub for, never another hub's.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::BytesMut;
use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::server::subscription::{Receiver, Subscription};

use super::encode::write_interest;
use super::handle::{LeafHandle, LOOP_DETECTION_PREFIX};

/// Where a subscription comes from, as far as propagation cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A client or a service inside the broker.
    Local,
    /// A leaf link's advertised interest.
    Leaf { id: u64, spoke: bool },
}

impl Source {
    pub fn of(sub: &Subscription) -> Source {
        match &sub.receiver {
            Receiver::Leaf(l) => Source::Leaf {
                id: l.id,
                spoke: l.is_spoke(),
            },
            _ => Source::Local,
        }
    }
}

#[derive(Default)]
struct Table {
    /// key → counts per source.
    interest: FxHashMap<Box<[u8]>, Vec<(Source, u32)>>,
    links: Vec<Arc<LeafHandle>>,
}

pub struct LeafRegistry {
    /// Set when leaf nodes are configured; until then subscription changes
    /// skip the table entirely.
    enabled: AtomicBool,
    table: Mutex<Table>,
    /// This server's loop-detection subject: it comes back to us only
    /// through a loop.
    pub loop_subject: String,
    /// Where the leafnode port is bound, once it is.
    pub listen_addr: OnceLock<SocketAddr>,
}

impl LeafRegistry {
    /// `enabled` when leaf nodes are configured: tracking starts before
    /// the first subscription, so the table has every one.
    pub fn new(enabled: bool) -> Self {
        LeafRegistry {
            enabled: AtomicBool::new(enabled),
            table: Mutex::new(Table::default()),
            loop_subject: format!("{LOOP_DETECTION_PREFIX}{}", random_token()),
            listen_addr: OnceLock::new(),
        }
    }
}

/// `subject` or `subject queue`: the name interest goes by on the wire.
pub fn interest_key(subject: &[u8], queue: Option<&[u8]>) -> Box<[u8]> {
    let mut key = subject.to_vec();
    if let Some(q) = queue {
        key.push(b' ');
        key.extend_from_slice(q);
    }
    key.into_boxed_slice()
}

impl LeafRegistry {
    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// The links that completed their handshake.
    pub fn links(&self) -> Vec<Arc<LeafHandle>> {
        self.table.lock().links.clone()
    }

    /// A subscription was added (`delta` > 0: its weight) or removed
    /// (`delta` < 0).
    pub fn changed(&self, sub: &Subscription, delta: i64) {
        if !self.enabled() {
            return;
        }
        let source = Source::of(sub);
        let key = interest_key(&sub.subject, sub.queue.as_deref());
        let mut table = self.table.lock();
        let counts = table.interest.entry(key.clone()).or_default();
        match counts.iter_mut().find(|(s, _)| *s == source) {
            Some((_, n)) => *n = (*n as i64 + delta).max(0) as u32,
            None if delta > 0 => counts.push((source, delta as u32)),
            None => {}
        }
        counts.retain(|(_, n)| *n > 0);
        if counts.is_empty() {
            table.interest.remove(&key);
        }
        for link in &table.links {
            if hears(link, source) && !link.import_deny.denies_interest(&sub.subject) {
                advertise(link, &key, sub.queue.is_some(), delta);
            }
        }
    }

    /// A link finished its handshake: tell it everything it should hear,
    /// then keep it up to date.
    pub fn register(&self, link: &Arc<LeafHandle>) {
        let mut table = self.table.lock();
        let mut out = BytesMut::new();
        {
            let mut advertised = link.advertised.lock();
            advertised.clear();
            for (key, counts) in &table.interest {
                let n: u32 = counts
                    .iter()
                    .filter(|(s, _)| hears(link, *s))
                    .map(|(_, n)| n)
                    .sum();
                let subject = key.split(|b| *b == b' ').next().unwrap_or(key);
                if n == 0 || link.import_deny.denies_interest(subject) {
                    continue;
                }
                let is_queue = key.contains(&b' ');
                write_interest(&mut out, key, n, is_queue);
                advertised.insert(key.clone(), n);
            }
            write_interest(&mut out, self.loop_subject.as_bytes(), 1, false);
        }
        table.links.push(link.clone());
        drop(table);
        send(link, &out);
    }

    pub fn unregister(&self, id: u64) {
        self.table.lock().links.retain(|l| l.id != id);
    }
}

/// Does `link` hear interest from `source`?
fn hears(link: &LeafHandle, source: Source) -> bool {
    match source {
        Source::Local => true,
        Source::Leaf { id, .. } if id == link.id => false,
        Source::Leaf { spoke, .. } => !(link.is_spoke() && spoke),
    }
}

/// Apply `delta` to what `link` was told about `key`; send `LS+` when
/// plain interest appears, `LS-` when it goes, and every change of a
/// queue's weight.
fn advertise(link: &LeafHandle, key: &[u8], is_queue: bool, delta: i64) {
    let mut advertised = link.advertised.lock();
    let before = advertised.get(key).copied().unwrap_or(0);
    let after = (before as i64 + delta).max(0) as u32;
    if after == before {
        return;
    }
    if after == 0 {
        advertised.remove(key);
    } else {
        advertised.insert(key.into(), after);
    }
    if is_queue || before == 0 || after == 0 {
        let mut out = BytesMut::new();
        write_interest(&mut out, key, after, is_queue);
        drop(advertised);
        send(link, &out);
    }
}

fn send(link: &LeafHandle, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    // Mark 0 belongs to no read batch: this append flushes by itself.
    link.out.push(0, |b| b.extend_from_slice(bytes));
    link.out.flush_or_wake();
}

/// 22 base62 characters, enough to tell servers apart.
pub(super) fn random_token() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..22)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}
