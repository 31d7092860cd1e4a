//! `$JS.API.STREAM.MSG.GET` (by sequence, last by subject, next by subject
//! from a sequence) and `$JS.API.STREAM.MSG.DELETE`.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use super::strict;
use super::{fields, Reply};
use crate::jetstream::error::ApiError;
use crate::jetstream::service::JetStream;
use crate::jetstream::wire::{base64, time_string};

pub(crate) const GET: &str = "io.nats.jetstream.api.v1.stream_msg_get_response";
pub(crate) const DELETE: &str = "io.nats.jetstream.api.v1.stream_msg_delete_response";

#[derive(Deserialize)]
struct GetRequest {
    #[serde(default, deserialize_with = "crate::jetstream::config::nullable")]
    seq: u64,
    #[serde(default, deserialize_with = "crate::jetstream::config::nullable")]
    last_by_subj: String,
    #[serde(default, deserialize_with = "crate::jetstream::config::nullable")]
    next_by_subj: String,
}

#[derive(Deserialize)]
struct DeleteRequest {
    #[serde(default, deserialize_with = "crate::jetstream::config::nullable")]
    seq: u64,
    /// Overwrite the message's bytes on disk; Tern's stores always drop
    /// the record, so both forms are accepted.
    #[serde(
        default,
        rename = "no_erase",
        deserialize_with = "crate::jetstream::config::nullable"
    )]
    _no_erase: bool,
}

/// This family's request bodies, parsed as its handlers parse them (for
/// [`super::parse_request_bodies`]).
pub(super) fn parse_request_bodies(body: &[u8]) {
    let _ = serde_json::from_slice::<GetRequest>(body);
    let _ = serde_json::from_slice::<DeleteRequest>(body);
}

pub(crate) async fn get(js: &Arc<JetStream>, name: &str, body: &[u8]) -> Reply {
    let result = async {
        strict::check(js, body, &strict::MSG_GET)?;
        let stream = js.stream(name).ok_or_else(ApiError::stream_not_found)?;
        let req: GetRequest = serde_json::from_slice(body).map_err(|_| ApiError::bad_request())?;
        let store = &stream.store;
        let failed =
            |e: crate::jetstream::store::StoreError| ApiError::new(500, 10051, e.to_string());
        let found = match (
            req.seq,
            req.last_by_subj.is_empty(),
            req.next_by_subj.is_empty(),
        ) {
            (seq, true, true) if seq > 0 => store.load(seq).await.map_err(failed)?,
            (0, false, true) => store
                .load_last(req.last_by_subj.as_bytes())
                .await
                .map_err(failed)?,
            (seq, true, false) => store
                .load_next(seq.max(1), Some(req.next_by_subj.as_bytes()))
                .await
                .map_err(failed)?,
            _ => return Err(ApiError::bad_request()),
        };
        let m = found.ok_or_else(ApiError::no_message_found)?;
        let mut message = json!({
            "subject": String::from_utf8_lossy(&m.subject),
            "seq": m.seq,
            "time": time_string(m.timestamp),
        });
        if !m.headers.is_empty() {
            message["hdrs"] = base64(&m.headers).into();
        }
        if !m.payload.is_empty() {
            message["data"] = base64(&m.payload).into();
        }
        Ok(fields(&json!({ "message": message })))
    }
    .await;
    (GET, result)
}

pub(crate) async fn delete(js: &Arc<JetStream>, name: &str, body: &[u8]) -> Reply {
    let result = async {
        strict::check(js, body, &strict::MSG_DELETE)?;
        let stream = js.stream(name).ok_or_else(ApiError::stream_not_found)?;
        let config = stream.config();
        if config.sealed {
            return Err(ApiError::sealed());
        }
        if config.deny_delete {
            return Err(ApiError::msg_delete_failed("message delete not permitted"));
        }
        let req: DeleteRequest =
            serde_json::from_slice(body).map_err(|_| ApiError::bad_request())?;
        let removed = stream
            .store
            .remove(req.seq)
            .await
            .map_err(|e| ApiError::msg_delete_failed(e.to_string()))?;
        if !removed {
            return Err(ApiError::msg_delete_failed("no message found"));
        }
        stream.notify_removed();
        Ok(fields(&json!({ "success": true })))
    }
    .await;
    (DELETE, result)
}
