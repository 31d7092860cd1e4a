//! The primitive table operations a store backend provides: a read view
//! ([`MsgView`]) and its writable extension ([`MsgTables`]).
//!
//! Both stores keep the same three structures — messages by sequence, a
//! `(subject, seq)` index and per-subject counts — so every algorithm above
//! them (limits, purge, filtered reads) is written once, in
//! [`super::engine`] and [`super::query`], and behaves identically on disk and
//! in memory. The visitors take `&mut dyn FnMut` rather than returning
//! iterators because redb's iterators borrow the transaction; a callback keeps
//! the trait object-safe and the scan allocation-free.

use std::ops::ControlFlow;

use super::error::StoreError;
use super::types::{NewMessage, StoredMessage, Timestamp};

pub(crate) type StoreResult<T> = Result<T, StoreError>;

/// What a scan sees of one message, borrowed from the backend.
pub(crate) struct MsgInfo<'a> {
    pub seq: u64,
    pub subject: &'a [u8],
    pub timestamp: Timestamp,
    pub headers_len: usize,
    pub payload_len: usize,
}

/// What removing a message reports back to the engine's counters.
pub(crate) struct Removed {
    pub subject_len: usize,
    pub headers_len: usize,
    pub payload_len: usize,
    /// The message was the last one on its subject.
    pub subject_emptied: bool,
}

/// Read access to one stream's messages.
pub(crate) trait MsgView {
    /// The message at `seq`, if present.
    fn get(&self, seq: u64) -> StoreResult<Option<StoredMessage>>;

    /// Visits messages with `from <= seq <= to` in ascending order (descending
    /// when `rev`) until `f` breaks.
    fn scan(
        &self,
        from: u64,
        to: u64,
        rev: bool,
        f: &mut dyn FnMut(MsgInfo<'_>) -> ControlFlow<()>,
    ) -> StoreResult<()>;

    /// How many messages `subject` (a literal) has.
    fn subject_count(&self, subject: &[u8]) -> StoreResult<u64>;

    /// Visits the sequences of the literal `subject` within `[from, to]`.
    fn subject_seqs(
        &self,
        subject: &[u8],
        from: u64,
        to: u64,
        rev: bool,
        f: &mut dyn FnMut(u64) -> ControlFlow<()>,
    ) -> StoreResult<()>;

    /// Visits every subject that has messages, with its count.
    fn subjects(&self, f: &mut dyn FnMut(&[u8], u64) -> ControlFlow<()>) -> StoreResult<()>;
}

/// Write access; only the engine calls these, and it keeps the counters.
pub(crate) trait MsgTables: MsgView {
    /// Stores `msg` at `seq` (above every stored sequence). Returns true when
    /// the subject had no messages before.
    fn insert(&mut self, seq: u64, msg: &NewMessage) -> StoreResult<bool>;

    /// Removes the message at `seq`, if present.
    fn remove(&mut self, seq: u64) -> StoreResult<Option<Removed>>;

    /// Removes every message.
    fn clear(&mut self) -> StoreResult<()>;
}

/// The first message at or after `from`: its sequence and timestamp.
pub(crate) fn first_at_or_after<V: MsgView + ?Sized>(
    view: &V,
    from: u64,
) -> StoreResult<Option<(u64, Timestamp)>> {
    let mut found = None;
    view.scan(from, u64::MAX, false, &mut |m| {
        found = Some((m.seq, m.timestamp));
        ControlFlow::Break(())
    })?;
    Ok(found)
}

/// The first (or, with `rev`, last) sequence of a literal subject in range.
pub(crate) fn subject_edge<V: MsgView + ?Sized>(
    view: &V,
    subject: &[u8],
    from: u64,
    rev: bool,
) -> StoreResult<Option<u64>> {
    let mut found = None;
    view.subject_seqs(subject, from, u64::MAX, rev, &mut |seq| {
        found = Some(seq);
        ControlFlow::Break(())
    })?;
    Ok(found)
}
