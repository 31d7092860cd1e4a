//! The mutation rules of a stream store, written once over [`MsgTables`]:
//! sequence assignment, append conditions, limits (discard old and new),
//! removal, purge, compact and age expiry, keeping [`StreamState`] exact.
//!
//! The memory store runs these under its lock; the redb store runs them
//! under its writer's lock inside one write transaction per group commit
//! (whoever commits the group, see `redb_store/write_path.rs`), so the
//! counters it persists always describe the messages committed with them.
//! Every check that can refuse an operation runs before its first write, so
//! a refused operation changes nothing.

use std::ops::ControlFlow;

use super::error::StoreError;
use super::query::{filtered_state, last_seq_matching, matching_seqs};
use super::types::{
    matches_all, AppendOptions, DiscardPolicy, NewMessage, PurgeRequest, Rollup, StorageKind,
    StoreLimits, StreamState, Timestamp,
};
use super::view::{first_at_or_after, MsgTables, Removed, StoreResult};

/// The largest message either store takes: redb refuses values past 3 GiB,
/// less the record header. (NATS payloads are capped far lower.)
const MAX_MESSAGE: usize = (3 << 30) - 64;

/// A stream's counters and limits, and the rules that change them.
#[derive(Clone, Debug)]
pub(crate) struct Engine {
    pub kind: StorageKind,
    pub limits: StoreLimits,
    pub state: StreamState,
}

impl Engine {
    pub(crate) fn new(kind: StorageKind, limits: StoreLimits, state: StreamState) -> Self {
        Engine {
            kind,
            limits,
            state,
        }
    }

    /// Checks `opts` and the discard-new limits, stores `msg` with the next
    /// sequence, applies the rollup and the discard-old limits.
    pub(crate) fn append<T: MsgTables + ?Sized>(
        &mut self,
        t: &mut T,
        msg: &NewMessage,
        opts: &AppendOptions,
    ) -> StoreResult<u64> {
        let parts = [msg.subject.len(), msg.headers.len(), msg.payload.len()];
        let size = self.kind.msg_size(parts[0], parts[1], parts[2]);
        if parts.iter().sum::<usize>() > MAX_MESSAGE {
            return Err(StoreError::MessageTooLarge { size });
        }
        self.check_conditions(t, msg, opts, size)?;
        // Messages that aged out by this message's time must not count
        // against the limits it is checked with.
        self.expire(t, msg.timestamp)?;

        let seq = self.state.last_seq + 1;
        let new_subject = t.insert(seq, msg)?;
        let s = &mut self.state;
        if s.messages == 0 {
            s.first_seq = seq;
            s.first_ts = msg.timestamp;
        }
        s.messages += 1;
        s.bytes += size;
        s.last_seq = seq;
        s.last_ts = msg.timestamp;
        s.num_subjects += u64::from(new_subject);

        match opts.rollup {
            Some(Rollup::Subject) => {
                let older = if crate::subject::is_literal(&msg.subject) {
                    collect_subject(t, &msg.subject, 0, seq - 1, usize::MAX)?
                } else {
                    // A message published on a wildcard subject (a KV purge
                    // of `hello.*`) rolls up every subject it matches, as
                    // nats-server's purge with that filter does.
                    let mut all = matching_seqs(t, 0, Some(&msg.subject), usize::MAX)?;
                    all.retain(|s| *s < seq);
                    all
                };
                self.remove_all(t, &older)?;
            }
            Some(Rollup::All) => {
                self.compact(t, seq)?;
            }
            None => {}
        }
        if let Some(max) = self.limits.max_msgs_per_subject {
            self.trim_subject(t, &msg.subject, max)?;
        }
        self.enforce_totals(t)?;
        self.state.refresh_deleted();
        Ok(seq)
    }

    fn check_conditions<T: MsgTables + ?Sized>(
        &self,
        t: &T,
        msg: &NewMessage,
        opts: &AppendOptions,
        size: u64,
    ) -> StoreResult<()> {
        if let Some(expected) = opts.expected_last_seq {
            if expected != self.state.last_seq {
                return Err(StoreError::WrongLastSequence {
                    current: self.state.last_seq,
                });
            }
        }
        if let Some(expected) = &opts.expected_last_subject_seq {
            let subject = expected.subject.as_deref().unwrap_or(&msg.subject);
            let current = last_seq_matching(t, subject)?.unwrap_or(0);
            if current != expected.seq {
                return Err(StoreError::WrongLastSubjectSequence { current });
            }
        }
        if self.limits.discard == DiscardPolicy::New {
            let s = &self.state;
            if self.limits.max_msgs.is_some_and(|max| s.messages >= max) {
                return Err(StoreError::MaxMsgs);
            }
            if self
                .limits
                .max_bytes
                .is_some_and(|max| s.bytes + size > max)
            {
                return Err(StoreError::MaxBytes);
            }
            if self.limits.discard_new_per_subject {
                if let Some(max) = self.limits.max_msgs_per_subject {
                    if t.subject_count(&msg.subject)? >= max {
                        return Err(StoreError::MaxMsgsPerSubject);
                    }
                }
            }
        }
        Ok(())
    }

