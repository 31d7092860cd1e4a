//! `$JS.API.STREAM.CREATE|UPDATE|INFO|DELETE|PURGE|NAMES|LIST`.

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{fields, parse_optional, strict, Reply};
use crate::jetstream::config::StreamConfig;
use crate::jetstream::error::ApiError;
use crate::jetstream::service::JetStream;
use crate::jetstream::store::{PurgeRequest, StoreError};
use crate::jetstream::stream::Stream;
use crate::jetstream::wire::{now_ns, time_string};
use crate::subject::subjects_overlap;

pub(crate) const CREATE: &str = "io.nats.jetstream.api.v1.stream_create_response";
pub(crate) const UPDATE: &str = "io.nats.jetstream.api.v1.stream_update_response";
pub(crate) const INFO: &str = "io.nats.jetstream.api.v1.stream_info_response";
pub(crate) const DELETE: &str = "io.nats.jetstream.api.v1.stream_delete_response";
pub(crate) const PURGE: &str = "io.nats.jetstream.api.v1.stream_purge_response";
pub(crate) const NAMES: &str = "io.nats.jetstream.api.v1.stream_names_response";
pub(crate) const LIST: &str = "io.nats.jetstream.api.v1.stream_list_response";

/// nats-server's page sizes for names and full infos.
const NAMES_LIMIT: usize = 1024;
const LIST_LIMIT: usize = 256;

/// `STREAM.INFO`'s optional request.
#[derive(Default, Deserialize)]
pub(crate) struct InfoRequest {
    #[serde(default, deserialize_with = "crate::jetstream::config::nullable")]
    deleted_details: bool,
    #[serde(default, deserialize_with = "crate::jetstream::config::nullable")]
    subjects_filter: String,
}

/// `STREAM.NAMES`/`STREAM.LIST`'s optional request.
#[derive(Default, Deserialize)]
struct PageRequest {
    #[serde(default, deserialize_with = "crate::jetstream::config::nullable")]
    offset: usize,
    #[serde(default, deserialize_with = "crate::jetstream::config::nullable")]
    subject: String,
}

/// `STREAM.PURGE`'s optional request.
#[derive(Default, Deserialize)]
struct PurgeBody {
    #[serde(default, deserialize_with = "crate::jetstream::config::nullable")]
    filter: String,
    #[serde(default, deserialize_with = "crate::jetstream::config::nullable")]
    seq: u64,
    #[serde(default, deserialize_with = "crate::jetstream::config::nullable")]
    keep: u64,
}

/// This family's request bodies, parsed as its handlers parse them (for
/// [`super::parse_request_bodies`]).
pub(super) fn parse_request_bodies(body: &[u8]) {
    let _ = parse_optional::<InfoRequest>(body);
    let _ = parse_optional::<PageRequest>(body);
    let _ = parse_optional::<PurgeBody>(body);
}

fn store_err(e: StoreError) -> ApiError {
    ApiError::new(500, 10051, e.to_string())
}

/// A stream's info: config, creation time, state.
pub(crate) async fn stream_info(
    stream: &Stream,
    req: &InfoRequest,
) -> Result<Map<String, Value>, ApiError> {
    let mut state = stream.state_json();
    if !req.subjects_filter.is_empty() {
        let filter = Bytes::copy_from_slice(req.subjects_filter.as_bytes());
        let subjects = stream
            .store
            .subjects_state(Some(&filter))
            .await
            .map_err(store_err)?;
        if !subjects.is_empty() {
            let map: Map<String, Value> = subjects
                .into_iter()
                .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v.into()))
                .collect();
            state["subjects"] = Value::Object(map);
        }
    }
    if req.deleted_details {
        let deleted = stream.store.deleted().await.map_err(store_err)?;
        if !deleted.is_empty() {
            state["deleted"] = deleted.into();
        }
    }
    let mut info = json!({
        "config": *stream.config(),
        "created": time_string(stream.created),
        "state": state,
        "ts": time_string(now_ns()),
    });
    if let Some((key, sources)) = stream.sources_json() {
        info[key] = sources;
    }
    Ok(fields(&info))
}

