//! `$JS.API.CONSUMER.CREATE|DURABLE.CREATE|INFO|DELETE|NAMES|LIST|PAUSE|
//! UNPIN` and `CONSUMER.MSG.NEXT` (handed to the consumer's task).

use std::sync::Arc;

use bytes::Bytes;
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{fields, parse_optional, strict, Reply};
use crate::jetstream::config::Retention;
use crate::jetstream::consumer::config::{valid_name, AckPolicy, DeliverPolicy};
use crate::jetstream::consumer::info::consumer_info;
use crate::jetstream::consumer::pause::{pause_state, PauseUntil};
use crate::jetstream::consumer::priority::{check_unpin_group, unknown_group};
use crate::jetstream::consumer::pull::PullRequest;
use crate::jetstream::consumer::{Command, Consumer, ConsumerConfig};
use crate::jetstream::error::ApiError;
use crate::jetstream::service::JetStream;
use crate::jetstream::stream::Stream;
use crate::jetstream::wire::now_ns;

pub(crate) const CREATE: &str = "io.nats.jetstream.api.v1.consumer_create_response";
pub(crate) const INFO: &str = "io.nats.jetstream.api.v1.consumer_info_response";
pub(crate) const DELETE: &str = "io.nats.jetstream.api.v1.consumer_delete_response";
pub(crate) const NAMES: &str = "io.nats.jetstream.api.v1.consumer_names_response";
pub(crate) const LIST: &str = "io.nats.jetstream.api.v1.consumer_list_response";
pub(crate) const PAUSE: &str = "io.nats.jetstream.api.v1.consumer_pause_response";
pub(crate) const UNPIN: &str = "io.nats.jetstream.api.v1.consumer_unpin_response";

/// nats-server's page sizes for names and full infos.
const NAMES_LIMIT: usize = 1024;
const LIST_LIMIT: usize = 256;

/// How a create request named its consumer (nats-server's request kinds).
pub(crate) enum CreateForm<'a> {
    /// `CONSUMER.CREATE.<stream>`: ephemeral, or named in the config.
    Legacy,
    /// `CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    Durable(&'a str),
    /// `CONSUMER.CREATE.<stream>.<name>[.<filter>]`.
    Named(&'a str, Option<String>),
}

#[derive(Deserialize)]
struct CreateRequest {
    #[serde(default, rename = "stream_name")]
    stream: String,
    #[serde(default)]
    config: Option<ConsumerConfig>,
    #[serde(default)]
    action: String,
}

/// `CONSUMER.PAUSE`: no time (or Go's zero time) resumes.
#[derive(Default, Deserialize)]
struct PauseRequest {
    #[serde(default)]
    pause_until: Option<PauseUntil>,
}

#[derive(Default, Deserialize)]
struct UnpinRequest {
    #[serde(default, deserialize_with = "crate::jetstream::config::nullable")]
    group: String,
}

#[derive(Default, Deserialize)]
struct PageRequest {
    #[serde(default, deserialize_with = "crate::jetstream::config::nullable")]
    offset: usize,
}

/// This family's request bodies, parsed as its handlers parse them (for
/// [`super::parse_request_bodies`]).
pub(super) fn parse_request_bodies(body: &[u8]) {
    let _ = serde_json::from_slice::<CreateRequest>(body);
    let _ = parse_optional::<PageRequest>(body);
    let _ = PullRequest::parse(body);
    let _ = pause_request(body);
    let _ = unpin_request(body);
}

fn not_found() -> ApiError {
    ApiError::new(404, 10014, "consumer not found")
}

fn stream(js: &JetStream, name: &str) -> Result<Arc<Stream>, ApiError> {
    js.stream(name).ok_or_else(ApiError::stream_not_found)
}

/// The info of a running consumer.
pub(crate) async fn info_of(c: &Consumer) -> Result<Map<String, Value>, ApiError> {
    let progress = c.progress().await.ok_or_else(not_found)?;
    Ok(consumer_info(c, &progress))
}

pub(crate) async fn create(
    js: &Arc<JetStream>,
    stream_name: &str,
    form: CreateForm<'_>,
    body: &[u8],
) -> Reply {
    (CREATE, create_inner(js, stream_name, form, body).await)
}

