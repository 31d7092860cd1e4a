//! A per-connection cache of sublist results keyed by literal subject,
//! with the account's subject mappings folded in.
//!
//! Publishers repeat subjects, so most publishes find their result here
//! without touching the sublist's lock. For an account with mappings an
//! entry is keyed by the subject as published and holds the subject as
//! mapped beside the result for it, so a mapped subject costs the same one
//! lookup as an unmapped one. The cache holds the sublist generation it was
//! filled at and empties itself when that moves on.

use rustc_hash::FxHashMap;

use super::mapping::{Mapped, Mappings};
use super::match_stats::CacheReport;
use super::sublist::{MatchResult, Sublist};

/// Entries kept before the cache starts over (bounds memory for clients that
/// publish to ever-new subjects).
const MAX_ENTRIES: usize = 512;

pub struct MatchCache<S> {
    generation: u64,
    /// Subject as published → slot (with mappings applied).
    published: FxHashMap<Box<[u8]>, u32>,
    /// Subject as delivered → slot, for subjects that are not mapped again
    /// (a weighted mapping's draws, plugin outputs); used only in an
    /// account with mappings, where the two keys can differ.
    delivered: FxHashMap<Box<[u8]>, u32>,
    slots: Vec<Slot<S>>,
    /// Summed fan-out of the held results.
    fanout: i64,
    /// Changes not yet reported to the sublist's statistics.
    unreported: CacheReport,
    /// `false` with `disable_sublist_cache`: nothing is kept past the
    /// lookup that made it.
    enabled: bool,
}

struct Slot<S> {
    result: MatchResult<S>,
    /// The subject the result is for, where it is not the published one.
    subject: Option<Box<[u8]>>,
}

/// Where [`MatchCache::resolve`] put a published subject: read it back with
/// [`MatchCache::subject`] and [`MatchCache::result`] before the cache is
/// used again.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    slot: u32,
}

impl<S> Default for MatchCache<S> {
    fn default() -> Self {
        MatchCache {
            generation: 0,
            published: FxHashMap::default(),
            delivered: FxHashMap::default(),
            slots: Vec::new(),
            fanout: 0,
            unreported: CacheReport::default(),
            enabled: true,
        }
    }
}

impl<S> MatchCache<S> {
    /// A cache that keeps results (`enabled`), or one that matches every
    /// lookup in the sublist anew (`disable_sublist_cache`).
    pub fn new(enabled: bool) -> Self {
        MatchCache {
            enabled,
            ..MatchCache::default()
        }
    }

    /// Map `subject` with `mappings` (the publisher's account's) and find
    /// who the message goes to: one lookup when cached.
    #[inline]
    pub fn resolve(
        &mut self,
        sublist: &Sublist<S>,
        mappings: Option<&Mappings>,
        subject: &[u8],
    ) -> Resolved {
        self.unreported.lookups += 1;
        self.follow(sublist);
        if let Some(&slot) = self.published.get(subject).filter(|_| self.enabled) {
            self.unreported.hits += 1;
            return Resolved { slot };
        }
        let slot = match mappings.map_or(Mapped::Unmapped, |m| m.select(subject)) {
            Mapped::Unmapped => {
                let slot = self.fill(sublist, subject, None);
                self.published.insert(subject.into(), slot);
                slot
            }
            Mapped::Fixed(to) => {
                let slot = self.fill(sublist, &to, Some(to.clone()));
                self.published.insert(subject.into(), slot);
                slot
            }
            // Drawn anew for every message: the draw is looked up as the
            // subject it delivers on.
            Mapped::Kept => self.delivered_slot(sublist, subject),
            Mapped::Drawn(to) => self.delivered_slot(sublist, &to),
        };
        Resolved { slot }
    }

    /// The subject a resolved message is delivered on.
    #[inline]
    pub fn subject<'a>(&'a self, resolved: Resolved, published: &'a [u8]) -> &'a [u8] {
        self.slots[resolved.slot as usize]
            .subject
            .as_deref()
            .unwrap_or(published)
    }

    /// Who a resolved message goes to.
    #[inline]
    pub fn result(&self, resolved: Resolved) -> &MatchResult<S> {
        &self.slots[resolved.slot as usize].result
    }

    /// The match result for `subject` as delivered (never mapped again),
    /// from the cache when still current. `mapped_account`: the account
    /// has mappings, so published and delivered subjects are kept apart.
    #[inline]
    pub fn get(
        &mut self,
        sublist: &Sublist<S>,
        mapped_account: bool,
        subject: &[u8],
    ) -> &MatchResult<S> {
        self.unreported.lookups += 1;
        self.follow(sublist);
        let slot = if mapped_account {
            self.delivered_slot(sublist, subject)
        } else if let Some(&slot) = self.published.get(subject).filter(|_| self.enabled) {
            self.unreported.hits += 1;
            slot
        } else {
            let slot = self.fill(sublist, subject, None);
            self.published.insert(subject.into(), slot);
            slot
        };
        &self.slots[slot as usize].result
    }

    fn delivered_slot(&mut self, sublist: &Sublist<S>, subject: &[u8]) -> u32 {
        if let Some(&slot) = self.delivered.get(subject).filter(|_| self.enabled) {
            self.unreported.hits += 1;
            return slot;
        }
        let slot = self.fill(sublist, subject, Some(subject.into()));
        self.delivered.insert(subject.into(), slot);
        slot
    }

    /// Start over when the sublist changed.
    #[inline]
    fn follow(&mut self, sublist: &Sublist<S>) {
        let generation = sublist.generation();
        if generation != self.generation {
            self.forget_all();
            self.generation = generation;
        }
    }

