//! Which message a consumer delivers next: redeliveries first (in stream
//! order), then the initial last-per-subject list, then new messages from
//! the cursor on, read from the store in batches. Also keeps `num_pending`
//! (matching messages not yet delivered) without a store trip per message.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

use crate::jetstream::store::{MessageStore, StoreError, StoredMessage};

use super::tracking::Tracker;

/// Messages read per store trip.
const BATCH: usize = 256;
/// Bytes read per store trip.
const BATCH_BYTES: usize = 8 << 20;

/// Where a message came from, so it can be put back if nobody took it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Redelivery,
    LastPerSubject,
    New,
}

/// The read position of one consumer.
pub struct Source {
    store: Arc<dyn MessageStore>,
    /// Empty = every subject.
    filters: Vec<Bytes>,
    /// The first stream sequence not yet read into `prefetched`.
    next_seq: u64,
    prefetched: VecDeque<StoredMessage>,
    last_per_subject: VecDeque<u64>,
    /// Matching messages from the delivery cursor on, when known.
    num_pending: Option<u64>,
    /// The last count, kept (and counted down) while `num_pending` waits to
    /// be recounted: what monitoring shows between recounts.
    last_count: u64,
}

impl Source {
    pub fn new(store: Arc<dyn MessageStore>, filters: Vec<Bytes>, next_seq: u64) -> Source {
        Source {
            store,
            filters,
            next_seq: next_seq.max(1),
            prefetched: VecDeque::new(),
            last_per_subject: VecDeque::new(),
            num_pending: None,
            last_count: 0,
        }
    }

    /// Starts with the last message of each subject (deliver policy
    /// `last_per_subject`), then goes on from `next_seq`.
    pub fn set_last_per_subject(&mut self, seqs: Vec<u64>) {
        self.last_per_subject = seqs.into();
    }

    pub fn set_filters(&mut self, filters: Vec<Bytes>) {
        if filters != self.filters {
            self.filters = filters;
            self.reset();
        }
    }

    /// The stream sequence the next new message will be at or after.
    pub fn cursor(&self) -> u64 {
        self.prefetched.front().map_or(self.next_seq, |m| m.seq)
    }

    /// New messages were stored: the pending count must be recounted.
    pub fn appended(&mut self) {
        self.num_pending = None;
    }

    /// Messages left the stream: forget what was read ahead.
    pub fn reset(&mut self) {
        self.next_seq = self.cursor();
        self.prefetched.clear();
        self.num_pending = None;
        let first = self.store.state().first_seq;
        self.last_per_subject.retain(|s| *s >= first);
        if self.next_seq < first {
            self.next_seq = first;
        }
    }

    /// Matching messages not delivered yet (nats-server's `num_pending`).
    pub async fn num_pending(&mut self) -> Result<u64, StoreError> {
        if let Some(n) = self.num_pending {
            return Ok(n + self.last_per_subject.len() as u64);
        }
        let from = self.cursor();
        let n = if self.filters.is_empty() {
            let state = self.store.state();
            if from > state.last_seq || state.messages == 0 {
                0
            } else if from <= state.first_seq {
                state.messages
            } else if state.num_deleted == 0 {
                state.last_seq - from + 1
            } else {
                self.store.filtered_state(from, None).await?.messages
            }
        } else {
            let mut total = 0;
            for f in &self.filters {
                total += self.store.filtered_state(from, Some(f)).await?.messages;
            }
            total
        };
        self.num_pending = Some(n);
        self.last_count = n;
        Ok(n + self.last_per_subject.len() as u64)
    }

    /// The pending count as last known, without a store trip.
    pub fn pending_hint(&self) -> u64 {
        self.num_pending.unwrap_or(self.last_count) + self.last_per_subject.len() as u64
    }

    /// Whether new messages arrived since the last count.
    pub fn count_is_stale(&self) -> bool {
        self.num_pending.is_none()
    }

    /// The next message to deliver, if any. `room` is how many new messages
    /// may go out (max ack pending); redeliveries do not count against it.
    pub async fn next(
        &mut self,
        tracker: &mut Tracker,
        room: bool,
        want: usize,
    ) -> Result<Option<(StoredMessage, Origin)>, StoreError> {
        while let Some(seq) = tracker.next_redelivery() {
            match self.store.load(seq).await? {
                Some(m) => return Ok(Some((m, Origin::Redelivery))),
                None => tracker.drop_pending(seq),
            }
        }
        if !room {
            return Ok(None);
        }
        while let Some(seq) = self.last_per_subject.pop_front() {
            if let Some(m) = self.store.load(seq).await? {
                return Ok(Some((m, Origin::LastPerSubject)));
            }
        }
        if self.prefetched.is_empty() {
            self.refill(want.clamp(1, BATCH)).await?;
        }
        Ok(self.prefetched.pop_front().map(|m| {
            if let Some(n) = self.num_pending.as_mut() {
                *n = n.saturating_sub(1);
            }
            self.last_count = self.last_count.saturating_sub(1);
            (m, Origin::New)
        }))
    }

    /// Nobody took `m`: it is next again.
    pub fn put_back(&mut self, m: StoredMessage, origin: Origin) {
        match origin {
            Origin::Redelivery => {}
            Origin::LastPerSubject => self.last_per_subject.push_front(m.seq),
            Origin::New => {
                if let Some(n) = self.num_pending.as_mut() {
                    *n += 1;
                }
                self.last_count += 1;
                self.prefetched.push_front(m);
            }
        }
    }

    async fn refill(&mut self, want: usize) -> Result<(), StoreError> {
        let from = self.next_seq;
        let mut batch = match self.filters.as_slice() {
            [] => self.store.load_batch(from, None, want, BATCH_BYTES).await?,
            [one] => {
                self.store
                    .load_batch(from, Some(one), want, BATCH_BYTES)
                    .await?
            }
            many => {
                // A filter whose batch came back full may have more matches
                // past its last one: nothing beyond the lowest such last is
                // complete yet, so the merge stops there.
                let mut all = Vec::new();
                let mut horizon = u64::MAX;
                for f in many {
                    let part = self
                        .store
                        .load_batch(from, Some(f), want, BATCH_BYTES)
                        .await?;
                    if part.len() >= want {
                        horizon = horizon.min(part.last().map_or(u64::MAX, |m| m.seq));
                    }
                    all.extend(part);
                }
                all.retain(|m| m.seq <= horizon);
                all.sort_by_key(|m| m.seq);
                all.dedup_by_key(|m| m.seq);
                all.truncate(want);
                all
            }
        };
        if let Some(last) = batch.last() {
            self.next_seq = last.seq + 1;
        }
        self.prefetched.extend(batch.drain(..));
        Ok(())
    }
}
