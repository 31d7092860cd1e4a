//! A consumer's configuration as `$JS.API.CONSUMER.CREATE` carries it, with
//! nats-server's JSON field names (durations in nanoseconds), its defaults
//! and its checks, in the order nats-server applies them so that a bad
//! request gets the same error code. Features Tern's consumers do not have
//! yet are refused with an error naming them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::jetstream::config::{is_false, is_zero, is_zero_u64, nullable, Retention, StreamConfig};
use crate::jetstream::error::ApiError;
use crate::jetstream::wire::parse_time;
use crate::subject;

use super::pause::PauseUntil;
use super::priority::{self, PriorityPolicy, DEFAULT_PINNED_TTL_NS};

/// nats-server's `JsAckWaitDefault`: 30 s.
pub const DEFAULT_ACK_WAIT_NS: i64 = 30_000_000_000;
/// nats-server's `JsDefaultMaxAckPending`.
pub const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
/// nats-server's `JSWaitQueueDefaultMax`: pull requests a consumer holds.
pub const DEFAULT_MAX_WAITING: i64 = 512;
/// nats-server's `JsDeleteWaitTimeDefault`: an ephemeral consumer with
/// nobody using it goes after 5 s.
pub const DEFAULT_INACTIVE_THRESHOLD_NS: i64 = 5_000_000_000;
/// nats-server's `JSMaxDescriptionLen`.
const MAX_DESCRIPTION_LEN: usize = 4096;
/// nats-server's `JSMaxNameLen`.
const MAX_NAME_LEN: usize = 255;
/// nats-server's `JSMaxMetadataLen`.
const MAX_METADATA_LEN: usize = 128 * 1024;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliverPolicy {
    #[default]
    #[serde(rename = "all")]
    All,
    #[serde(rename = "last")]
    Last,
    #[serde(rename = "new")]
    New,
    #[serde(rename = "by_start_sequence")]
    ByStartSequence,
    #[serde(rename = "by_start_time")]
    ByStartTime,
    #[serde(rename = "last_per_subject")]
    LastPerSubject,
}

/// Go's zero value is `none`: a request without `ack_policy` gets no acks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AckPolicy {
    #[default]
    None,
    All,
    Explicit,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplayPolicy {
    #[default]
    Instant,
    Original,
}

/// `ConsumerConfig`, field for field as nats-server names them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsumerConfig {
    #[serde(
        default,
        rename = "durable_name",
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub durable: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    #[serde(default, deserialize_with = "nullable")]
    pub deliver_policy: DeliverPolicy,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_u64"
    )]
    pub opt_start_seq: u64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub opt_start_time: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub ack_policy: AckPolicy,
    /// Nanoseconds.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub ack_wait: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub max_deliver: i64,
    /// Nanoseconds per delivery attempt.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub backoff: Vec<i64>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub filter_subject: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub filter_subjects: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub replay_policy: ReplayPolicy,
    #[serde(
        default,
        rename = "rate_limit_bps",
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_u64"
    )]
    pub rate_limit: u64,
    #[serde(
        default,
        rename = "sample_freq",
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub sample_frequency: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub max_waiting: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub max_ack_pending: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub flow_control: bool,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub headers_only: bool,
    #[serde(
        default,
        rename = "max_batch",
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub max_request_batch: i64,
    /// Nanoseconds.
    #[serde(
        default,
        rename = "max_expires",
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub max_request_expires: i64,
    #[serde(
        default,
        rename = "max_bytes",
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub max_request_max_bytes: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub deliver_subject: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub deliver_group: String,
    /// Nanoseconds.
    #[serde(
        default,
        rename = "idle_heartbeat",
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub heartbeat: i64,
    /// Nanoseconds.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub inactive_threshold: i64,
    #[serde(default, rename = "num_replicas", deserialize_with = "nullable")]
    pub replicas: i64,
    #[serde(
        default,
        rename = "mem_storage",
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub memory_storage: bool,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub direct: bool,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<BTreeMap<String, String>>,
    /// No deliveries before this time ([`super::pause`]).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub pause_until: Option<PauseUntil>,
    /// Pull request groups ([`super::priority`]).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub priority_groups: Vec<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "PriorityPolicy::is_none"
    )]
    pub priority_policy: PriorityPolicy,
    /// Nanoseconds without a request before a pinned client loses its pin.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub priority_timeout: i64,
    /// Everything else the request carried, echoed back unchanged.
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

