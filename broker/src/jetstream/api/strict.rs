//! Strict mode (`jetstream { strict: true }`, nats-server's default since
//! 2.11): an API request carrying a field the API does not know is refused
//! with `invalid JSON: json: unknown field "…"` instead of being read with
//! the field ignored, so a typo in a config is an error, not a silent
//! default. The shapes below list, per request, the fields nats-server's
//! request types have (whether or not Tern acts on them: a field Tern lacks
//! is refused by its handler with its own error). `strict: false` reads
//! requests as they come.
//!
//! Pull requests (`CONSUMER.MSG.NEXT`) and direct gets are never strict,
//! as in nats-server.

use serde_json::Value;

use crate::jetstream::error::ApiError;
use crate::jetstream::service::JetStream;

/// What a request (or a part of it) may contain.
pub(crate) enum Shape {
    /// Anything: a scalar, or a free-form map such as `metadata`.
    Any,
    /// An object with these fields, each of that shape.
    Fields(&'static [(&'static str, &'static Shape)]),
    /// A list whose items have that shape.
    List(&'static Shape),
}

use Shape::{Any, Fields, List};

const TRANSFORM: Shape = Fields(&[("src", &Any), ("dest", &Any)]);

const SOURCE: Shape = Fields(&[
    ("name", &Any),
    ("opt_start_seq", &Any),
    ("opt_start_time", &Any),
    ("filter_subject", &Any),
    ("subject_transforms", &List(&TRANSFORM)),
    ("external", &Fields(&[("api", &Any), ("deliver", &Any)])),
    (
        "consumer",
        &Fields(&[("name", &Any), ("deliver_subject", &Any)]),
    ),
]);

/// `STREAM.CREATE` and `STREAM.UPDATE`: a stream config and `pedantic`.
pub(crate) const STREAM_CONFIG: Shape = Fields(&[
    ("pedantic", &Any),
    ("name", &Any),
    ("description", &Any),
    ("subjects", &Any),
    ("retention", &Any),
    ("max_consumers", &Any),
    ("max_msgs", &Any),
    ("max_bytes", &Any),
    ("max_age", &Any),
    ("max_msgs_per_subject", &Any),
    ("max_msg_size", &Any),
    ("discard", &Any),
    ("storage", &Any),
    ("num_replicas", &Any),
    ("no_ack", &Any),
    ("duplicate_window", &Any),
    (
        "placement",
        &Fields(&[("cluster", &Any), ("tags", &Any), ("preferred", &Any)]),
    ),
    ("mirror", &SOURCE),
    ("sources", &List(&SOURCE)),
    ("compression", &Any),
    ("first_seq", &Any),
    ("subject_transform", &TRANSFORM),
    (
        "republish",
        &Fields(&[("src", &Any), ("dest", &Any), ("headers_only", &Any)]),
    ),
    ("allow_direct", &Any),
    ("mirror_direct", &Any),
    ("discard_new_per_subject", &Any),
    ("sealed", &Any),
    ("deny_delete", &Any),
    ("deny_purge", &Any),
    ("allow_rollup_hdrs", &Any),
    (
        "consumer_limits",
        &Fields(&[("inactive_threshold", &Any), ("max_ack_pending", &Any)]),
    ),
    ("allow_msg_ttl", &Any),
    ("subject_delete_marker_ttl", &Any),
    ("allow_msg_counter", &Any),
    ("allow_atomic", &Any),
    ("allow_msg_schedules", &Any),
    ("persist_mode", &Any),
    ("allow_batched", &Any),
    ("metadata", &Any),
]);

/// `STREAM.INFO`.
pub(crate) const STREAM_INFO: Shape = Fields(&[
    ("offset", &Any),
    ("deleted_details", &Any),
    ("subjects_filter", &Any),
]);

/// `STREAM.NAMES` and `STREAM.LIST`.
pub(crate) const STREAM_LIST: Shape = Fields(&[("offset", &Any), ("subject", &Any)]);

/// `STREAM.PURGE`.
pub(crate) const STREAM_PURGE: Shape = Fields(&[("seq", &Any), ("filter", &Any), ("keep", &Any)]);

/// `STREAM.MSG.GET`.
pub(crate) const MSG_GET: Shape = Fields(&[
    ("seq", &Any),
    ("last_by_subj", &Any),
    ("next_by_subj", &Any),
    ("batch", &Any),
    ("max_bytes", &Any),
    ("start_time", &Any),
    ("multi_last", &Any),
    ("up_to_seq", &Any),
    ("up_to_time", &Any),
    ("no_hdr", &Any),
]);

/// `STREAM.MSG.DELETE`.
pub(crate) const MSG_DELETE: Shape = Fields(&[("seq", &Any), ("no_erase", &Any)]);

/// `CONSUMER.NAMES` and `CONSUMER.LIST`.
pub(crate) const CONSUMER_LIST: Shape = Fields(&[("offset", &Any)]);

/// A consumer config.
const CONSUMER: Shape = Fields(&[
    ("durable_name", &Any),
    ("name", &Any),
    ("description", &Any),
    ("deliver_policy", &Any),
    ("opt_start_seq", &Any),
    ("opt_start_time", &Any),
    ("ack_policy", &Any),
    ("ack_wait", &Any),
    ("max_deliver", &Any),
    ("backoff", &Any),
    ("filter_subject", &Any),
    ("filter_subjects", &Any),
    ("replay_policy", &Any),
    ("rate_limit_bps", &Any),
    ("sample_freq", &Any),
    ("max_waiting", &Any),
    ("max_ack_pending", &Any),
    ("flow_control", &Any),
    ("headers_only", &Any),
    ("max_batch", &Any),
    ("max_expires", &Any),
    ("max_bytes", &Any),
    ("deliver_subject", &Any),
    ("deliver_group", &Any),
    ("idle_heartbeat", &Any),
    ("inactive_threshold", &Any),
    ("num_replicas", &Any),
    ("mem_storage", &Any),
    ("direct", &Any),
    ("sourcing", &Any),
    ("metadata", &Any),
    ("pause_until", &Any),
    ("priority_groups", &Any),
    ("priority_policy", &Any),
    ("priority_timeout", &Any),
]);

/// `CONSUMER.CREATE` and `CONSUMER.DURABLE.CREATE`.
pub(crate) const CONSUMER_CREATE: Shape = Fields(&[
    ("stream_name", &Any),
    ("config", &CONSUMER),
    ("action", &Any),
    ("pedantic", &Any),
]);

/// `CONSUMER.PAUSE`.
pub(crate) const CONSUMER_PAUSE: Shape = Fields(&[("pause_until", &Any)]);

/// `CONSUMER.UNPIN`.
pub(crate) const CONSUMER_UNPIN: Shape = Fields(&[("group", &Any)]);

/// Refuses `body` when strict mode is on and it has a field `shape` lacks.
/// A body that is not a JSON object is left to the handler's own parser.
pub(crate) fn check(js: &JetStream, body: &[u8], shape: &Shape) -> Result<(), ApiError> {
    if js.config.lenient || !body.trim_ascii().starts_with(b"{") {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Ok(());
    };
    match unknown_field(&value, shape) {
        None => Ok(()),
        Some(field) => {
            tracing::warn!("Invalid JetStream request: json: unknown field {field:?}");
            Err(ApiError::invalid_json(format!(
                "json: unknown field {field:?}"
            )))
        }
    }
}

/// The first field of `value` that `shape` does not have, at any depth.
fn unknown_field<'v>(value: &'v Value, shape: &Shape) -> Option<&'v str> {
    match (shape, value) {
        (Fields(fields), Value::Object(map)) => {
            map.iter().find_map(
                |(key, v)| match fields.iter().find(|(name, _)| name == key) {
                    None => Some(key.as_str()),
                    Some((_, inner)) => unknown_field(v, inner),
                },
            )
        }
        (List(item), Value::Array(items)) => items.iter().find_map(|v| unknown_field(v, item)),
        // Scalars, nulls and free-form values; a wrong type is the
        // handler's error to report.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown(json: &str, shape: &Shape) -> Option<String> {
        let v: Value = serde_json::from_str(json).expect("json");
        unknown_field(&v, shape).map(str::to_string)
    }

