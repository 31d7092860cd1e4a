//! `$JS.API.INFO`: the account's usage and limits. Tern's single account
//! has no JetStream limits of its own (`-1`, as nats-server reports for an
//! account without any); the server-wide `max_memory_store` and
//! `max_file_store` still apply to every message stored.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::json;

use super::{fields, Reply};
use crate::jetstream::service::JetStream;
use crate::jetstream::store::StorageKind;

pub(crate) const TYPE: &str = "io.nats.jetstream.api.v1.account_info_response";

/// The JetStream API level Tern answers at (nats-server 2.10's).
pub const API_LEVEL: u32 = 1;

pub(crate) fn info(js: &Arc<JetStream>) -> Reply {
    let body = json!({
        "memory": js.used(StorageKind::Memory),
        "storage": js.used(StorageKind::File),
        "reserved_memory": 0,
        "reserved_storage": 0,
        "streams": js.streams.read().len(),
        "consumers": js.consumer_total(),
        "limits": {
            "max_memory": -1,
            "max_storage": -1,
            "max_streams": -1,
            "max_consumers": -1,
            "max_ack_pending": -1,
            "memory_max_stream_bytes": -1,
            "storage_max_stream_bytes": -1,
            "max_bytes_required": false,
        },
        "api": {
            "level": API_LEVEL,
            "total": js.api_total.load(Ordering::Relaxed),
            "errors": js.api_errors.load(Ordering::Relaxed),
        },
    });
    (TYPE, Ok(fields(&body)))
}
