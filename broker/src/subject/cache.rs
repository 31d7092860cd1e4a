//! A per-connection cache of sublist results keyed by literal subject.
//!
//! Publishers repeat subjects, so most publishes find their result here
//! without touching the sublist's lock. The cache holds the sublist
//! generation it was filled at and empties itself when that moves on.

use rustc_hash::FxHashMap;

use super::match_stats::CacheReport;
use super::sublist::{MatchResult, Sublist};

/// Entries kept before the cache starts over (bounds memory for clients that
/// publish to ever-new subjects).
const MAX_ENTRIES: usize = 512;

pub struct MatchCache<S> {
    generation: u64,
    entries: FxHashMap<Box<[u8]>, MatchResult<S>>,
    /// Summed fan-out of the held results.
    fanout: i64,
    /// Changes not yet reported to the sublist's statistics.
    unreported: CacheReport,
}

impl<S> Default for MatchCache<S> {
    fn default() -> Self {
        MatchCache {
            generation: 0,
            entries: FxHashMap::default(),
            fanout: 0,
            unreported: CacheReport::default(),
        }
    }
}

impl<S> MatchCache<S> {
    /// The match result for `subject`, from the cache when still current.
    #[inline]
    pub fn get(&mut self, sublist: &Sublist<S>, subject: &[u8]) -> &MatchResult<S> {
        self.unreported.lookups += 1;
        let generation = sublist.generation();
        if generation != self.generation {
            self.forget_all();
            self.generation = generation;
        } else if self.entries.contains_key(subject) {
            self.unreported.hits += 1;
            // Looked up twice on a hit (the borrow checker cannot yet return
            // the first lookup's borrow from inside this branch).
            return &self.entries[subject];
        }
        if self.entries.len() >= MAX_ENTRIES {
            self.forget_all();
        }
        let result = sublist.matches(subject);
        let fanout = (result.plain.len() + result.queues.len()) as u64;
        self.fanout += fanout as i64;
        self.unreported.cached += 1;
        self.unreported.cached_fanout += fanout as i64;
        self.unreported.max_fanout = self.unreported.max_fanout.max(fanout);
        self.entries.entry(subject.into()).or_insert(result)
    }

    /// Drop everything (used when the connection goes idle or closes).
    pub fn clear(&mut self) {
        self.forget_all();
        self.entries = FxHashMap::default();
    }

    fn forget_all(&mut self) {
        self.unreported.cached -= self.entries.len() as i64;
        self.unreported.cached_fanout -= self.fanout;
        self.fanout = 0;
        self.entries.clear();
    }

    /// Adds what changed since the last report to `sublist`'s statistics
    /// (once per read batch, and after a final [`Self::clear`]).
    pub fn report(&mut self, sublist: &Sublist<S>) {
        if self.unreported != CacheReport::default() {
            sublist.match_stats().add(&self.unreported);
            self.unreported = CacheReport::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn invalidated_by_generation() {
        let sl = Sublist::new();
        let mut cache = MatchCache::default();
        assert!(cache.get(&sl, b"a.b").is_empty());
        sl.insert(b"a.*", None, Arc::new(1)).unwrap();
        assert_eq!(cache.get(&sl, b"a.b").plain.len(), 1);
        let first: *const MatchResult<i32> = cache.get(&sl, b"a.b");
        let second: *const MatchResult<i32> = cache.get(&sl, b"a.b");
        assert_eq!(first, second, "second lookup is a cache hit");
    }

    #[test]
    fn reports_lookups_hits_and_what_it_holds() {
        let sl = Sublist::new();
        sl.insert(b"a.*", None, Arc::new(1)).unwrap();
        sl.insert(b"a.b", None, Arc::new(2)).unwrap();
        let mut cache = MatchCache::default();
        for _ in 0..4 {
            cache.get(&sl, b"a.b");
        }
        cache.get(&sl, b"a.c");
        cache.report(&sl);
        let t = sl.match_stats().totals();
        assert_eq!((t.lookups, t.hits, t.cached, t.max_fanout), (5, 3, 2, 2));
        assert_eq!(t.avg_fanout(), 1.5);
        // A new subscription empties the cache at the next lookup.
        sl.insert(b"z", None, Arc::new(3)).unwrap();
        cache.get(&sl, b"a.c");
        cache.report(&sl);
        let t = sl.match_stats().totals();
        assert_eq!((t.lookups, t.hits, t.cached), (6, 3, 1));
        cache.clear();
        cache.report(&sl);
        let t = sl.match_stats().totals();
        assert_eq!((t.cached, t.avg_fanout()), (0, 0.0));
    }
}