    #[test]
    fn finds_unknown_fields_at_any_depth() {
        let ok = r#"{"name":"S","subjects":["a"],"metadata":{"any":"thing"},
            "sources":[{"name":"O","subject_transforms":[{"src":"a","dest":"b"}]}],
            "mirror":null,"placement":{"tags":["x"]}}"#;
        assert_eq!(unknown(ok, &STREAM_CONFIG), None);
        assert_eq!(
            unknown(r#"{"name":"S","max_msg":5}"#, &STREAM_CONFIG).as_deref(),
            Some("max_msg")
        );
        let deep = r#"{"name":"S","sources":[{"name":"O"},{"name":"P","filter":"x"}]}"#;
        assert_eq!(unknown(deep, &STREAM_CONFIG).as_deref(), Some("filter"));
        let transform = r#"{"sources":[{"subject_transforms":[{"source":"a"}]}]}"#;
        assert_eq!(
            unknown(transform, &STREAM_CONFIG).as_deref(),
            Some("source")
        );
        let consumer = r#"{"stream_name":"S","config":{"durable_name":"d","ack_wiat":1}}"#;
        assert_eq!(
            unknown(consumer, &CONSUMER_CREATE).as_deref(),
            Some("ack_wiat")
        );
        assert_eq!(unknown(r#"{"config":5}"#, &CONSUMER_CREATE), None);
    }
}
