//! The message store: one stream's messages and its consumers' state,
//! behind the [`MessageStore`] trait, with two implementations —
//! [`RedbStore`] (file, `storage: file`) and [`MemoryStore`].
//!
//! ## What the store owns
//! Sequence numbers, the stream state counters ([`StreamState`], nats-server's
//! meaning), per-subject counts and the subject index, the limits that discard
//! old messages (`max_msgs`, `max_bytes`, `max_age`, `max_msgs_per_subject`),
//! the discard-new refusals, `Nats-Expected-Last-*Sequence` checks and
//! `Nats-Rollup` (see [`AppendOptions`] for why those are here), purge and
//! compact, filtered reads, and consumer state ([`ConsumerStateStore`]).
//!
//! ## What it leaves to the stream layer
//! Stream and consumer configuration, `max_msg_size`, dedupe by
//! `Nats-Msg-Id`, retention policies other than limits (interest and work
//! queue remove acknowledged messages with [`MessageStore::remove`]), the
//! timer that calls [`MessageStore::expire`] (see
//! [`MessageStore::next_expiry`]), and account limits
//! (`max_file_store`/`max_memory_store`, from [`StreamState::bytes`]).
//!
//! ## Calling convention
//! Every operation returns a [`StoreFuture`] that owns what it needs
//! (`'static`), so the stream layer can submit under its own lock and await
//! outside it. Mutations are *submitted* when the method returns — in call
//! order, which is the order sequences are assigned and conditions checked —
//! and done (for the file store: committed so that it survives `kill -9`)
//! when the future resolves. Many appends submitted before the first
//! resolves share one commit. The file store often commits right in the
//! call (no fsync: tens of microseconds), so the future is then resolved at
//! once; its fsyncs run on the store's own thread. Its bounded reads (a
//! message, a batch) also run in the call; scans run on tokio's blocking
//! pool. [`MessageStore::state`] is an in-memory snapshot of the committed
//! state and never blocks.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

pub mod consumer;
pub(crate) mod engine;
pub mod error;
pub mod memory;
pub(crate) mod query;
pub mod redb_store;
pub mod types;
pub(crate) mod view;

pub use consumer::{ConsumerState, ConsumerStateStore, PendingAck, SequencePair};
pub use error::StoreError;
pub use memory::MemoryStore;
pub use redb_store::{RedbOptions, RedbStore};
pub use types::{
    AppendOptions, DiscardPolicy, ExpectedSubjectSeq, NewMessage, PurgeRequest, Rollup,
    SimpleState, StorageKind, StoreLimits, StoredMessage, StreamState, Timestamp,
};

/// What every store operation returns: an owned, sendable future.
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'static>>;

/// One stream's storage. Object-safe: streams hold an `Arc<dyn MessageStore>`.
///
/// Filters are NATS subjects, possibly with `*`/`>` wildcards; `None` (or
/// `>`) matches everything.
pub trait MessageStore: ConsumerStateStore + Send + Sync {
    /// File or memory; decides how `bytes` are counted.
    fn kind(&self) -> StorageKind;

    /// The committed state, from memory.
    fn state(&self) -> StreamState;

    /// The limits in force.
    fn limits(&self) -> StoreLimits;

    /// When the oldest message will pass `max_age` (ns since the epoch), for
    /// the stream layer's expiry timer; `None` without `max_age` or messages.
    fn next_expiry(&self) -> Option<Timestamp>;

    /// Stores `msg` with the next sequence and returns that sequence, after
    /// checking `opts` and the discard-new limits and applying the rollup and
    /// discard-old limits. Ages out messages older than `max_age` relative to
    /// `msg.timestamp` first.
    fn append(&self, msg: NewMessage, opts: AppendOptions) -> StoreFuture<u64>;

    /// Like [`Self::append`], but the store may hold the write until
    /// [`Self::commit_deferred`], so a burst shares one commit. Whoever
    /// defers must call it before awaiting the future.
    fn append_deferred(&self, msg: NewMessage, opts: AppendOptions) -> StoreFuture<u64> {
        self.append(msg, opts)
    }

    /// Commits what [`Self::append_deferred`] queued.
    fn commit_deferred(&self) {}

    /// Removes one message; false if it was not there.
    fn remove(&self, seq: u64) -> StoreFuture<bool>;

    /// `$JS.API.STREAM.PURGE`; returns how many messages went.
    fn purge(&self, req: PurgeRequest) -> StoreFuture<u64>;

    /// Removes every message below `seq`; past the end, empties the stream
    /// and makes `seq` the next sequence.
    fn compact(&self, seq: u64) -> StoreFuture<u64>;

    /// Makes `seq` the next sequence if it is past the end, leaving a gap
    /// (mirrors keep their origin's sequences); returns how many were
    /// skipped.
    fn skip_to(&self, seq: u64) -> StoreFuture<u64>;

    /// Removes messages older than `max_age` as of `now`; returns how many.
    fn expire(&self, now: Timestamp) -> StoreFuture<u64>;

    /// Replaces the limits (stream update) and applies the count and size
    /// limits at once; returns how many messages that removed.
    fn set_limits(&self, limits: StoreLimits) -> StoreFuture<u64>;

    /// Whether messages stored from now on are compressed (`compression:
    /// s2`); what is stored keeps its form.
    fn set_compression(&self, on: bool);

    /// The message at `seq`.
    fn load(&self, seq: u64) -> StoreFuture<Option<StoredMessage>>;

    /// The first message at or after `from` matching `filter`.
    fn load_next(&self, from: u64, filter: Option<&[u8]>) -> StoreFuture<Option<StoredMessage>>;

    /// Up to `max_msgs` matching messages from `from` on, stopping before the
    /// one that would pass `max_bytes` of subject+headers+payload (the first
    /// always comes back). One blocking-pool trip for a whole pull batch.
    fn load_batch(
        &self,
        from: u64,
        filter: Option<&[u8]>,
        max_msgs: usize,
        max_bytes: usize,
    ) -> StoreFuture<Vec<StoredMessage>>;

    /// The newest message matching `filter` (KV get, direct get by subject).
    fn load_last(&self, filter: &[u8]) -> StoreFuture<Option<StoredMessage>>;

    /// The last sequence of each subject matching `filter`, ascending
    /// (deliver policy `last_per_subject`).
    fn last_per_subject(&self, filter: Option<&[u8]>) -> StoreFuture<Vec<u64>>;

    /// Count, first and last of the matching messages at or after `from`
    /// (a consumer's `num_pending`).
    fn filtered_state(&self, from: u64, filter: Option<&[u8]>) -> StoreFuture<SimpleState>;

    /// Message count per subject for subjects matching `filter` (stream info
    /// `subjects_filter`).
    fn subjects_state(&self, filter: Option<&[u8]>) -> StoreFuture<BTreeMap<Bytes, u64>>;

    /// The first sequence stored at or after `ts`; `last_seq + 1` if none.
    fn seq_from_time(&self, ts: Timestamp) -> StoreFuture<u64>;

    /// The missing sequences inside `first_seq..=last_seq` (stream info
    /// `deleted_details`).
    fn deleted(&self) -> StoreFuture<Vec<u64>>;

    /// Recounts every message and compares with the counters and subject
    /// index; `Ok(Err(what))` names the disagreement. Reads everything: for
    /// tests and repair tools, not the request path.
    fn check_consistency(&self) -> StoreFuture<Result<(), String>>;

    /// Finishes what was submitted and stops accepting writes.
    fn close(&self) -> StoreFuture<()>;
}
