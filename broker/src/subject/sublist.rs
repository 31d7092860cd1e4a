//! The subscription index: a trie keyed by subject tokens, with `*` and `>`
//! branches at every level, answering "who is interested in this literal
//! subject?".
//!
//! Writers (SUB/UNSUB, connection close) take a write lock; matching takes a
//! read lock. Every change bumps a generation counter so that the
//! per-connection caches in [`super::cache`]-style users can tell that a
//! result they hold is stale without locking anything.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::match_stats::MatchStats;
use rustc_hash::FxHashMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SublistError {
    #[error("invalid subject")]
    InvalidSubject,
}

/// Everything interested in one literal subject.
#[derive(Debug)]
pub struct MatchResult<S> {
    /// Plain subscriptions: each gets a copy.
    pub plain: Vec<Arc<S>>,
    /// Queue groups: one member of each gets a copy.
    pub queues: Vec<QueueGroup<S>>,
}

impl<S> MatchResult<S> {
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }
}

/// The members of one queue group that match a subject, merged across all
/// the trie nodes that matched (so `foo.*` and `foo.bar` in group `q` form
/// one group, as in nats-server).
#[derive(Debug)]
pub struct QueueGroup<S> {
    pub name: Box<[u8]>,
    pub members: Vec<Arc<S>>,
    /// Round-robin cursor: spreads messages evenly over the members.
    pub cursor: AtomicUsize,
}

impl<S> QueueGroup<S> {
    /// The member to try first for the next message; callers walk on from
    /// there if it cannot take the message.
    pub fn next_start(&self) -> usize {
        self.cursor.fetch_add(1, Ordering::Relaxed) % self.members.len().max(1)
    }
}

/// Queue subscriptions at one node, grouped by queue name.
type QueueMembers<S> = Vec<(Box<[u8]>, Vec<Arc<S>>)>;

struct Node<S> {
    next: Option<Box<Level<S>>>,
    plain: Vec<Arc<S>>,
    queues: QueueMembers<S>,
}

