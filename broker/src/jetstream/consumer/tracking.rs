//! Delivery bookkeeping of one consumer: what was delivered, what waits
//! for an ack and until when, what is due for redelivery, and the ack
//! floor — the [`ConsumerState`] that is persisted, plus the deadlines that
//! are rebuilt from it after a restart. Pure logic, no I/O.

use std::collections::{BTreeMap, BTreeSet};

use crate::jetstream::store::{ConsumerState, PendingAck, Timestamp};

use super::config::AckPolicy;

/// A consumer's delivery state and ack deadlines.
#[derive(Debug, Default)]
pub struct Tracker {
    pub state: ConsumerState,
    ack_policy: AckPolicy,
    /// 0 or -1 = unlimited.
    max_deliver: i64,
    /// (deadline, stream seq) for every pending message.
    deadlines: BTreeSet<(Timestamp, u64)>,
    due: BTreeMap<u64, Timestamp>,
    /// Pending messages whose ack wait ran out (or that were NAKed), in
    /// stream order: delivered again before anything new.
    redeliver: BTreeSet<u64>,
}

impl Tracker {
    /// Resumes from `state`; every pending message gets `ack_wait` from now
    /// (nats-server too restarts the clocks of pending messages on recovery).
    pub fn new(
        state: ConsumerState,
        ack_policy: AckPolicy,
        max_deliver: i64,
        ack_wait: i64,
        now: Timestamp,
    ) -> Tracker {
        let mut t = Tracker {
            state,
            ack_policy,
            max_deliver,
            ..Default::default()
        };
        let seqs: Vec<u64> = t.state.pending.keys().copied().collect();
        for seq in seqs {
            t.set_deadline(seq, now.saturating_add(ack_wait));
        }
        t
    }

    pub fn set_limits(&mut self, max_deliver: i64) {
        self.max_deliver = max_deliver;
    }

    /// How many times `seq` has been delivered (0 if never).
    pub fn delivery_count(&self, seq: u64) -> u64 {
        match self.state.redelivered.get(&seq) {
            Some(n) => *n,
            None if self.state.pending.contains_key(&seq) => 1,
            None => 0,
        }
    }

    pub fn num_ack_pending(&self) -> usize {
        self.state.pending.len()
    }

    pub fn num_redelivered(&self) -> usize {
        self.state.redelivered.len()
    }

    /// Records a delivery of `seq` (new when `redelivery` is false) and
    /// returns its consumer sequence and delivery count.
    pub fn delivered(
        &mut self,
        seq: u64,
        redelivery: bool,
        now: Timestamp,
        ack_wait_for: impl Fn(u64) -> i64,
    ) -> (u64, u64) {
        self.state.delivered.consumer_seq += 1;
        let dseq = self.state.delivered.consumer_seq;
        if !redelivery && seq > self.state.delivered.stream_seq {
            self.state.delivered.stream_seq = seq;
        }
        if self.ack_policy == AckPolicy::None {
            self.state.ack_floor = self.state.delivered;
            return (dseq, 1);
        }
        let count = if redelivery {
            let n = self.delivery_count(seq) + 1;
            self.state.redelivered.insert(seq, n);
            n
        } else {
            1
        };
        self.redeliver.remove(&seq);
        self.state.pending.insert(
            seq,
            PendingAck {
                consumer_seq: dseq,
                timestamp: now,
            },
        );
        self.set_deadline(seq, now.saturating_add(ack_wait_for(count)));
        (dseq, count)
    }

    /// `+ACK` (or `+TERM`) of `seq`; with ack policy `all`, of everything up
    /// to it. Returns the sequences that were pending and now are not.
    pub fn ack(&mut self, seq: u64) -> Vec<u64> {
        let acked = match self.ack_policy {
            AckPolicy::None => Vec::new(),
            AckPolicy::Explicit => {
                if self.forget(seq) {
                    vec![seq]
                } else {
                    Vec::new()
                }
            }
            AckPolicy::All => {
                let upto: Vec<u64> = self.state.pending.range(..=seq).map(|(s, _)| *s).collect();
                for s in &upto {
                    self.forget(*s);
                }
                upto
            }
        };
        if !acked.is_empty() {
            self.refresh_floor();
        }
        acked
    }

    /// `-NAK`: redeliver now, or once `delay` (ns) has passed.
    pub fn nak(&mut self, seq: u64, delay: Option<i64>, now: Timestamp) {
        if !self.state.pending.contains_key(&seq) {
            return;
        }
        match delay {
            Some(d) if d > 0 => self.set_deadline(seq, now.saturating_add(d)),
            _ => {
                self.clear_deadline(seq);
                self.queue_redelivery(seq);
            }
        }
    }

    /// `+WPI`: the ack wait starts again.
    pub fn progress(&mut self, seq: u64, now: Timestamp, ack_wait: i64) {
        if self.state.pending.contains_key(&seq) {
            self.set_deadline(seq, now.saturating_add(ack_wait));
        }
    }

    /// Moves every pending message whose deadline is at or before `now` to
    /// the redelivery queue (or drops it once `max_deliver` is spent).
    pub fn expire(&mut self, now: Timestamp) {
        while let Some(&(at, seq)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.clear_deadline(seq);
            self.queue_redelivery(seq);
        }
    }

    /// The next ack deadline, if any.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// The first message due for redelivery.
    pub fn next_redelivery(&self) -> Option<u64> {
        self.redeliver.first().copied()
    }

