//! What `/subsz` reports about matching: lookups, how many the connections'
//! match caches answered, how many results they hold and their fan-out.
//!
//! nats-server counts these inside its shared sublist cache. Tern's caches
//! are per connection ([`super::cache::MatchCache`]) and count in plain
//! fields; each reports here once per read batch, so the delivery path
//! gains no atomic operation per message.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Totals over every connection's match cache. Kept on cache lines of its
/// own: publishers write it once per read batch, while every publish reads
/// the sublist's generation next to where it sits.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct MatchStats {
    lookups: AtomicU64,
    hits: AtomicU64,
    cached: AtomicI64,
    cached_fanout: AtomicI64,
    max_fanout: AtomicU64,
}

/// One cache's changes since its last report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheReport {
    pub lookups: u64,
    pub hits: u64,
    /// Change in the number of results it holds.
    pub cached: i64,
    /// Change in the summed fan-out of the results it holds.
    pub cached_fanout: i64,
    /// The largest fan-out among the results it added.
    pub max_fanout: u64,
}

/// A snapshot of [`MatchStats`]; snapshots of several sublists add up
/// with [`MatchTotals::add`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MatchTotals {
    pub lookups: u64,
    pub hits: u64,
    pub cached: u64,
    /// The summed fan-out of the cached results.
    pub cached_fanout: u64,
    pub max_fanout: u64,
}

impl MatchTotals {
    pub fn add(&mut self, other: &MatchTotals) {
        self.lookups += other.lookups;
        self.hits += other.hits;
        self.cached += other.cached;
        self.cached_fanout += other.cached_fanout;
        self.max_fanout = self.max_fanout.max(other.max_fanout);
    }

    /// The share of lookups the caches answered (0 without lookups).
    pub fn hit_rate(&self) -> f64 {
        if self.lookups > 0 {
            self.hits as f64 / self.lookups as f64
        } else {
            0.0
        }
    }

    /// The mean fan-out of the cached results (0 when none is cached).
    pub fn avg_fanout(&self) -> f64 {
        if self.cached > 0 {
            self.cached_fanout as f64 / self.cached as f64
        } else {
            0.0
        }
    }
}

impl MatchStats {
    pub fn add(&self, r: &CacheReport) {
        if r.lookups > 0 {
            self.lookups.fetch_add(r.lookups, Ordering::Relaxed);
            self.hits.fetch_add(r.hits, Ordering::Relaxed);
        }
        if r.cached != 0 || r.cached_fanout != 0 {
            self.cached.fetch_add(r.cached, Ordering::Relaxed);
            self.cached_fanout
                .fetch_add(r.cached_fanout, Ordering::Relaxed);
        }
        if r.max_fanout > 0 {
            self.max_fanout.fetch_max(r.max_fanout, Ordering::Relaxed);
        }
    }

    pub fn totals(&self) -> MatchTotals {
        let cached = self.cached.load(Ordering::Relaxed).max(0);
        let fanout = self.cached_fanout.load(Ordering::Relaxed).max(0);
        MatchTotals {
            lookups: self.lookups.load(Ordering::Relaxed),
            hits: self.hits.load(Ordering::Relaxed),
            cached: cached as u64,
            cached_fanout: fanout as u64,
            max_fanout: self.max_fanout.load(Ordering::Relaxed),
        }
    }
}