impl<S> Default for Node<S> {
    fn default() -> Self {
        Node {
            next: None,
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<S> Node<S> {
    fn is_empty(&self) -> bool {
        self.plain.is_empty()
            && self.queues.is_empty()
            && self.next.as_ref().is_none_or(|l| l.is_empty())
    }
}

struct Level<S> {
    literal: FxHashMap<Box<[u8]>, Node<S>>,
    pwc: Option<Box<Node<S>>>,
    fwc: Option<Box<Node<S>>>,
}

impl<S> Default for Level<S> {
    fn default() -> Self {
        Level {
            literal: FxHashMap::default(),
            pwc: None,
            fwc: None,
        }
    }
}

impl<S> Level<S> {
    fn is_empty(&self) -> bool {
        self.literal.is_empty() && self.pwc.is_none() && self.fwc.is_none()
    }
}

/// The subscription index.
pub struct Sublist<S> {
    root: RwLock<Level<S>>,
    generation: AtomicU64,
    count: AtomicUsize,
    /// Subscriptions ever inserted (monitoring's `num_inserts`; removals
    /// are `inserts - count`).
    inserts: AtomicU64,
    /// What the connections' match caches report.
    match_stats: MatchStats,
}

impl<S> Default for Sublist<S> {
    fn default() -> Self {
        Sublist {
            root: RwLock::new(Level::default()),
            generation: AtomicU64::new(1),
            count: AtomicUsize::new(0),
            inserts: AtomicU64::new(0),
            match_stats: MatchStats::default(),
        }
    }
}

impl<S> Sublist<S> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Changes whenever the set of subscriptions changes.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Number of subscriptions in the index.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Lookups and cached results, as the match caches report them.
    pub fn match_stats(&self) -> &MatchStats {
        &self.match_stats
    }

    /// Subscriptions inserted since the index was created.
    pub fn inserts(&self) -> u64 {
        self.inserts.load(Ordering::Relaxed)
    }

    /// Add `sub` for `subject` (optionally in queue group `queue`).
    pub fn insert(
        &self,
        subject: &[u8],
        queue: Option<&[u8]>,
        sub: Arc<S>,
    ) -> Result<(), SublistError> {
        if !super::validate::is_valid_subject(subject) {
            return Err(SublistError::InvalidSubject);
        }
        let mut root = self.root.write();
        let mut level: &mut Level<S> = &mut root;
        let mut tokens = subject.split(|b| *b == b'.').peekable();
        loop {
            let Some(token) = tokens.next() else {
                return Err(SublistError::InvalidSubject);
            };
            let node: &mut Node<S> = match token {
                b"*" => level.pwc.get_or_insert_with(Box::default),
                b">" => level.fwc.get_or_insert_with(Box::default),
                t => level.literal.entry(t.into()).or_default(),
            };
            if tokens.peek().is_none() {
                match queue {
                    None => node.plain.push(sub),
                    Some(q) => match node.queues.iter_mut().find(|(name, _)| &name[..] == q) {
                        Some((_, members)) => members.push(sub),
                        None => node.queues.push((q.into(), vec![sub])),
                    },
                }
                break;
            }
            level = node.next.get_or_insert_with(Box::default);
        }
        drop(root);
        self.inserts.fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Remove exactly this `sub` (by identity). Returns whether it was found.
    pub fn remove(&self, subject: &[u8], queue: Option<&[u8]>, sub: &Arc<S>) -> bool {
        let tokens: Vec<&[u8]> = subject.split(|b| *b == b'.').collect();
        let removed = {
            let mut root = self.root.write();
            remove_in(&mut root, &tokens, queue, sub)
        };
        if removed {
            self.count.fetch_sub(1, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        removed
    }

    /// Everything interested in the literal `subject`.
    pub fn matches(&self, subject: &[u8]) -> MatchResult<S> {
        let mut result = MatchResult {
            plain: Vec::new(),
            queues: Vec::new(),
        };
        // Tokenize once; subjects are short, so a small stack buffer covers
        // nearly all of them.
        let mut stack: [&[u8]; 16] = [&[]; 16];
        let heap: Vec<&[u8]>;
        let n = subject.split(|b| *b == b'.').count();
        let tokens: &[&[u8]] = if n <= stack.len() {
            for (i, t) in subject.split(|b| *b == b'.').enumerate() {
                stack[i] = t;
            }
            &stack[..n]
        } else {
            heap = subject.split(|b| *b == b'.').collect();
            &heap
        };
        // A subject with an empty token is not a subject: nobody gets it.
        if tokens.iter().any(|t| t.is_empty()) {
            return result;
        }
        let root = self.root.read();
        collect(&root, tokens, &mut result);
        result
    }
}

fn collect<S>(level: &Level<S>, tokens: &[&[u8]], out: &mut MatchResult<S>) {
    let Some((token, rest)) = tokens.split_first() else {
        return;
    };
    if let Some(fwc) = &level.fwc {
        add_node(fwc, out);
    }
    if let Some(pwc) = &level.pwc {
        visit(pwc, rest, out);
    }
    if let Some(node) = level.literal.get(*token) {
        visit(node, rest, out);
    }
}

fn visit<S>(node: &Node<S>, rest: &[&[u8]], out: &mut MatchResult<S>) {
    if rest.is_empty() {
        add_node(node, out);
    } else if let Some(next) = &node.next {
        collect(next, rest, out);
    }
}

fn add_node<S>(node: &Node<S>, out: &mut MatchResult<S>) {
    out.plain.extend(node.plain.iter().cloned());
    for (name, members) in &node.queues {
        match out.queues.iter_mut().find(|g| g.name == *name) {
            Some(group) => group.members.extend(members.iter().cloned()),
            None => out.queues.push(QueueGroup {
                name: name.clone(),
                members: members.clone(),
                cursor: AtomicUsize::new(random_start()),
            }),
        }
    }
}

/// Where a fresh result's round robin starts. Results are rebuilt whenever
/// subscriptions change (per-request inboxes change them constantly), so a
/// fixed start would always favour the first member; nats-server picks at
/// random too. A per-thread xorshift is plenty and costs no shared state.
fn random_start() -> usize {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            // Distinct per thread even when started in the same nanosecond.
            let local = 0u8;
            (t ^ (&local as *const u8 as u64).rotate_left(32)) | 1
        });
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x as usize
    })
}

fn remove_in<S>(
    level: &mut Level<S>,
    tokens: &[&[u8]],
    queue: Option<&[u8]>,
    sub: &Arc<S>,
) -> bool {
    let Some((token, rest)) = tokens.split_first() else {
        return false;
    };
    let (removed, now_empty) = {
        let node: &mut Node<S> = match *token {
            b"*" => match level.pwc.as_deref_mut() {
                Some(n) => n,
                None => return false,
            },
            b">" => match level.fwc.as_deref_mut() {
                Some(n) => n,
                None => return false,
            },
            t => match level.literal.get_mut(t) {
                Some(n) => n,
                None => return false,
            },
        };
        let removed = if rest.is_empty() {
            remove_from_node(node, queue, sub)
        } else {
            match node.next.as_deref_mut() {
                Some(next) => {
                    let r = remove_in(next, rest, queue, sub);
                    if next.is_empty() {
                        node.next = None;
                    }
                    r
                }
                None => false,
            }
        };
        (removed, node.is_empty())
    };
    // Prune empty branches so churn (per-request inboxes) does not grow the trie.
    if now_empty {
        match *token {
            b"*" => level.pwc = None,
            b">" => level.fwc = None,
            t => {
                level.literal.remove(t);
            }
        }
    }
    removed
}

fn remove_from_node<S>(node: &mut Node<S>, queue: Option<&[u8]>, sub: &Arc<S>) -> bool {
    match queue {
        None => match node.plain.iter().position(|s| Arc::ptr_eq(s, sub)) {
            Some(i) => {
                node.plain.swap_remove(i);
                true
            }
            None => false,
        },
        Some(q) => {
            let Some(gi) = node.queues.iter().position(|(name, _)| &name[..] == q) else {
                return false;
            };
            let members = &mut node.queues[gi].1;
            let Some(i) = members.iter().position(|s| Arc::ptr_eq(s, sub)) else {
                return false;
            };
            members.swap_remove(i);
            if members.is_empty() {
                node.queues.swap_remove(gi);
            }
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(r: &MatchResult<&'static str>) -> Vec<&'static str> {
        let mut v: Vec<_> = r.plain.iter().map(|s| **s).collect();
        v.sort();
        v
    }

    #[test]
    fn literal_and_wildcards() {
        let sl = Sublist::new();
        for (subj, name) in [
            ("foo.bar", "a"),
            ("foo.*", "b"),
            ("foo.>", "c"),
            (">", "d"),
            ("*.bar", "e"),
            ("foo", "f"),
        ] {
            sl.insert(subj.as_bytes(), None, Arc::new(name)).unwrap();
        }
        assert_eq!(
            names(&sl.matches(b"foo.bar")),
            vec!["a", "b", "c", "d", "e"]
        );
        assert_eq!(names(&sl.matches(b"foo.bar.baz")), vec!["c", "d"]);
        assert_eq!(names(&sl.matches(b"foo")), vec!["d", "f"]);
        assert_eq!(names(&sl.matches(b"x.y")), vec!["d"]);
        assert_eq!(sl.count(), 6);
    }

    #[test]
    fn queue_groups_merge_across_nodes() {
        let sl = Sublist::new();
        sl.insert(b"foo.bar", Some(b"q"), Arc::new("a")).unwrap();
        sl.insert(b"foo.*", Some(b"q"), Arc::new("b")).unwrap();
        sl.insert(b"foo.*", Some(b"r"), Arc::new("c")).unwrap();
        let r = sl.matches(b"foo.bar");
        assert!(r.plain.is_empty());
        assert_eq!(r.queues.len(), 2);
        let q = r.queues.iter().find(|g| &g.name[..] == b"q").unwrap();
        assert_eq!(q.members.len(), 2);
    }

    #[test]
    fn remove_prunes_and_bumps_generation() {
        let sl = Sublist::new();
        let a = Arc::new("a");
        let g0 = sl.generation();
        sl.insert(b"_INBOX.abc.1", None, a.clone()).unwrap();
        assert!(sl.generation() > g0);
        assert!(
            !sl.remove(b"_INBOX.abc.1", None, &Arc::new("a")),
            "identity, not equality"
        );
        assert!(sl.remove(b"_INBOX.abc.1", None, &a));
        assert!(sl.root.read().is_empty());
        assert!(sl.matches(b"_INBOX.abc.1").is_empty());
        assert_eq!(sl.count(), 0);
    }

    #[test]
    fn rejects_invalid() {
        let sl: Sublist<&str> = Sublist::new();
        for bad in ["", "foo..bar", "foo.>.bar", "."] {
            assert_eq!(
                sl.insert(bad.as_bytes(), None, Arc::new("x")),
                Err(SublistError::InvalidSubject)
            );
        }
    }
}
