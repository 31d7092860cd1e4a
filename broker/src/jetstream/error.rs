//! Errors: [`ApiError`] is what a `$JS.API` request or a publish acknowledgement
//! answers with (nats-server's `{"code","err_code","description"}`, the codes
//! from its `jetstream_errors_generated.go`); [`JetStreamError`] is what
//! starting the service or recovering a stream can fail with.

use std::path::PathBuf;

use serde::Serialize;

use super::store::StoreError;

/// One API error as nats-server reports it: HTTP-like `code`, JetStream
/// `err_code`, and a description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub code: u16,
    pub err_code: u16,
    pub description: String,
}

impl ApiError {
    pub fn new(code: u16, err_code: u16, description: impl Into<String>) -> Self {
        ApiError {
            code,
            err_code,
            description: description.into(),
        }
    }

    pub fn bad_request() -> Self {
        Self::new(400, 10003, "bad request")
    }
    pub fn invalid_json(err: impl std::fmt::Display) -> Self {
        Self::new(400, 10025, format!("invalid JSON: {err}"))
    }
    pub fn no_message_found() -> Self {
        Self::new(404, 10037, "no message found")
    }
    pub fn stream_not_found() -> Self {
        Self::new(404, 10059, "stream not found")
    }
    pub fn stream_name_exists() -> Self {
        Self::new(
            400,
            10058,
            "stream name already in use with a different configuration",
        )
    }
    pub fn stream_mismatch() -> Self {
        Self::new(400, 10056, "stream name in subject does not match request")
    }
    pub fn subject_overlap() -> Self {
        Self::new(400, 10065, "subjects overlap with an existing stream")
    }
    pub fn invalid_config(err: impl Into<String>) -> Self {
        Self::new(500, 10052, err)
    }
    pub fn stream_update(err: impl Into<String>) -> Self {
        Self::new(500, 10069, err)
    }
    pub fn replicas_not_supported() -> Self {
        Self::new(
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode",
        )
    }
    pub fn stream_create(err: impl Into<String>) -> Self {
        Self::new(500, 10049, err)
    }
    pub fn msg_delete_failed(err: impl Into<String>) -> Self {
        Self::new(500, 10057, err)
    }
    pub fn purge_failed(err: impl Into<String>) -> Self {
        Self::new(500, 10110, err)
    }
    pub fn store_failed(err: impl Into<String>) -> Self {
        Self::new(503, 10077, err)
    }
    pub fn message_too_big() -> Self {
        Self::new(400, 10054, "message size exceeds maximum allowed")
    }
    pub fn stream_not_match() -> Self {
        Self::new(400, 10060, "expected stream does not match")
    }
    pub fn wrong_last_msg_id(id: &str) -> Self {
        Self::new(400, 10070, format!("wrong last msg ID: {id}"))
    }
    pub fn wrong_last_sequence(seq: u64) -> Self {
        Self::new(400, 10071, format!("wrong last sequence: {seq}"))
    }
    pub fn rollup_failed(err: impl Into<String>) -> Self {
        Self::new(500, 10111, err)
    }
    /// A publish past the server's `max_file_store`/`max_memory_store`.
    pub fn insufficient_resources() -> Self {
        Self::new(503, 10023, "insufficient resources")
    }
    pub fn sealed() -> Self {
        Self::new(400, 10109, "invalid operation on sealed stream")
    }
    pub fn not_empty_request() -> Self {
        Self::new(400, 10038, "expected an empty request payload")
    }
    /// A `$JS.API` request Tern does not serve yet: an honest refusal in
    /// nats-server's error shape (nats-server itself has no `err_code` for
    /// this; 10003 is its generic "bad request").
    /// nats-server's answer to an account that has no JetStream.
    pub fn not_enabled_for_account() -> Self {
        Self::new(503, 10039, "JetStream not enabled for account")
    }

    pub fn not_implemented(subject: &str) -> Self {
        Self::new(
            501,
            10003,
            format!("not implemented by this server yet: {subject}"),
        )
    }

    /// A per-message refusal or failure of the store, as nats-server words
    /// it in a publish acknowledgement.
    pub fn from_store(err: &StoreError) -> Self {
        match err {
            StoreError::WrongLastSequence { current }
            | StoreError::WrongLastSubjectSequence { current } => {
                Self::wrong_last_sequence(*current)
            }
            other => Self::store_failed(other.to_string()),
        }
    }
}

/// Starting JetStream or recovering a stream failed.
#[derive(Debug, thiserror::Error)]
pub enum JetStreamError {
    /// nats-server's wording, which launchers look for.
    #[error("storage directory is not a directory: {path}")]
    NotADirectory { path: PathBuf },
    #[error("cannot use store directory {path}: {source}")]
    StoreDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read stream config {path}: {reason}")]
    BadConfig { path: PathBuf, reason: String },
    #[error("cannot open stream {name}: {source}")]
    Store {
        name: String,
        #[source]
        source: StoreError,
    },
    #[error("cannot subscribe to {subject}: {reason}")]
    Subscribe { subject: String, reason: String },
}