    /// `seq` can no longer be redelivered (gone from the stream).
    pub fn drop_pending(&mut self, seq: u64) {
        self.forget(seq);
        self.refresh_floor();
    }

    /// Everything below `first_seq` left the stream (purge, limits).
    pub fn purged_below(&mut self, first_seq: u64) {
        let gone: Vec<u64> = self
            .state
            .pending
            .range(..first_seq)
            .map(|(s, _)| *s)
            .collect();
        for s in gone {
            self.forget(s);
        }
        if self.state.delivered.stream_seq < first_seq.saturating_sub(1) {
            self.state.delivered.stream_seq = first_seq.saturating_sub(1);
        }
        self.refresh_floor();
    }

    fn queue_redelivery(&mut self, seq: u64) {
        let spent = self.max_deliver > 0
            && self.delivery_count(seq) >= u64::try_from(self.max_deliver).unwrap_or(u64::MAX);
        if spent {
            self.drop_pending(seq);
        } else {
            self.redeliver.insert(seq);
        }
    }

    fn forget(&mut self, seq: u64) -> bool {
        self.clear_deadline(seq);
        self.redeliver.remove(&seq);
        self.state.redelivered.remove(&seq);
        self.state.pending.remove(&seq).is_some()
    }

    fn set_deadline(&mut self, seq: u64, at: Timestamp) {
        self.clear_deadline(seq);
        self.deadlines.insert((at, seq));
        self.due.insert(seq, at);
    }

    fn clear_deadline(&mut self, seq: u64) {
        if let Some(at) = self.due.remove(&seq) {
            self.deadlines.remove(&(at, seq));
        }
    }

    /// Everything below the oldest pending message is acknowledged.
    fn refresh_floor(&mut self) {
        self.state.ack_floor = match self.state.pending.first_key_value() {
            None => self.state.delivered,
            Some((seq, p)) => crate::jetstream::store::SequencePair {
                consumer_seq: p.consumer_seq.saturating_sub(1),
                stream_seq: seq.saturating_sub(1),
            },
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(policy: AckPolicy, max_deliver: i64) -> Tracker {
        Tracker::new(ConsumerState::default(), policy, max_deliver, 100, 0)
    }

    #[test]
    fn explicit_acks_move_the_floor() {
        let mut t = tracker(AckPolicy::Explicit, -1);
        for seq in 1..=3 {
            t.delivered(seq, false, 0, |_| 100);
        }
        assert_eq!(t.num_ack_pending(), 3);
        assert_eq!(t.ack(2), [2]);
        assert_eq!(t.state.ack_floor.stream_seq, 0);
        assert_eq!(t.ack(1), [1]);
        assert_eq!(t.state.ack_floor.stream_seq, 2);
        assert_eq!(t.state.ack_floor.consumer_seq, 2);
        assert!(t.ack(1).is_empty());
        assert_eq!(t.ack(3), [3]);
        assert_eq!(t.state.ack_floor, t.state.delivered);
    }

    #[test]
    fn ack_all_covers_everything_below() {
        let mut t = tracker(AckPolicy::All, -1);
        for seq in 1..=5 {
            t.delivered(seq, false, 0, |_| 100);
        }
        assert_eq!(t.ack(4), [1, 2, 3, 4]);
        assert_eq!(t.num_ack_pending(), 1);
        assert_eq!(t.state.ack_floor.stream_seq, 4);
    }

    #[test]
    fn expiry_redelivers_until_max_deliver() {
        let mut t = tracker(AckPolicy::Explicit, 2);
        t.delivered(7, false, 0, |_| 100);
        t.expire(99);
        assert_eq!(t.next_redelivery(), None);
        t.expire(100);
        assert_eq!(t.next_redelivery(), Some(7));
        let (dseq, count) = t.delivered(7, true, 100, |_| 100);
        assert_eq!((dseq, count), (2, 2));
        assert_eq!(t.num_redelivered(), 1);
        t.expire(200);
        // Two deliveries spent: dropped, not redelivered.
        assert_eq!(t.next_redelivery(), None);
        assert_eq!(t.num_ack_pending(), 0);
    }

    #[test]
    fn nak_with_delay_and_progress() {
        let mut t = tracker(AckPolicy::Explicit, -1);
        t.delivered(1, false, 0, |_| 100);
        t.nak(1, Some(500), 10);
        t.expire(400);
        assert_eq!(t.next_redelivery(), None);
        t.expire(510);
        assert_eq!(t.next_redelivery(), Some(1));
        t.delivered(1, true, 510, |_| 100);
        t.progress(1, 600, 100);
        assert_eq!(t.next_deadline(), Some(700));
        t.nak(1, None, 650);
        assert_eq!(t.next_redelivery(), Some(1));
    }

    #[test]
    fn ack_none_tracks_nothing() {
        let mut t = tracker(AckPolicy::None, -1);
        t.delivered(3, false, 0, |_| 0);
        assert_eq!(t.num_ack_pending(), 0);
        assert_eq!(t.state.ack_floor.stream_seq, 3);
    }

    #[test]
    fn purge_drops_pending_below_first() {
        let mut t = tracker(AckPolicy::Explicit, -1);
        for seq in 1..=4 {
            t.delivered(seq, false, 0, |_| 100);
        }
        t.purged_below(3);
        assert_eq!(t.num_ack_pending(), 2);
        assert_eq!(t.state.ack_floor.stream_seq, 2);
    }
}
