//! `$JS.API.>`: one task takes the requests in order, dispatches on the
//! subject to the handler of its family (one file each) and publishes the
//! JSON answer to the reply subject. Every answer carries nats-server's
//! `type`; failures carry `{"error":{"code","err_code","description"}}`.
//!
//! Served: `INFO` ([`account`]); `STREAM.CREATE|UPDATE|INFO|DELETE|PURGE|
//! NAMES|LIST` ([`streams`]); `STREAM.MSG.GET|DELETE` ([`msg`]). Every other
//! `$JS.API` subject (consumers, direct get, snapshots, ...) is answered
//! with an error saying it is not implemented yet.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::server::internal::{InternalMessage, InternalSubscription};

use super::error::ApiError;
use super::service::JetStream;

pub mod account;
pub mod msg;
pub mod streams;

const PREFIX: &str = "$JS.API.";
const SYSTEM_RESPONSE: &str = "io.nats.jetstream.api.v1.system_response";

/// What a handler answers: the response `type` and its fields, or an error.
pub(crate) type Reply = (&'static str, Result<Map<String, Value>, ApiError>);

/// Answers requests until the subscription goes away (or the task is
/// aborted at shutdown).
pub(crate) async fn serve(js: Arc<JetStream>, mut sub: InternalSubscription) {
    while let Some(msg) = sub.recv().await {
        let Some(reply) = msg.reply.clone() else {
            continue;
        };
        let (kind, result) = handle(&js, &msg).await;
        js.count_request(result.is_err());
        let mut body = Map::new();
        body.insert("type".into(), kind.into());
        match result {
            Ok(fields) => body.extend(fields),
            Err(e) => {
                body.insert("error".into(), serde_json::to_value(e).unwrap_or_default());
            }
        }
        let bytes = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
        js.shared.publish_internal(&reply, None, None, &bytes);
    }
}

async fn handle(js: &Arc<JetStream>, msg: &InternalMessage) -> Reply {
    let subject = String::from_utf8_lossy(&msg.subject);
    let Some(rest) = subject.strip_prefix(PREFIX) else {
        return (SYSTEM_RESPONSE, Err(ApiError::bad_request()));
    };
    let body = &msg.payload[..];
    let tokens: Vec<&str> = rest.split('.').collect();
    match tokens.as_slice() {
        ["INFO"] => account::info(js),
        ["STREAM", "CREATE", name] => streams::create(js, name, body).await,
        ["STREAM", "UPDATE", name] => streams::update(js, name, body).await,
        ["STREAM", "INFO", name] => streams::info(js, name, body).await,
        ["STREAM", "DELETE", name] => streams::delete(js, name).await,
        ["STREAM", "PURGE", name] => streams::purge(js, name, body).await,
        ["STREAM", "NAMES"] => streams::names(js, body),
        ["STREAM", "LIST"] => streams::list(js, body).await,
        ["STREAM", "MSG", "GET", name] => msg::get(js, name, body).await,
        ["STREAM", "MSG", "DELETE", name] => msg::delete(js, name, body).await,
        _ => (SYSTEM_RESPONSE, Err(ApiError::not_implemented(&subject))),
    }
}

/// Parses an optional JSON request body: empty (or `null`) means all
/// defaults.
pub(crate) fn parse_optional<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    let text = body.trim_ascii();
    if text.is_empty() || text == b"null" {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(ApiError::invalid_json)
}

/// Serializes a response struct into the fields of a reply.
pub(crate) fn fields<T: serde::Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}