fn invalid_policy(msg: String) -> ApiError {
    ApiError::new(400, 10094, msg)
}

/// nats-server's asset name rule (streams and consumers alike).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['.', '*', '>', '\\', '/', ' ', '\t', '\r', '\n'])
}

impl ConsumerConfig {
    /// A push consumer delivers to `deliver_subject`; a pull one waits for
    /// `MSG.NEXT` requests.
    pub fn is_push(&self) -> bool {
        !self.deliver_subject.is_empty()
    }

    /// Durable consumers have a durable name; the rest are ephemeral.
    pub fn is_durable(&self) -> bool {
        !self.durable.is_empty()
    }

    /// The filters, single or many (empty = the whole stream).
    pub fn filters(&self) -> Vec<String> {
        if !self.filter_subject.is_empty() {
            vec![self.filter_subject.clone()]
        } else {
            self.filter_subjects.clone()
        }
    }

    /// `opt_start_time` in nanoseconds since the epoch.
    pub fn start_time_ns(&self) -> Option<i64> {
        self.opt_start_time.as_deref().and_then(parse_time)
    }

    /// The ack wait for delivery number `delivery` (1-based): the backoff
    /// entry for it (the last one past the end), else `ack_wait`.
    pub fn ack_wait_for(&self, delivery: u64) -> i64 {
        if self.backoff.is_empty() {
            return self.ack_wait;
        }
        let i = usize::try_from(delivery.saturating_sub(1)).unwrap_or(usize::MAX);
        self.backoff[i.min(self.backoff.len() - 1)]
    }

    /// nats-server's `setConsumerConfigDefaults` (non-pedantic).
    pub fn apply_defaults(&mut self, ephemeral: bool) {
        if self.max_deliver == 0 || self.max_deliver < -1 {
            self.max_deliver = -1;
        }
        self.max_waiting = self.max_waiting.max(0);
        if self.max_ack_pending < -1 {
            self.max_ack_pending = -1;
        }
        self.max_request_batch = self.max_request_batch.max(0);
        self.max_request_expires = self.max_request_expires.max(0);
        self.max_request_max_bytes = self.max_request_max_bytes.max(0);
        self.heartbeat = self.heartbeat.max(0);
        self.inactive_threshold = self.inactive_threshold.max(0);
        self.priority_timeout = self.priority_timeout.max(0);
        if !self.is_push() && self.max_waiting == 0 {
            self.max_waiting = DEFAULT_MAX_WAITING;
        }
        if self.ack_wait == 0 && self.ack_policy != AckPolicy::None {
            self.ack_wait = DEFAULT_ACK_WAIT_NS;
        }
        if let Some(first) = self.backoff.first() {
            self.ack_wait = *first;
        }
        if self.max_ack_pending == 0 && self.ack_policy != AckPolicy::None {
            self.max_ack_pending = DEFAULT_MAX_ACK_PENDING;
        }
        if ephemeral && self.inactive_threshold == 0 {
            self.inactive_threshold = DEFAULT_INACTIVE_THRESHOLD_NS;
        }
        if self.priority_policy == PriorityPolicy::PinnedClient && self.priority_timeout == 0 {
            self.priority_timeout = DEFAULT_PINNED_TTL_NS;
        }
    }