async fn create_inner(
    js: &Arc<JetStream>,
    stream_name: &str,
    form: CreateForm<'_>,
    body: &[u8],
) -> Result<Map<String, Value>, ApiError> {
    strict::check(js, body, &strict::CONSUMER_CREATE)?;
    let req: CreateRequest = serde_json::from_slice(body).map_err(ApiError::invalid_json)?;
    if req.stream != stream_name {
        return Err(ApiError::stream_mismatch());
    }
    let mut config = req
        .config
        .ok_or_else(|| ApiError::new(400, 10078, "consumer config required"))?;
    let name = match &form {
        CreateForm::Legacy => config.name.clone(),
        CreateForm::Durable(n) | CreateForm::Named(n, _) => n.to_string(),
    };
    if name.contains(['\\', '/']) {
        return Err(ApiError::new(
            400,
            10127,
            "Consumer name can not contain path separators",
        ));
    }
    match &form {
        CreateForm::Durable(n) => {
            if config.durable.is_empty() {
                return Err(ApiError::new(
                    400,
                    10018,
                    "consumer expected to be durable but a durable name was not set",
                ));
            }
            if config.durable != *n {
                return Err(ApiError::new(
                    400,
                    10017,
                    "consumer name in subject does not match durable name in request",
                ));
            }
            config.name = n.to_string();
        }
        CreateForm::Named(n, filter) => {
            if !config.durable.is_empty() && config.durable != *n {
                return Err(ApiError::new(
                    400,
                    10017,
                    "consumer name in subject does not match durable name in request",
                ));
            }
            config.name = n.to_string();
            if let Some(f) = filter {
                if !config.filter_subjects.is_empty() {
                    return Err(ApiError::new(
                        400,
                        10137,
                        "consumer with multiple subject filters cannot use subject based API",
                    ));
                }
                if config.filter_subject != *f {
                    return Err(ApiError::new(
                        400,
                        10131,
                        "Consumer create request did not match filtered subject from create subject",
                    ));
                }
            }
        }
        CreateForm::Legacy => {
            if !config.durable.is_empty() {
                return Err(ApiError::new(
                    400,
                    10020,
                    "consumer expected to be ephemeral but a durable name was set in request",
                ));
            }
        }
    }
    if config.replicas > 1 {
        return Err(ApiError::replicas_not_supported());
    }
    let stream = stream(js, stream_name)?;
    let stream_config = stream.config();
    let named = if !config.durable.is_empty() {
        config.durable.clone()
    } else {
        config.name.clone()
    };
    config.apply_defaults(!config.is_durable());
    config.check(&stream_config)?;
    let _admin = js.admin.lock().await;
    if !named.is_empty() {
        if let Some(existing) = stream.consumer(&named) {
            let old = existing.config();
            // As on nats-server, only `CONSUMER.PAUSE` changes the pause of
            // an existing consumer.
            config.pause_until = old.pause_until.clone();
            if req.action == "create" && *old != config {
                return Err(ApiError::new(400, 10148, "consumer already exists"));
            }
            if *old != config {
                old.check_update(&config)?;
                // nats-server stores the kept pause time in UTC on update.
                config.pause_until = config.pause_until.as_ref().map(PauseUntil::utc);
                stream.update_consumer(&existing, config).await?;
            }
            return info_of(&existing).await;
        }
    }
    if req.action == "update" {
        return Err(ApiError::new(400, 10149, "consumer does not exist"));
    }
    if stream_config.retention == Retention::WorkQueue {
        check_work_queue(&stream, &config)?;
    }
    let max = stream_config.max_consumers;
    if max > 0 && stream.consumer_count() as i64 >= max {
        return Err(ApiError::new(400, 10026, "maximum consumers limit reached"));
    }
    let name = if named.is_empty() {
        ephemeral_name()
    } else {
        named
    };
    if !valid_name(&name) {
        return Err(ApiError::invalid_config(
            "consumer name can not contain '.', '*', '>', '\\\\', '/'",
        ));
    }
    let consumer = stream.add_consumer(js, name, config, now_ns()).await?;
    info_of(&consumer).await
}

/// A work queue hands each message to one consumer: nats-server's rules.
fn check_work_queue(stream: &Stream, config: &ConsumerConfig) -> Result<(), ApiError> {
    if config.ack_policy != AckPolicy::Explicit {
        return Err(ApiError::new(
            400,
            10098,
            "workqueue stream requires explicit ack",
        ));
    }
    if config.deliver_policy != DeliverPolicy::All {
        return Err(ApiError::new(
            400,
            10101,
            "consumer must be deliver all on workqueue stream",
        ));
    }
    let others: Vec<Vec<String>> = stream
        .consumers
        .read()
        .values()
        .map(|c| c.config().filters())
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    let mine = config.filters();
    if mine.is_empty() {
        return Err(ApiError::new(
            400,
            10099,
            "multiple non-filtered consumers not allowed on workqueue stream",
        ));
    }
    let overlap = others.iter().any(|theirs| {
        theirs.is_empty()
            || theirs.iter().any(|t| {
                mine.iter()
                    .any(|m| crate::subject::subjects_overlap(m.as_bytes(), t.as_bytes()))
            })
    });
    if overlap {
        return Err(ApiError::new(
            400,
            10100,
            "filtered consumer not unique on workqueue stream",
        ));
    }
    Ok(())
}

/// nats-server's ephemeral names: 8 random letters and digits.
fn ephemeral_name() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..8)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

pub(crate) async fn info(js: &Arc<JetStream>, stream_name: &str, name: &str) -> Reply {
    let result = async {
        let s = stream(js, stream_name)?;
        let c = s.consumer(name).ok_or_else(not_found)?;
        info_of(&c).await
    }
    .await;
    (INFO, result)
}

