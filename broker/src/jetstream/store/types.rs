//! The values that cross the store boundary: messages going in and coming
//! out, the stream state, limits, append conditions and purge requests.
//!
//! Field meanings follow nats-server's `StreamState`, `StreamConfig` limits
//! and `JSApiStreamPurgeRequest`, so the `$JS.API` layer can copy them into
//! its JSON without reinterpreting anything.

use std::time::Duration;

use bytes::Bytes;

/// Nanoseconds since the Unix epoch, as nats-server stores message times.
pub type Timestamp = i64;

/// Which implementation holds a stream. The byte counters differ between the
/// two exactly as they do in nats-server, so `bytes` in stream info matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StorageKind {
    /// redb on disk ([`super::RedbStore`]).
    File,
    /// In process memory ([`super::MemoryStore`]).
    Memory,
}

impl StorageKind {
    /// The size nats-server accounts for one message of this kind: the
    /// file store counts its record framing (length, seq, ts, subject length,
    /// checksum, and a header length when there are headers); the memory
    /// store counts 16 bytes for seq and timestamp.
    pub fn msg_size(self, subject_len: usize, headers_len: usize, payload_len: usize) -> u64 {
        let data = (subject_len + headers_len + payload_len) as u64;
        match self {
            StorageKind::Memory => data + 16,
            StorageKind::File if headers_len == 0 => data + 30,
            StorageKind::File => data + 34,
        }
    }
}

/// A message as the stream layer hands it to the store. The timestamp is the
/// caller's: the stream layer stamps messages when it accepts them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    pub subject: Bytes,
    /// The raw `NATS/1.0` header block, empty when the message has none.
    pub headers: Bytes,
    pub payload: Bytes,
    pub timestamp: Timestamp,
}

impl NewMessage {
    /// A message without headers.
    pub fn new(subject: impl Into<Bytes>, payload: impl Into<Bytes>, timestamp: Timestamp) -> Self {
        NewMessage {
            subject: subject.into(),
            headers: Bytes::new(),
            payload: payload.into(),
            timestamp,
        }
    }
}

/// A message read back from the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    pub seq: u64,
    pub timestamp: Timestamp,
    pub subject: Bytes,
    pub headers: Bytes,
    pub payload: Bytes,
}

/// One stream's state, with nats-server's meaning: `first_seq`/`last_seq`
/// bound the live range (an emptied stream has `first_seq == last_seq + 1`,
/// a never-used one has both 0); `num_deleted` counts the gaps inside it;
/// `last_ts` keeps the time of the last message stored even once it is gone.
/// Times are 0 when there is nothing to date.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamState {
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub first_ts: Timestamp,
    pub last_seq: u64,
    pub last_ts: Timestamp,
    pub num_subjects: u64,
    pub num_deleted: u64,
}

impl StreamState {
    /// Recomputes `num_deleted` from the range and the message count.
    pub(crate) fn refresh_deleted(&mut self) {
        self.num_deleted = if self.messages == 0 || self.last_seq < self.first_seq {
            0
        } else {
            (self.last_seq - self.first_seq + 1).saturating_sub(self.messages)
        };
    }
}

/// Messages, first and last sequence of the messages that match a filter
/// from a given sequence on (nats-server's `SimpleState`), all 0 when none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimpleState {
    pub messages: u64,
    pub first: u64,
    pub last: u64,
}

/// What happens when a limit is reached (nats-server's `discard`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DiscardPolicy {
    /// Remove the oldest messages to make room.
    #[default]
    Old,
    /// Refuse the new message.
    New,
}

/// The limits the store enforces itself. `None` is unlimited (the stream
/// layer maps nats-server's `-1`/`0` to `None`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreLimits {
    pub max_msgs: Option<u64>,
    pub max_bytes: Option<u64>,
    pub max_age: Option<Duration>,
    pub max_msgs_per_subject: Option<u64>,
    pub discard: DiscardPolicy,
    /// With `discard: New`, refuse a message whose subject is at its
    /// per-subject limit instead of dropping that subject's oldest message.
    pub discard_new_per_subject: bool,
}

/// `Nats-Rollup`: after storing the message, remove the others it rolls up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rollup {
    /// Every other message on the same subject.
    Subject,
    /// Every other message in the stream.
    All,
}

/// `Nats-Expected-Last-Subject-Sequence` (optionally with
/// `Nats-Expected-Last-Subject-Sequence-Subject`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedSubjectSeq {
    /// The last sequence the subject must have; 0 means "no message yet".
    pub seq: u64,
    /// The subject (or wildcard filter) to check instead of the message's.
    pub subject: Option<Bytes>,
}

/// Conditions checked and effects applied atomically with an append, in the
/// order appends were submitted. They live here, not in the stream layer,
/// because appends are pipelined for group commit: a check made before
/// submitting would race with the appends still in flight.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendOptions {
    /// `Nats-Expected-Last-Sequence`.
    pub expected_last_seq: Option<u64>,
    /// `Nats-Expected-Last-Subject-Sequence`.
    pub expected_last_subject_seq: Option<ExpectedSubjectSeq>,
    /// `Nats-Rollup`.
    pub rollup: Option<Rollup>,
}

/// A purge, as nats-server's `$JS.API.STREAM.PURGE` request allows: all
/// messages, those matching `filter`, those below `up_to_seq` (exclusive),
/// or all but the newest `keep`. `up_to_seq` and `keep` exclude each other.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeRequest {
    pub filter: Option<Bytes>,
    pub up_to_seq: Option<u64>,
    pub keep: Option<u64>,
}

impl PurgeRequest {
    /// Purge everything.
    pub fn all() -> Self {
        PurgeRequest::default()
    }
}

/// Is `filter` absent or the full wildcard, i.e. does it match everything?
pub(crate) fn matches_all(filter: Option<&[u8]>) -> bool {
    matches!(filter, None | Some(b">"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_nats_server() {
        // fileStoreMsgSize: 22 + subj + msg + 8, plus 4 + hdr with headers.
        assert_eq!(StorageKind::File.msg_size(3, 0, 5), 38);
        assert_eq!(StorageKind::File.msg_size(3, 10, 5), 52);
        // memStoreMsgSize: subj + hdr + msg + 16.
        assert_eq!(StorageKind::Memory.msg_size(3, 10, 5), 34);
    }

    #[test]
    fn deleted_counts_interior_gaps_only() {
        let mut s = StreamState {
            messages: 3,
            first_seq: 2,
            last_seq: 6,
            ..Default::default()
        };
        s.refresh_deleted();
        assert_eq!(s.num_deleted, 2);
        s.messages = 0;
        s.first_seq = 7;
        s.refresh_deleted();
        assert_eq!(s.num_deleted, 0);
    }
}