/// Parses a create/update body for stream `name`, defaults and checks it.
fn requested_config(
    js: &JetStream,
    name: &str,
    body: &[u8],
    create: bool,
) -> Result<StreamConfig, ApiError> {
    strict::check(js, body, &strict::STREAM_CONFIG)?;
    let mut config = StreamConfig::parse(body)?;
    if config.name.is_empty() {
        config.name = name.to_string();
    }
    if config.name != name {
        return Err(ApiError::stream_mismatch());
    }
    let pedantic = config.other.get("pedantic") == Some(&Value::Bool(true));
    config.apply_defaults();
    config.check()?;
    if create && config.mirror_direct && config.mirror.is_none() {
        return Err(ApiError::invalid_config(
            "stream has no mirror but does have mirror direct",
        ));
    }
    inherit_mirror_direct(js, &mut config, pedantic)?;
    Ok(config)
}

/// A mirror of a stream of this server answers direct gets for it exactly
/// when its origin allows them, as nats-server decides (a pedantic request
/// that says otherwise is refused).
fn inherit_mirror_direct(
    js: &JetStream,
    config: &mut StreamConfig,
    pedantic: bool,
) -> Result<(), ApiError> {
    let Some(origin) = config
        .mirror
        .as_ref()
        .filter(|m| m.external.is_none())
        .and_then(|m| js.stream(&m.name))
    else {
        return Ok(());
    };
    let allow = origin.config().allow_direct;
    if pedantic && config.mirror_direct != allow {
        return Err(ApiError::new(
            400,
            10157,
            "pedantic mode: origin stream has direct get set, mirror has it disabled",
        ));
    }
    config.mirror_direct = allow;
    Ok(())
}

/// Refuses subjects another stream already has.
fn check_overlap(js: &JetStream, config: &StreamConfig) -> Result<(), ApiError> {
    let streams = js.streams.read();
    if streams
        .values()
        .any(|s| s.name != config.name && s.config().overlaps(config))
    {
        return Err(ApiError::subject_overlap());
    }
    Ok(())
}

pub(crate) async fn create(js: &Arc<JetStream>, name: &str, body: &[u8]) -> Reply {
    (CREATE, create_inner(js, name, body).await)
}

async fn create_inner(
    js: &Arc<JetStream>,
    name: &str,
    body: &[u8],
) -> Result<Map<String, Value>, ApiError> {
    let config = requested_config(js, name, body, true)?;
    let _admin = js.admin.lock().await;
    if let Some(existing) = js.stream(name) {
        if *existing.config() != config {
            return Err(ApiError::stream_name_exists());
        }
        return stream_info(&existing, &InfoRequest::default()).await;
    }
    check_overlap(js, &config)?;
    let stream = Stream::open(js, js.stream_dir(name), config, now_ns(), true)
        .await
        .map_err(|e| ApiError::stream_create(e.to_string()))?;
    js.streams
        .write()
        .insert(stream.name.clone(), stream.clone());
    let mut info = stream_info(&stream, &InfoRequest::default()).await?;
    info.insert("did_create".into(), true.into());
    Ok(info)
}

pub(crate) async fn update(js: &Arc<JetStream>, name: &str, body: &[u8]) -> Reply {
    (UPDATE, update_inner(js, name, body).await)
}

async fn update_inner(
    js: &Arc<JetStream>,
    name: &str,
    body: &[u8],
) -> Result<Map<String, Value>, ApiError> {
    let mut config = requested_config(js, name, body, false)?;
    let _admin = js.admin.lock().await;
    let stream = js.stream(name).ok_or_else(ApiError::stream_not_found)?;
    let old = stream.config();
    let refuse = |what: &str| {
        Err(ApiError::invalid_config(format!(
            "stream configuration update can not {what}"
        )))
    };
    if old.storage != config.storage {
        return refuse("change storage type");
    }
    if old.retention != config.retention {
        return refuse("change retention policy");
    }
    if old.sealed && !config.sealed {
        return refuse("unseal a sealed stream");
    }
    if old.deny_delete && !config.deny_delete {
        return refuse("cancel deny message deletes");
    }
    if old.deny_purge && !config.deny_purge {
        return refuse("cancel deny purge");
    }
    if old.mirror != config.mirror {
        return Err(ApiError::new(
            400,
            10055,
            "stream mirror configuration can not be updated",
        ));
    }
    config.first_seq = old.first_seq;
    check_overlap(js, &config)?;
    stream
        .update(js, config)
        .await
        .map_err(|e| ApiError::stream_update(e.to_string()))?;
    stream_info(&stream, &InfoRequest::default()).await
}

