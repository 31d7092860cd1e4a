//! A per-connection cache of sublist results keyed by literal subject.
//!
//! Publishers repeat subjects, so most publishes find their result here
//! without touching the sublist's lock. The cache holds the sublist
//! generation it was filled at and empties itself when that moves on.

use rustc_hash::FxHashMap;

use super::sublist::{MatchResult, Sublist};

/// Entries kept before the cache starts over (bounds memory for clients that
/// publish to ever-new subjects).
const MAX_ENTRIES: usize = 512;

pub struct MatchCache<S> {
    generation: u64,
    entries: FxHashMap<Box<[u8]>, MatchResult<S>>,
}

impl<S> Default for MatchCache<S> {
    fn default() -> Self {
        MatchCache {
            generation: 0,
            entries: FxHashMap::default(),
        }
    }
}

impl<S> MatchCache<S> {
    /// The match result for `subject`, from the cache when still current.
    #[inline]
    pub fn get(&mut self, sublist: &Sublist<S>, subject: &[u8]) -> &MatchResult<S> {
        let generation = sublist.generation();
        if generation != self.generation {
            self.entries.clear();
            self.generation = generation;
        } else if self.entries.contains_key(subject) {
            // Looked up twice on a hit (the borrow checker cannot yet return
            // the first lookup's borrow from inside this branch).
            return &self.entries[subject];
        }
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries
            .entry(subject.into())
            .or_insert_with(|| sublist.matches(subject))
    }

    /// Drop everything (used when the connection goes idle).
    pub fn clear(&mut self) {
        self.entries = FxHashMap::default();
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
}
