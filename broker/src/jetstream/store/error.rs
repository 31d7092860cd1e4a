//! `StoreError`: everything a store operation can fail with.
//!
//! The first group is per-message refusals the stream layer turns into
//! nats-server's API errors (`err_code`); the second is about the store as a
//! whole (the stream layer logs it and takes only that stream offline).
//! Sources sit behind `Arc` so one failed group commit can report the same
//! error to every caller in the group.

use std::path::PathBuf;
use std::sync::Arc;

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// `Nats-Expected-Last-Sequence` did not match.
    #[error("wrong last sequence: {current}")]
    WrongLastSequence { current: u64 },
    /// `Nats-Expected-Last-Subject-Sequence` did not match.
    #[error("wrong last sequence: {current}")]
    WrongLastSubjectSequence { current: u64 },
    /// Discard new: the stream holds `max_msgs` messages.
    #[error("maximum messages exceeded")]
    MaxMsgs,
    /// Discard new: the message would take the stream past `max_bytes`.
    #[error("maximum bytes exceeded")]
    MaxBytes,
    /// Discard new per subject: the subject holds `max_msgs_per_subject`.
    #[error("maximum messages per subject exceeded")]
    MaxMsgsPerSubject,
    /// A message whose parts cannot be framed (a part over 4 GiB, or a
    /// record past redb's 3 GiB value limit).
    #[error("message too large for the store: {size} bytes")]
    MessageTooLarge { size: u64 },
    /// A purge request with contradictory fields (`seq` with `keep`).
    #[error("invalid purge request: {0}")]
    InvalidPurge(&'static str),

    /// The store was closed; nothing more can be written.
    #[error("store is closed")]
    Closed,
    /// An earlier commit failed in a way that leaves the file needing
    /// recovery; the store refuses writes until it is reopened.
    #[error("store {path} failed and accepts no more writes: {reason}")]
    Failed { path: PathBuf, reason: String },
    /// The file is damaged: redb found a bad checksum or structure, the file
    /// is truncated or empty, or the metadata disagrees with the contents.
    #[error("store file {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// The counters and the stored messages disagree (found while applying
    /// limits); the store needs reopening, which rebuilds or rejects it.
    #[error("store state is inconsistent: {reason}")]
    Inconsistent { reason: String },
    /// The file was written by a store format this build does not read.
    #[error("store file {path} has format version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        path: PathBuf,
        found: u64,
        supported: u64,
    },
    /// Another store (in this or another process) has the file open.
    #[error("store file {path} is already open")]
    AlreadyOpen { path: PathBuf },
    /// The file system refused (permissions, disk full, missing directory).
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    /// Any other error reported by redb.
    #[error("database error on {path}: {source}")]
    Database {
        path: PathBuf,
        #[source]
        source: Arc<redb::Error>,
    },
}

impl StoreError {
    /// True for refusals of one request (the store itself is fine).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            StoreError::WrongLastSequence { .. }
                | StoreError::WrongLastSubjectSequence { .. }
                | StoreError::MaxMsgs
                | StoreError::MaxBytes
                | StoreError::MaxMsgsPerSubject
                | StoreError::MessageTooLarge { .. }
                | StoreError::InvalidPurge(_)
        )
    }
}