    /// Removes the message at `seq`; false if there was none.
    pub(crate) fn remove<T: MsgTables + ?Sized>(
        &mut self,
        t: &mut T,
        seq: u64,
    ) -> StoreResult<bool> {
        let removed = self.remove_one(t, seq)?;
        self.state.refresh_deleted();
        Ok(removed)
    }

    fn remove_one<T: MsgTables + ?Sized>(&mut self, t: &mut T, seq: u64) -> StoreResult<bool> {
        let Some(Removed {
            subject_len,
            headers_len,
            payload_len,
            subject_emptied,
        }) = t.remove(seq)?
        else {
            return Ok(false);
        };
        // Saturating: counters loaded from a damaged file must not wrap.
        let s = &mut self.state;
        s.messages = s.messages.saturating_sub(1);
        s.bytes = s
            .bytes
            .saturating_sub(self.kind.msg_size(subject_len, headers_len, payload_len));
        s.num_subjects = s.num_subjects.saturating_sub(u64::from(subject_emptied));
        if seq == s.first_seq {
            match first_at_or_after(t, seq + 1)? {
                Some((next, ts)) => {
                    self.state.first_seq = next;
                    self.state.first_ts = ts;
                }
                None => self.mark_empty(),
            }
        }
        Ok(true)
    }

    fn remove_all<T: MsgTables + ?Sized>(&mut self, t: &mut T, seqs: &[u64]) -> StoreResult<u64> {
        let mut n = 0;
        for &seq in seqs {
            n += u64::from(self.remove_one(t, seq)?);
        }
        Ok(n)
    }

    /// An empty stream continues after its last sequence (nats-server's
    /// convention, which `num_deleted` and the next append rely on).
    fn mark_empty(&mut self) {
        let s = &mut self.state;
        s.first_seq = s.last_seq + 1;
        s.first_ts = 0;
        s.messages = 0;
        s.bytes = 0;
        s.num_subjects = 0;
    }

    /// Purges as `$JS.API.STREAM.PURGE` does; returns how many went.
    pub(crate) fn purge<T: MsgTables + ?Sized>(
        &mut self,
        t: &mut T,
        req: &PurgeRequest,
    ) -> StoreResult<u64> {
        if req.up_to_seq.is_some() && req.keep.is_some() {
            return Err(StoreError::InvalidPurge(
                "sequence and keep cannot both be set",
            ));
        }
        let filter = req.filter.as_deref();
        // nats-server treats a purge sequence of 0 or 1 as "no bound".
        let up_to = req.up_to_seq.filter(|s| *s > 1);
        let purged = match (matches_all(filter), up_to, req.keep) {
            (true, None, None) => self.purge_all(t)?,
            (true, Some(seq), None) => self.compact(t, seq)?,
            _ => {
                let mut max = usize::MAX;
                if let Some(keep) = req.keep {
                    let total = filtered_state(t, &self.state, 0, filter)?.messages;
                    if keep >= total {
                        return Ok(0);
                    }
                    max = usize::try_from(total - keep).unwrap_or(usize::MAX);
                }
                let mut seqs = matching_seqs(t, 0, filter, max)?;
                if let Some(bound) = up_to {
                    seqs.retain(|s| *s < bound);
                }
                self.remove_all(t, &seqs)?
            }
        };
        self.state.refresh_deleted();
        Ok(purged)
    }

    fn purge_all<T: MsgTables + ?Sized>(&mut self, t: &mut T) -> StoreResult<u64> {
        let purged = self.state.messages;
        t.clear()?;
        self.mark_empty();
        Ok(purged)
    }

    /// Removes every message below `seq`. Past the end it empties the stream
    /// and makes `seq` the next sequence, as nats-server's `Compact` does.
    pub(crate) fn compact<T: MsgTables + ?Sized>(
        &mut self,
        t: &mut T,
        seq: u64,
    ) -> StoreResult<u64> {
        let purged = if seq == 0 {
            self.purge_all(t)?
        } else if seq > self.state.last_seq {
            let purged = self.purge_all(t)?;
            self.state.last_seq = seq - 1;
            self.state.first_seq = seq;
            purged
        } else {
            let mut below = Vec::new();
            t.scan(0, seq - 1, false, &mut |m| {
                below.push(m.seq);
                ControlFlow::Continue(())
            })?;
            self.remove_all(t, &below)?
        };
        self.state.refresh_deleted();
        Ok(purged)
    }

