//! `$JS.API.>`: one task takes the requests in order, dispatches on the
//! subject to the handler of its family (one file each) and publishes the
//! JSON answer to the reply subject. Every answer carries nats-server's
//! `type`; failures carry `{"error":{"code","err_code","description"}}`.
//!
//! Served: `INFO` ([`account`]); `STREAM.CREATE|UPDATE|INFO|DELETE|PURGE|
//! NAMES|LIST` ([`streams`]); `STREAM.MSG.GET|DELETE` ([`msg`]);
//! `CONSUMER.CREATE|DURABLE.CREATE|INFO|DELETE|NAMES|LIST|PAUSE|UNPIN|
//! MSG.NEXT` ([`consumers`]); `DIRECT.GET` ([`direct`]). Every other `$JS.API`
//! subject (snapshots, leader step-down, ...) is answered with an error
//! saying it is not implemented yet.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::server::internal::{InternalMessage, InternalSubscription};

use super::error::ApiError;
use super::service::JetStream;

pub mod account;
pub mod consumers;
pub mod direct;
pub mod msg;
pub mod not_enabled;
pub mod streams;
pub(crate) mod strict;

use bytes::Bytes;

use consumers::CreateForm;

const PREFIX: &str = "$JS.API.";
const SYSTEM_RESPONSE: &str = "io.nats.jetstream.api.v1.system_response";

/// What a handler answers: the response `type` and its fields, or an error.
pub(crate) type Reply = (&'static str, Result<Map<String, Value>, ApiError>);

/// How a request is answered.
pub(crate) enum Answer {
    /// nats-server's JSON response.
    Json(Reply),
    /// Messages as they are (direct get, pull statuses): headers, payload.
    Raw(Vec<(Vec<u8>, Bytes)>),
    /// Nobody serves this subject on nats-server: the requester gets the
    /// "no responders" status it would get there.
    NoResponders,
    /// Handed on (a pull request now belongs to its consumer).
    Nothing,
}

impl From<Reply> for Answer {
    fn from(r: Reply) -> Answer {
        Answer::Json(r)
    }
}

/// Answers requests until the subscription goes away (or the task is
/// aborted at shutdown).
pub(crate) async fn serve(js: Arc<JetStream>, mut sub: InternalSubscription) {
    while let Some(msg) = sub.recv().await {
        let Some(reply) = msg.reply.clone() else {
            continue;
        };
        match handle(&js, &msg, &reply).await {
            Answer::Json((kind, result)) => {
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
                js.shared
                    .publish_internal(&js.account, &reply, None, None, &bytes);
            }
            Answer::Raw(messages) => {
                for (headers, payload) in messages {
                    let headers = (!headers.is_empty()).then_some(&headers[..]);
                    js.shared
                        .publish_internal(&js.account, &reply, None, headers, &payload);
                }
            }
            Answer::NoResponders => {
                js.shared.publish_internal(
                    &js.account,
                    &reply,
                    None,
                    Some(b"NATS/1.0 503\r\n\r\n"),
                    b"",
                );
            }
            Answer::Nothing => {}
        }
    }
}

async fn handle(js: &Arc<JetStream>, msg: &InternalMessage, reply: &Bytes) -> Answer {
    let subject = String::from_utf8_lossy(&msg.subject);
    let Some(rest) = subject.strip_prefix(PREFIX) else {
        return (SYSTEM_RESPONSE, Err(ApiError::bad_request())).into();
    };
    let body = &msg.payload[..];
    let tokens: Vec<&str> = rest.split('.').collect();
    match tokens.as_slice() {
        ["INFO"] => account::info(js).into(),
        ["STREAM", "CREATE", name] => streams::create(js, name, body).await.into(),
        ["STREAM", "UPDATE", name] => streams::update(js, name, body).await.into(),
        ["STREAM", "INFO", name] => streams::info(js, name, body).await.into(),
        ["STREAM", "DELETE", name] => streams::delete(js, name).await.into(),
        ["STREAM", "PURGE", name] => streams::purge(js, name, body).await.into(),
        ["STREAM", "NAMES"] => streams::names(js, body).into(),
        ["STREAM", "LIST"] => streams::list(js, body).await.into(),
        ["STREAM", "MSG", "GET", name] => msg::get(js, name, body).await.into(),
        ["STREAM", "MSG", "DELETE", name] => msg::delete(js, name, body).await.into(),
        ["CONSUMER", "CREATE", stream] => consumers::create(js, stream, CreateForm::Legacy, body)
            .await
            .into(),
        ["CONSUMER", "CREATE", stream, name] => {
            consumers::create(js, stream, CreateForm::Named(name, None), body)
                .await
                .into()
        }
        ["CONSUMER", "CREATE", stream, name, filter @ ..] => {
            let form = CreateForm::Named(name, Some(filter.join(".")));
            consumers::create(js, stream, form, body).await.into()
        }
        ["CONSUMER", "DURABLE", "CREATE", stream, name] => {
            consumers::create(js, stream, CreateForm::Durable(name), body)
                .await
                .into()
        }
        ["CONSUMER", "INFO", stream, name] => consumers::info(js, stream, name).await.into(),
        ["CONSUMER", "DELETE", stream, name] => consumers::delete(js, stream, name).await.into(),
        ["CONSUMER", "NAMES", stream] => consumers::names(js, stream, body).into(),
        ["CONSUMER", "LIST", stream] => consumers::list(js, stream, body).await.into(),
        ["CONSUMER", "PAUSE", stream, name] => {
            consumers::pause(js, stream, name, body).await.into()
        }
        ["CONSUMER", "UNPIN", stream, name] => consumers::unpin(js, stream, name, body).into(),
        ["CONSUMER", "MSG", "NEXT", stream, name] => {
            if consumers::next(js, stream, name, reply.clone(), body) {
                Answer::Nothing
            } else {
                Answer::NoResponders
            }
        }
        ["DIRECT", "GET", stream, rest @ ..] => {
            // nats-server's origin and its direct mirrors share a queue
            // group; here the origin answers while it allows direct gets.
            let origin = js.stream(stream).filter(|s| s.config().allow_direct);
            let Some(s) = origin.or_else(|| js.direct_mirror_of(stream)) else {
                return Answer::NoResponders;
            };
            if rest.is_empty() {
                direct::get(&s, body).await
            } else {
                direct::get_last_for(&s, &rest.join("."), body).await
            }
        }
        _ => (SYSTEM_RESPONSE, Err(ApiError::not_implemented(&subject))).into(),
    }
}

/// Runs every request-body parser of the handlers on `body` and drops the
/// results: the entry point of the `js_api_json` fuzz target in
/// `broker/fuzz` (the request types are private to their handlers, and
/// the handlers need a running JetStream).
#[doc(hidden)]
pub fn parse_request_bodies(body: &[u8]) {
    streams::parse_request_bodies(body);
    consumers::parse_request_bodies(body);
    msg::parse_request_bodies(body);
    direct::parse_request_bodies(body);
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