pub(crate) async fn info(js: &Arc<JetStream>, name: &str, body: &[u8]) -> Reply {
    let result = async {
        strict::check(js, body, &strict::STREAM_INFO)?;
        let req: InfoRequest = parse_optional(body)?;
        let stream = js.stream(name).ok_or_else(ApiError::stream_not_found)?;
        stream_info(&stream, &req).await
    }
    .await;
    (INFO, result)
}

pub(crate) async fn delete(js: &Arc<JetStream>, name: &str) -> Reply {
    let result = async {
        let _admin = js.admin.lock().await;
        let stream = js
            .streams
            .write()
            .remove(name)
            .ok_or_else(ApiError::stream_not_found)?;
        stream
            .delete()
            .await
            .map_err(|e| ApiError::new(500, 10050, e.to_string()))?;
        Ok(fields(&json!({ "success": true })))
    }
    .await;
    (DELETE, result)
}

pub(crate) async fn purge(js: &Arc<JetStream>, name: &str, body: &[u8]) -> Reply {
    let result = async {
        let stream = js.stream(name).ok_or_else(ApiError::stream_not_found)?;
        let config = stream.config();
        if config.sealed {
            return Err(ApiError::sealed());
        }
        if config.deny_purge {
            return Err(ApiError::purge_failed("stream purge not permitted"));
        }
        strict::check(js, body, &strict::STREAM_PURGE)?;
        let req: PurgeBody = parse_optional(body)?;
        if req.seq > 0 && req.keep > 0 {
            return Err(ApiError::bad_request());
        }
        let purge = PurgeRequest {
            filter: (!req.filter.is_empty()).then(|| Bytes::from(req.filter.into_bytes())),
            up_to_seq: (req.seq > 0).then_some(req.seq),
            keep: (req.keep > 0).then_some(req.keep),
        };
        let purged = stream.store.purge(purge).await.map_err(|e| match e {
            StoreError::InvalidPurge(_) => ApiError::bad_request(),
            other => ApiError::purge_failed(other.to_string()),
        })?;
        stream.notify_removed();
        Ok(fields(&json!({ "success": true, "purged": purged })))
    }
    .await;
    (PURGE, result)
}

/// The streams whose subjects overlap `filter` (all without one), by name.
fn matching(js: &JetStream, filter: &str) -> Vec<Arc<Stream>> {
    js.streams
        .read()
        .values()
        .filter(|s| {
            filter.is_empty()
                || s.config()
                    .subjects
                    .iter()
                    .any(|subj| subjects_overlap(subj.as_bytes(), filter.as_bytes()))
        })
        .cloned()
        .collect()
}

pub(crate) fn names(js: &Arc<JetStream>, body: &[u8]) -> Reply {
    let result = strict::check(js, body, &strict::STREAM_LIST);
    let result = result
        .and_then(|()| parse_optional::<PageRequest>(body))
        .map(|req| {
            let all = matching(js, &req.subject);
            let page: Vec<&str> = all
                .iter()
                .skip(req.offset)
                .take(NAMES_LIMIT)
                .map(|s| s.name.as_str())
                .collect();
            fields(&json!({
                "total": all.len(),
                "offset": req.offset,
                "limit": NAMES_LIMIT,
                "streams": page,
            }))
        });
    (NAMES, result)
}

pub(crate) async fn list(js: &Arc<JetStream>, body: &[u8]) -> Reply {
    let result = async {
        strict::check(js, body, &strict::STREAM_LIST)?;
        let req: PageRequest = parse_optional(body)?;
        let all = matching(js, &req.subject);
        let mut infos = Vec::new();
        for stream in all.iter().skip(req.offset).take(LIST_LIMIT) {
            infos.push(Value::Object(
                stream_info(stream, &InfoRequest::default()).await?,
            ));
        }
        Ok(fields(&json!({
            "total": all.len(),
            "offset": req.offset,
            "limit": LIST_LIMIT,
            "streams": infos,
        })))
    }
    .await;
    (LIST, result)
}