    /// Match `subject` in the sublist and keep the result in a new slot
    /// (the caller files it under its key). `shown`: the subject to report
    /// for it, where that is not the published one.
    fn fill(&mut self, sublist: &Sublist<S>, subject: &[u8], shown: Option<Box<[u8]>>) -> u32 {
        if self.slots.len() >= MAX_ENTRIES || !self.enabled {
            self.forget_all();
        }
        let result = sublist.matches(subject);
        let fanout = (result.plain.len() + result.queues.len()) as u64;
        self.fanout += fanout as i64;
        self.unreported.cached += 1;
        self.unreported.cached_fanout += fanout as i64;
        self.unreported.max_fanout = self.unreported.max_fanout.max(fanout);
        let slot = self.slots.len() as u32;
        self.slots.push(Slot {
            result,
            subject: shown,
        });
        slot
    }

    /// Drop everything (used when the connection goes idle or closes).
    pub fn clear(&mut self) {
        self.forget_all();
        self.published = FxHashMap::default();
        self.delivered = FxHashMap::default();
        self.slots = Vec::new();
    }

    fn forget_all(&mut self) {
        self.unreported.cached -= self.slots.len() as i64;
        self.unreported.cached_fanout -= self.fanout;
        self.fanout = 0;
        self.published.clear();
        self.delivered.clear();
        self.slots.clear();
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
        assert!(cache.get(&sl, false, b"a.b").is_empty());
        sl.insert(b"a.*", None, Arc::new(1)).unwrap();
        assert_eq!(cache.get(&sl, false, b"a.b").plain.len(), 1);
        let first: *const MatchResult<i32> = cache.get(&sl, false, b"a.b");
        let second: *const MatchResult<i32> = cache.get(&sl, false, b"a.b");
        assert_eq!(first, second, "second lookup is a cache hit");
    }

    #[test]
    fn reports_lookups_hits_and_what_it_holds() {
        let sl = Sublist::new();
        sl.insert(b"a.*", None, Arc::new(1)).unwrap();
        sl.insert(b"a.b", None, Arc::new(2)).unwrap();
        let mut cache = MatchCache::default();
        for _ in 0..4 {
            cache.get(&sl, false, b"a.b");
        }
        cache.get(&sl, false, b"a.c");
        cache.report(&sl);
        let t = sl.match_stats().totals();
        assert_eq!((t.lookups, t.hits, t.cached, t.max_fanout), (5, 3, 2, 2));
        assert_eq!(t.avg_fanout(), 1.5);
        // A new subscription empties the cache at the next lookup.
        sl.insert(b"z", None, Arc::new(3)).unwrap();
        cache.get(&sl, false, b"a.c");
        cache.report(&sl);
        let t = sl.match_stats().totals();
        assert_eq!((t.lookups, t.hits, t.cached), (6, 3, 1));
        cache.clear();
        cache.report(&sl);
        let t = sl.match_stats().totals();
        assert_eq!((t.cached, t.avg_fanout()), (0, 0.0));
    }

    #[test]
    fn a_mapped_subject_is_one_entry_with_its_mapped_subject() {
        use crate::subject::mapping::{Destination, Mapping};
        let dest = |subject: &str, weight| Destination {
            subject: subject.into(),
            weight,
            cluster: None,
        };
        let mappings = Mappings::new(vec![
            Mapping::new("in.*", &[dest("out.$1", 100)]).unwrap(),
            Mapping::new("w", &[dest("w.v2", 50)]).unwrap(),
        ]);
        let sl = Sublist::new();
        sl.insert(b"out.*", None, Arc::new(1)).unwrap();
        sl.insert(b"in.x", None, Arc::new(2)).unwrap();
        sl.insert(b"w.v2", None, Arc::new(3)).unwrap();
        let mut cache = MatchCache::default();
        for _ in 0..3 {
            let r = cache.resolve(&sl, Some(&mappings), b"in.x");
            assert_eq!(cache.subject(r, b"in.x"), b"out.x");
            assert_eq!(*cache.result(r).plain[0], 1);
        }
        // A plugin's output on `in.x` is delivered as is, not mapped.
        assert_eq!(*cache.get(&sl, true, b"in.x").plain[0], 2);
        cache.report(&sl);
        let t = sl.match_stats().totals();
        assert_eq!((t.lookups, t.hits, t.cached), (4, 2, 2));
        // A weighted mapping is drawn every time; both draws are cached.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let r = cache.resolve(&sl, Some(&mappings), b"w");
            seen.insert((cache.subject(r, b"w").to_vec(), cache.result(r).plain.len()));
        }
        let want: std::collections::HashSet<_> = [(b"w".to_vec(), 0), (b"w.v2".to_vec(), 1)]
            .into_iter()
            .collect();
        assert_eq!(seen, want);
        assert_eq!(cache.slots.len(), 4);
    }

    #[test]
    fn a_disabled_cache_matches_every_lookup_anew() {
        let sl = Sublist::new();
        sl.insert(b"a.*", None, Arc::new(1)).unwrap();
        let mut cache = MatchCache::new(false);
        for _ in 0..3 {
            assert_eq!(cache.get(&sl, false, b"a.b").plain.len(), 1);
            let r = cache.resolve(&sl, None, b"a.c");
            assert_eq!(cache.result(r).plain.len(), 1);
        }
        assert!(cache.slots.len() <= 1, "keeps only the lookup in hand");
        cache.report(&sl);
        let t = sl.match_stats().totals();
        assert_eq!((t.lookups, t.hits), (6, 0));
    }
}