    /// nats-server's `checkConsumerCfg`, in its order.
    pub fn check(&self, stream: &StreamConfig) -> Result<(), ApiError> {
        let name_rule = "can not contain '.', '*', '>', '\\\\', '/'";
        if !self.name.is_empty() && !valid_name(&self.name) {
            return Err(ApiError::invalid_config(format!(
                "consumer name {name_rule}"
            )));
        }
        if !self.durable.is_empty() && !valid_name(&self.durable) {
            return Err(ApiError::invalid_config(format!(
                "consumer durable name {name_rule}"
            )));
        }
        if self.replicas > 1 {
            return Err(ApiError::new(
                400,
                10126,
                "consumer config replica count exceeds parent stream",
            ));
        }
        if self.replicas < 0 {
            return Err(ApiError::new(
                400,
                10133,
                "replicas count cannot be negative",
            ));
        }
        if self.backoff.iter().any(|b| *b < 0) {
            return Err(ApiError::new(
                400,
                10184,
                "consumer backoff needs to be positive",
            ));
        }
        if self.ack_wait < 0 {
            return Err(ApiError::new(
                400,
                10183,
                "consumer ack wait needs to be positive",
            ));
        }
        let backoffs = self.backoff.len() as i64;
        if backoffs > 0 && self.max_deliver != -1 && backoffs > self.max_deliver {
            return Err(ApiError::new(
                400,
                10116,
                "max deliver is required to be > length of backoff values",
            ));
        }
        if self.description.len() > MAX_DESCRIPTION_LEN {
            return Err(ApiError::new(
                400,
                10107,
                format!(
                    "consumer description is too long, maximum allowed is {MAX_DESCRIPTION_LEN}"
                ),
            ));
        }
        if self.is_push() {
            let ds = self.deliver_subject.as_bytes();
            if !subject::is_literal(ds) {
                return Err(ApiError::new(
                    400,
                    10079,
                    "consumer deliver subject has wildcards",
                ));
            }
            if !subject::is_valid_subject(ds) {
                return Err(ApiError::new(
                    400,
                    10112,
                    "invalid push consumer deliver subject",
                ));
            }
            if stream
                .subjects
                .iter()
                .any(|s| subject::subjects_overlap(s.as_bytes(), ds))
            {
                return Err(ApiError::new(
                    400,
                    10081,
                    "consumer deliver subject forms a cycle",
                ));
            }
            if self.max_waiting != 0 {
                return Err(ApiError::new(
                    400,
                    10080,
                    "consumer in push mode can not set max waiting",
                ));
            }
            if self.max_ack_pending > 0 && self.ack_policy == AckPolicy::None {
                return Err(ApiError::new(
                    400,
                    10082,
                    "consumer requires ack policy for max ack pending",
                ));
            }
            if self.heartbeat > 0 && self.heartbeat < 100_000_000 {
                return Err(ApiError::new(
                    400,
                    10083,
                    "consumer idle heartbeat needs to be >= 100ms",
                ));
            }
        } else {
            if self.ack_policy == AckPolicy::None && stream.retention == Retention::WorkQueue {
                return Err(ApiError::new(
                    400,
                    10084,
                    "consumer in pull mode requires explicit ack policy on workqueue stream",
                ));
            }
            if self.rate_limit > 0 {
                return Err(ApiError::new(
                    400,
                    10086,
                    "consumer in pull mode can not have rate limit set",
                ));
            }
            if self.heartbeat > 0 {
                return Err(ApiError::new(
                    400,
                    10088,
                    "consumer idle heartbeat requires a push based consumer",
                ));
            }
            if self.flow_control {
                return Err(ApiError::new(
                    400,
                    10089,
                    "consumer flow control requires a push based consumer",
                ));
            }
            if self.max_request_expires != 0 && self.max_request_expires < 1_000_000 {
                return Err(ApiError::new(
                    400,
                    10115,
                    "consumer max request expires needs to be >= 1ms",
                ));
            }
        }
        if self.direct {
            if !self.is_push() {
                return Err(ApiError::new(
                    400,
                    10090,
                    "consumer direct requires a push based consumer",
                ));
            }
            if self.is_durable() {
                return Err(ApiError::new(
                    400,
                    10091,
                    "consumer direct requires an ephemeral consumer",
                ));
            }
        }
        self.check_filters()?;
        self.check_start()?;
        if !self.sample_frequency.is_empty() {
            let s = self.sample_frequency.trim_end_matches('%');
            if s.parse::<u32>().is_err() {
                return Err(ApiError::new(
                    400,
                    10095,
                    format!(
                        "failed to parse consumer sampling configuration: invalid sample frequency {:?}",
                        self.sample_frequency
                    ),
                ));
            }
        }
        if self.flow_control && self.heartbeat == 0 {
            return Err(ApiError::new(
                400,
                10108,
                "consumer with flow control also needs heartbeats",
            ));
        }
        if !self.durable.is_empty() && !self.name.is_empty() && self.name != self.durable {
            return Err(ApiError::new(
                400,
                10132,
                "Consumer Durable and Name have to be equal if both are provided",
            ));
        }
        let metadata_len: usize = self
            .metadata
            .iter()
            .flatten()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if metadata_len > MAX_METADATA_LEN {
            return Err(ApiError::new(
                400,
                10135,
                "consumer metadata exceeds maximum size of 128KB",
            ));
        }
        priority::check_config(self)?;
        let name = if self.name.is_empty() {
            &self.durable
        } else {
            &self.name
        };
        if name.len() > MAX_NAME_LEN {
            return Err(ApiError::new(
                400,
                10102,
                format!("consumer name is too long, maximum allowed is {MAX_NAME_LEN}"),
            ));
        }
        if self.rate_limit > 0 {
            return Err(ApiError::new(
                400,
                10012,
                "consumer rate_limit_bps is not supported by this server yet",
            ));
        }
        Ok(())
    }