pub(crate) async fn delete(js: &Arc<JetStream>, stream_name: &str, name: &str) -> Reply {
    let result = async {
        let s = stream(js, stream_name)?;
        let _admin = js.admin.lock().await;
        if !s.delete_consumer(name).await {
            return Err(not_found());
        }
        Ok(fields(&json!({ "success": true })))
    }
    .await;
    (DELETE, result)
}

pub(crate) fn names(js: &Arc<JetStream>, stream_name: &str, body: &[u8]) -> Reply {
    let result = (|| {
        strict::check(js, body, &strict::CONSUMER_LIST)?;
        let req: PageRequest = parse_optional(body)?;
        let s = stream(js, stream_name)?;
        let all: Vec<String> = s.consumers.read().keys().cloned().collect();
        let page: Vec<&String> = all.iter().skip(req.offset).take(NAMES_LIMIT).collect();
        Ok(fields(&json!({
            "total": all.len(),
            "offset": req.offset,
            "limit": NAMES_LIMIT,
            "consumers": page,
        })))
    })();
    (NAMES, result)
}

pub(crate) async fn list(js: &Arc<JetStream>, stream_name: &str, body: &[u8]) -> Reply {
    let result = async {
        strict::check(js, body, &strict::CONSUMER_LIST)?;
        let req: PageRequest = parse_optional(body)?;
        let s = stream(js, stream_name)?;
        let all: Vec<Arc<Consumer>> = s.consumers.read().values().cloned().collect();
        let mut infos = Vec::new();
        for c in all.iter().skip(req.offset).take(LIST_LIMIT) {
            if let Ok(info) = info_of(c).await {
                infos.push(Value::Object(info));
            }
        }
        Ok(fields(&json!({
            "total": all.len(),
            "offset": req.offset,
            "limit": LIST_LIMIT,
            "consumers": infos,
        })))
    }
    .await;
    (LIST, result)
}

/// `CONSUMER.MSG.NEXT`: true if a consumer took the request. Without one,
/// nats-server has no subscriber there and the requester gets "no
/// responders"; the caller answers the same way.
pub(crate) fn next(
    js: &JetStream,
    stream_name: &str,
    name: &str,
    reply: Bytes,
    body: &[u8],
) -> bool {
    let Some(c) = js.stream(stream_name).and_then(|s| s.consumer(name)) else {
        return false;
    };
    c.send(Command::Next {
        reply,
        request: PullRequest::parse(body),
    })
}

/// A pause request body: JSON only when it looks like JSON, as on
/// nats-server (anything else is an empty request, which resumes).
fn pause_request(body: &[u8]) -> Result<PauseRequest, ApiError> {
    match body.trim_ascii_start().first() {
        Some(b'{' | b'[') => serde_json::from_slice(body).map_err(ApiError::invalid_json),
        _ => Ok(PauseRequest::default()),
    }
}

fn unpin_request(body: &[u8]) -> Result<UnpinRequest, ApiError> {
    if body.trim_ascii() == b"null" {
        return Ok(UnpinRequest::default());
    }
    serde_json::from_slice(body).map_err(ApiError::invalid_json)
}

/// `CONSUMER.PAUSE.<stream>.<consumer>`: sets (or clears) `pause_until`
/// and answers with the pause state it leaves.
pub(crate) async fn pause(
    js: &Arc<JetStream>,
    stream_name: &str,
    name: &str,
    body: &[u8],
) -> Reply {
    let result = async {
        strict::check(js, body, &strict::CONSUMER_PAUSE)?;
        let req = pause_request(body)?;
        let s = stream(js, stream_name)?;
        let c = s.consumer(name).ok_or_else(not_found)?;
        let _admin = js.admin.lock().await;
        let until = req.pause_until.filter(|p| !p.is_zero()).map(|p| p.utc());
        let mut config = (*c.config()).clone();
        config.pause_until = until.clone();
        s.update_consumer(&c, config).await?;
        let (paused, left) = pause_state(until.as_ref());
        let mut out = Map::new();
        out.insert("paused".into(), paused.into());
        let text = until
            .as_ref()
            .map_or(crate::jetstream::wire::ZERO_TIME, |p| p.as_str());
        out.insert("pause_until".into(), text.into());
        if let Some(left) = left {
            out.insert("pause_remaining".into(), left.into());
        }
        Ok(out)
    }
    .await;
    (PAUSE, result)
}

/// `CONSUMER.UNPIN.<stream>.<consumer>`: the pinned client of a priority
/// group loses its pin; the next request gets a new one.
pub(crate) fn unpin(js: &Arc<JetStream>, stream_name: &str, name: &str, body: &[u8]) -> Reply {
    let result = (|| {
        strict::check(js, body, &strict::CONSUMER_UNPIN)?;
        let req = unpin_request(body)?;
        check_unpin_group(&req.group)?;
        let s = stream(js, stream_name)?;
        let c = s.consumer(name).ok_or_else(not_found)?;
        if !c.config().priority_groups.contains(&req.group) {
            return Err(unknown_group());
        }
        // The task takes commands in order: a pull request sent after this
        // answer is seen after the unpin.
        if !c.send(Command::Unpin) {
            return Err(not_found());
        }
        Ok(Map::new())
    })();
    (UNPIN, result)
}