    /// Makes `seq` the next sequence, leaving a gap (a mirror following
    /// its origin's deleted messages). Nothing happens when `seq` is not
    /// past the end. Returns how many sequences were skipped.
    pub(crate) fn skip_to<T: MsgTables + ?Sized>(
        &mut self,
        _t: &mut T,
        seq: u64,
    ) -> StoreResult<u64> {
        let next = self.state.last_seq + 1;
        if seq <= next {
            return Ok(0);
        }
        if self.state.messages == 0 {
            self.state.first_seq = seq;
        }
        self.state.last_seq = seq - 1;
        self.state.refresh_deleted();
        Ok(seq - next)
    }

    /// Removes messages older than `max_age` as of `now`, oldest first,
    /// stopping at the first one still young enough.
    pub(crate) fn expire<T: MsgTables + ?Sized>(
        &mut self,
        t: &mut T,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let Some(max_age) = self.limits.max_age else {
            return Ok(0);
        };
        let age = i64::try_from(max_age.as_nanos()).unwrap_or(i64::MAX);
        let cutoff = now.saturating_sub(age);
        let mut expired = 0;
        while self.state.messages > 0 && self.state.first_ts <= cutoff {
            let first = self.state.first_seq;
            if !self.remove_one(t, first)? {
                // first_seq always names a stored message; if it does not,
                // the tables and counters disagree and looping would spin.
                return Err(StoreError::Inconsistent {
                    reason: format!("first sequence {first} is not stored"),
                });
            }
            expired += 1;
        }
        self.state.refresh_deleted();
        Ok(expired)
    }

    /// When the oldest message will age out, for the stream layer's timer.
    pub(crate) fn next_expiry(&self) -> Option<Timestamp> {
        let age = i64::try_from(self.limits.max_age?.as_nanos()).unwrap_or(i64::MAX);
        (self.state.messages > 0).then(|| self.state.first_ts.saturating_add(age))
    }

    /// Replaces the limits and applies the count limits at once (a stream
    /// update); age is applied by the next `expire`.
    pub(crate) fn set_limits<T: MsgTables + ?Sized>(
        &mut self,
        t: &mut T,
        limits: StoreLimits,
    ) -> StoreResult<u64> {
        self.limits = limits;
        let before = self.state.messages;
        if let Some(max) = limits.max_msgs_per_subject {
            let mut over = Vec::new();
            t.subjects(&mut |subject, n| {
                if n > max {
                    over.push(bytes::Bytes::copy_from_slice(subject));
                }
                ControlFlow::Continue(())
            })?;
            for subject in over {
                self.trim_subject(t, &subject, max)?;
            }
        }
        self.enforce_totals(t)?;
        self.state.refresh_deleted();
        Ok(before.saturating_sub(self.state.messages))
    }

    /// Drops the subject's oldest messages until it holds at most `max`.
    fn trim_subject<T: MsgTables + ?Sized>(
        &mut self,
        t: &mut T,
        subject: &[u8],
        max: u64,
    ) -> StoreResult<()> {
        let count = t.subject_count(subject)?;
        if count > max {
            let excess = usize::try_from(count - max).unwrap_or(usize::MAX);
            let oldest = collect_subject(t, subject, 0, u64::MAX, excess)?;
            self.remove_all(t, &oldest)?;
        }
        Ok(())
    }

    /// Discard old on `max_msgs` and `max_bytes`.
    fn enforce_totals<T: MsgTables + ?Sized>(&mut self, t: &mut T) -> StoreResult<()> {
        let over = |s: &StreamState, l: &StoreLimits| {
            s.messages > 0
                && (l.max_msgs.is_some_and(|m| s.messages > m)
                    || l.max_bytes.is_some_and(|b| s.bytes > b))
        };
        while over(&self.state, &self.limits) {
            let first = self.state.first_seq;
            if !self.remove_one(t, first)? {
                return Err(StoreError::Inconsistent {
                    reason: format!("first sequence {first} is not stored"),
                });
            }
        }
        Ok(())
    }
}

/// Up to `limit` sequences of `subject` within `[from, to]`, ascending.
fn collect_subject<T: MsgTables + ?Sized>(
    t: &T,
    subject: &[u8],
    from: u64,
    to: u64,
    limit: usize,
) -> StoreResult<Vec<u64>> {
    let mut seqs = Vec::new();
    if limit == 0 || to < from {
        return Ok(seqs);
    }
    t.subject_seqs(subject, from, to, false, &mut |seq| {
        seqs.push(seq);
        if seqs.len() >= limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok(seqs)
}