    fn check_filters(&self) -> Result<(), ApiError> {
        if !self.filter_subject.is_empty() && !self.filter_subjects.is_empty() {
            return Err(ApiError::new(
                400,
                10136,
                "consumer cannot have both FilterSubject and FilterSubjects specified",
            ));
        }
        if !self.filter_subject.is_empty()
            && !subject::is_valid_subject(self.filter_subject.as_bytes())
        {
            return Err(ApiError::invalid_config("invalid subject"));
        }
        if self.filter_subjects.iter().any(String::is_empty) {
            return Err(ApiError::new(
                400,
                10139,
                "consumer filter in FilterSubjects cannot be empty",
            ));
        }
        let filters = self.filters();
        for (i, f) in filters.iter().enumerate() {
            if !subject::is_valid_subject(f.as_bytes()) {
                return Err(ApiError::invalid_config("invalid subject"));
            }
            for (j, g) in filters.iter().enumerate() {
                if i != j && subject::is_subset_match(f.as_bytes(), g.as_bytes()) {
                    return Err(ApiError::new(
                        400,
                        10138,
                        "consumer subject filters cannot overlap",
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_start(&self) -> Result<(), ApiError> {
        let bad = |dp: &str, start: &str| {
            Err(invalid_policy(format!(
                "consumer delivery policy is deliver {dp}, but optional start {start} is also set"
            )))
        };
        let not_set = |dp: &str, what: &str| {
            Err(invalid_policy(format!(
                "consumer delivery policy is deliver {dp}, but optional {what} is not set"
            )))
        };
        let seq = self.opt_start_seq > 0;
        let time = self.opt_start_time.is_some();
        match self.deliver_policy {
            DeliverPolicy::All | DeliverPolicy::Last | DeliverPolicy::New => {
                let dp = match self.deliver_policy {
                    DeliverPolicy::All => "all",
                    DeliverPolicy::Last => "last",
                    _ => "new",
                };
                if seq {
                    return bad(dp, "sequence");
                }
                if time {
                    return bad(dp, "time");
                }
            }
            DeliverPolicy::LastPerSubject => {
                if seq {
                    return bad("last per subject", "sequence");
                }
                if time {
                    return bad("last per subject", "time");
                }
                if self.filter_subject.is_empty() && self.filter_subjects.is_empty() {
                    return not_set("last per subject", "filter subject");
                }
            }
            DeliverPolicy::ByStartSequence => {
                if !seq {
                    return not_set("by start sequence", "start sequence");
                }
                if time {
                    return bad("by start sequence", "time");
                }
            }
            DeliverPolicy::ByStartTime => {
                if !time {
                    return not_set("by start time", "start time");
                }
                if seq {
                    return bad("by start time", "start sequence");
                }
                if self.start_time_ns().is_none() {
                    return Err(ApiError::invalid_json(
                        "opt_start_time is not an RFC 3339 time",
                    ));
                }
            }
        }
        Ok(())
    }

    /// What an update may not change (nats-server's
    /// `checkNewConsumerConfig`): the error for the first such field.
    pub fn check_update(&self, new: &ConsumerConfig) -> Result<(), ApiError> {
        let fail = |what: &str| {
            Err(ApiError::new(
                500,
                10012,
                format!("{what} can not be updated"),
            ))
        };
        if self.deliver_policy != new.deliver_policy {
            return fail("deliver policy");
        }
        if self.opt_start_seq != new.opt_start_seq {
            return fail("start sequence");
        }
        if self.opt_start_time != new.opt_start_time {
            return fail("start time");
        }
        if self.ack_policy != new.ack_policy {
            return fail("ack policy");
        }
        if self.replay_policy != new.replay_policy {
            return fail("replay policy");
        }
        if self.heartbeat != new.heartbeat {
            return fail("heart beats");
        }
        if self.flow_control != new.flow_control {
            return fail("flow control");
        }
        if self.is_push() != new.is_push() {
            return Err(ApiError::new(
                500,
                10012,
                if self.is_push() {
                    "can not update push consumer to pull based"
                } else {
                    "can not update pull consumer to push based"
                },
            ));
        }
        if self.deliver_group != new.deliver_group {
            return fail("deliver group");
        }
        if self.max_waiting != new.max_waiting {
            return fail("max waiting");
        }
        if self.memory_storage != new.memory_storage {
            return fail("mem storage");
        }
        if self.direct != new.direct {
            return fail("direct");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> ConsumerConfig {
        serde_json::from_str(json).expect("valid config JSON")
    }

    fn stream() -> StreamConfig {
        serde_json::from_str(r#"{"name":"S","subjects":["orders.>"]}"#).expect("stream JSON")
    }

    #[test]
    fn defaults_follow_nats_server() {
        let mut c = parse(r#"{"durable_name":"d","ack_policy":"explicit"}"#);
        c.apply_defaults(false);
        assert_eq!(c.max_deliver, -1);
        assert_eq!(c.ack_wait, DEFAULT_ACK_WAIT_NS);
        assert_eq!(c.max_ack_pending, 1000);
        assert_eq!(c.max_waiting, 512);
        assert_eq!(c.inactive_threshold, 0);
        let json = serde_json::to_value(&c).expect("serializes");
        assert_eq!(json["deliver_policy"], "all");
        assert_eq!(json["replay_policy"], "instant");
        assert_eq!(json["num_replicas"], 0);
        assert!(json.get("filter_subject").is_none());

        let mut e = parse(r#"{"deliver_subject":"in","ack_policy":"none"}"#);
        e.apply_defaults(true);
        assert_eq!(e.max_waiting, 0);
        assert_eq!(e.ack_wait, 0);
        assert_eq!(e.max_ack_pending, 0);
        assert_eq!(e.inactive_threshold, DEFAULT_INACTIVE_THRESHOLD_NS);
    }

    #[test]
    fn backoff_sets_ack_wait_and_per_delivery_waits() {
        let mut c = parse(r#"{"ack_policy":"explicit","backoff":[1000,2000],"max_deliver":5}"#);
        c.apply_defaults(false);
        assert_eq!(c.ack_wait, 1000);
        assert_eq!(c.ack_wait_for(1), 1000);
        assert_eq!(c.ack_wait_for(2), 2000);
        assert_eq!(c.ack_wait_for(9), 2000);
        assert!(c.check(&stream()).is_ok());
    }

    #[test]
    fn checks_give_nats_server_codes() {
        let code = |json: &str| {
            let mut c = parse(json);
            c.apply_defaults(false);
            c.check(&stream()).err().map(|e| e.err_code)
        };
        assert_eq!(code(r#"{"durable_name":"a.b"}"#), Some(10052));
        assert_eq!(code(r#"{"deliver_subject":"x.*"}"#), Some(10079));
        assert_eq!(code(r#"{"deliver_subject":"orders.x"}"#), Some(10081));
        assert_eq!(code(r#"{"idle_heartbeat":1000000000}"#), Some(10088));
        assert_eq!(code(r#"{"flow_control":true}"#), Some(10089));
        assert_eq!(
            code(r#"{"deliver_subject":"in","flow_control":true}"#),
            Some(10108)
        );
        assert_eq!(
            code(r#"{"deliver_policy":"by_start_sequence"}"#),
            Some(10094)
        );
        assert_eq!(code(r#"{"opt_start_seq":4}"#), Some(10094));
        assert_eq!(
            code(r#"{"deliver_policy":"last_per_subject"}"#),
            Some(10094)
        );
        assert_eq!(
            code(r#"{"filter_subject":"a","filter_subjects":["b"]}"#),
            Some(10136)
        );
        assert_eq!(code(r#"{"filter_subjects":["a.>","a.b"]}"#), Some(10138));
        assert_eq!(code(r#"{"filter_subjects":[""]}"#), Some(10139));
        assert_eq!(code(r#"{"name":"a","durable_name":"b"}"#), Some(10132));
        assert_eq!(code(r#"{"backoff":[1,2,3],"max_deliver":2}"#), Some(10116));
        assert_eq!(code(r#"{"priority_groups":["g"]}"#), Some(10196));
        assert_eq!(
            code(r#"{"deliver_policy":"new","filter_subject":"orders.*"}"#),
            None
        );
    }
}
