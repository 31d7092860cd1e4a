//! A stream's configuration as `$JS.API.STREAM.CREATE/UPDATE` carry it, with
//! nats-server's JSON field names and defaults (`-1` for "unlimited",
//! durations in nanoseconds), its checks, and the mapping to the limits the
//! store enforces. Features Tern's streams do not have yet are refused with
//! an error naming them, never silently accepted.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::subject;

use super::error::ApiError;
use super::store::{DiscardPolicy, StorageKind, StoreLimits};

/// nats-server's default duplicate window: two minutes.
pub const DEFAULT_DUPLICATE_WINDOW_NS: i64 = 120_000_000_000;
/// Longest stream name (nats-server's `JSMaxNameLen`).
const MAX_NAME_LEN: usize = 255;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Retention {
    #[default]
    Limits,
    Interest,
    #[serde(rename = "workqueue")]
    WorkQueue,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Discard {
    #[default]
    Old,
    New,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    #[default]
    File,
    Memory,
}

impl Storage {
    pub fn kind(self) -> StorageKind {
        match self {
            Storage::File => StorageKind::File,
            Storage::Memory => StorageKind::Memory,
        }
    }
}

/// A field sent as `null` takes its default.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn unlimited() -> i64 {
    -1
}
fn one() -> i64 {
    1
}
pub(crate) fn is_zero(v: &i64) -> bool {
    *v == 0
}
pub(crate) fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}
pub(crate) fn is_false(v: &bool) -> bool {
    !*v
}
fn none_compression() -> String {
    "none".to_string()
}

/// `StreamConfig`, field for field as nats-server names them. Fields of
/// features Tern lacks are kept as raw JSON only to be refused by
/// [`StreamConfig::check`] when set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamConfig {
    #[serde(default)]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub subjects: Vec<String>,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default = "unlimited")]
    pub max_consumers: i64,
    #[serde(default = "unlimited")]
    pub max_msgs: i64,
    #[serde(default = "unlimited")]
    pub max_bytes: i64,
    /// Nanoseconds; 0 = forever.
    #[serde(default)]
    pub max_age: i64,
    #[serde(default = "unlimited")]
    pub max_msgs_per_subject: i64,
    #[serde(default = "unlimited")]
    pub max_msg_size: i64,
    #[serde(default)]
    pub discard: Discard,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default = "one")]
    pub num_replicas: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_ack: bool,
    /// Nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub duplicate_window: i64,
    #[serde(default = "none_compression")]
    pub compression: String,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub first_seq: u64,
    #[serde(default)]
    pub allow_direct: bool,
    #[serde(default)]
    pub mirror_direct: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub discard_new_per_subject: bool,
    #[serde(default)]
    pub sealed: bool,
    #[serde(default)]
    pub deny_delete: bool,
    #[serde(default)]
    pub deny_purge: bool,
    #[serde(default)]
    pub allow_rollup_hdrs: bool,
    #[serde(default)]
    pub allow_msg_ttl: bool,
    /// Nanoseconds a subject delete marker lives; 0 = no markers.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub subject_delete_marker_ttl: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Rewrites the subject of every message stored.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub subject_transform: Option<TransformConfig>,
    /// Publishes every message stored again, on a transformed subject.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub republish: Option<Republish>,
    /// Another stream of this server this one is a copy of, sequence for
    /// sequence.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub mirror: Option<StreamSource>,
    /// Other streams of this server whose messages this one copies.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sources: Vec<StreamSource>,
    /// Everything else the request carried (mirror, sources, placement,
    /// consumer_limits, ...).
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

/// `subject_transform`: nats-server's `SubjectTransformConfig`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransformConfig {
    #[serde(default)]
    pub src: String,
    #[serde(default)]
    pub dest: String,
}

/// `republish`: nats-server's `RePublish`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Republish {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub src: String,
    #[serde(default)]
    pub dest: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub headers_only: bool,
}

/// One of `sources`: nats-server's `StreamSource`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamSource {
    pub name: String,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub subject_transforms: Vec<TransformConfig>,
    /// Another domain or account: refused, Tern has one account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<Value>,
    /// A durable sourcing consumer (nats-server 2.12): refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<Value>,
}

impl StreamSource {
    /// nats-server's index name: `name filter dest` (`>` for none; several
    /// transforms joined with form feeds), which `Nats-Stream-Source`
    /// headers carry so a restart can resume.
    pub fn index_name(&self) -> String {
        let (src, dest) = if self.subject_transforms.is_empty() {
            let f = if self.filter_subject.is_empty() {
                ">"
            } else {
                self.filter_subject.as_str()
            };
            (f.to_string(), ">".to_string())
        } else {
            let or_all = |s: &str| {
                if s.is_empty() {
                    ">".to_string()
                } else {
                    s.to_string()
                }
            };
            let srcs: Vec<String> = self
                .subject_transforms
                .iter()
                .map(|t| or_all(&t.src))
                .collect();
            let dests: Vec<String> = self
                .subject_transforms
                .iter()
                .map(|t| or_all(&t.dest))
                .collect();
            (srcs.join("\u{c}"), dests.join("\u{c}"))
        };
        format!("{} {src} {dest}", self.name)
    }

    /// nats-server's checks of one source of stream `stream`.
    fn check(&self, stream: &str) -> Result<(), ApiError> {
        if self.name.is_empty() || self.name == stream {
            return Err(ApiError::invalid_config(format!(
                "stream source {:?} is not valid",
                self.name
            )));
        }
        if self.external.as_ref().is_some_and(is_set) || self.consumer.as_ref().is_some_and(is_set)
        {
            return Err(ApiError::invalid_config(
                "sourcing from another domain or account, or through a durable consumer, is not supported by this server yet",
            ));
        }
        if !self.filter_subject.is_empty() && !self.subject_transforms.is_empty() {
            return Err(ApiError::new(
                400,
                10144,
                "source with multiple subject transforms cannot also have a single subject filter",
            ));
        }
        if !self.filter_subject.is_empty()
            && !subject::is_valid_subject(self.filter_subject.as_bytes())
        {
            return Err(ApiError::new(
                400,
                10145,
                format!(
                    "source transform source: invalid subject {:?}",
                    self.filter_subject
                ),
            ));
        }
        for (i, t) in self.subject_transforms.iter().enumerate() {
            let dest = if t.dest.is_empty() {
                ">"
            } else {
                t.dest.as_str()
            };
            subject::SubjectTransform::new(&t.src, dest)
                .map_err(|e| ApiError::new(400, 10145, format!("source transform source: {e}")))?;
            let overlap = self.subject_transforms[..i].iter().any(|o| {
                let or_all = |s: &str| {
                    if s.is_empty() {
                        ">".to_string()
                    } else {
                        s.to_string()
                    }
                };
                subject::subjects_overlap(or_all(&o.src).as_bytes(), or_all(&t.src).as_bytes())
            });
            if overlap {
                return Err(ApiError::new(400, 10147, "source filters can not overlap"));
            }
        }
        Ok(())
    }
}

/// Request fields that turn on a feature Tern's streams lack, when set to
/// anything but null/false/0/empty.
const UNSUPPORTED_FIELDS: &[&str] = &[
    "allow_msg_counter",
    "allow_atomic",
    "allow_msg_schedules",
    "allow_batched",
    "persist_mode",
];

/// Request fields accepted and echoed back without effect on a single
/// server (placement is about clusters; pedantic asks for strict checks).
const PASSIVE_FIELDS: &[&str] = &["placement", "consumer_limits", "pedantic", "template_owner"];

/// Whether a request field turns something on (not null/false/0/empty).
pub(crate) fn is_set(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(true) => true,
    }
}

impl StreamConfig {
    /// Parses a create/update request body.
    pub fn parse(body: &[u8]) -> Result<StreamConfig, ApiError> {
        serde_json::from_slice(body).map_err(ApiError::invalid_json)
    }

    /// nats-server's defaults for what was left out or zero.
    pub fn apply_defaults(&mut self) {
        for v in [
            &mut self.max_msgs,
            &mut self.max_bytes,
            &mut self.max_msgs_per_subject,
            &mut self.max_msg_size,
            &mut self.max_consumers,
        ] {
            if *v == 0 {
                *v = -1;
            }
        }
        if self.num_replicas == 0 {
            self.num_replicas = 1;
        }
        // A stream fed only by its sources (or a mirror) needs no subjects
        // of its own.
        if self.subjects.is_empty() && self.sources.is_empty() && self.mirror.is_none() {
            self.subjects.push(self.name.clone());
        }
        if self.duplicate_window == 0 {
            self.duplicate_window = if self.max_age > 0 {
                self.max_age.min(DEFAULT_DUPLICATE_WINDOW_NS)
            } else {
                DEFAULT_DUPLICATE_WINDOW_NS
            };
        }
        if let Some(r) = self.republish.as_mut() {
            if r.src.is_empty() {
                r.src = ">".into();
            }
        }
        // Markers are TTL'd roll-ups: nats-server turns both on for them.
        if self.subject_delete_marker_ttl > 0 {
            self.allow_msg_ttl = true;
            self.allow_rollup_hdrs = true;
            self.deny_purge = false;
        }
        self.other.retain(|k, v| {
            let keep = PASSIVE_FIELDS.contains(&k.as_str()) && k != "pedantic" && !v.is_null();
            keep || (UNSUPPORTED_FIELDS.contains(&k.as_str()) && is_set(v))
        });
        // nats-server always reports the (possibly empty) consumer limits.
        self.other
            .entry("consumer_limits")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }

    /// Refuses a configuration nats-server would refuse, or one that needs
    /// a feature Tern's streams do not have.
    pub fn check(&self) -> Result<(), ApiError> {
        check_name(&self.name)?;
        if self.num_replicas > 1 {
            return Err(ApiError::replicas_not_supported());
        }
        if self.max_age < 0 {
            return Err(ApiError::invalid_config("max age needs to be >= 0"));
        }
        if self.duplicate_window < 0 {
            return Err(ApiError::invalid_config(
                "duplicates window can not be negative",
            ));
        }
        if self.max_age > 0 && self.duplicate_window > self.max_age {
            return Err(ApiError::invalid_config(
                "duplicates window can not be larger then max age",
            ));
        }
        if self.discard_new_per_subject
            && (self.discard != Discard::New || self.max_msgs_per_subject <= 0)
        {
            return Err(ApiError::invalid_config(
                "discard new per subject requires discard new policy and max msgs per subject to be set",
            ));
        }
        for (i, s) in self.subjects.iter().enumerate() {
            if !subject::is_valid_subject(s.as_bytes()) {
                return Err(ApiError::invalid_config(format!("invalid subject {s:?}")));
            }
            if !self.no_ack && subject::subjects_overlap(s.as_bytes(), b"$JS.API.>") {
                return Err(ApiError::invalid_config(
                    "subjects that overlap with jetstream api require no-ack to be true",
                ));
            }
            if self.subjects[..i]
                .iter()
                .any(|o| subject::subjects_overlap(o.as_bytes(), s.as_bytes()))
            {
                return Err(ApiError::invalid_config("subjects overlap"));
            }
        }
        self.check_transforms()?;
        if self.subject_delete_marker_ttl < 0 {
            return Err(ApiError::invalid_config(
                "subject delete marker TTL must not be negative",
            ));
        }
        if self.subject_delete_marker_ttl > 0 {
            if self.subject_delete_marker_ttl < 1_000_000_000 {
                return Err(ApiError::invalid_config(
                    "subject delete marker TTL must be at least 1 second",
                ));
            }
            if self.mirror.is_some() {
                return Err(ApiError::invalid_config(
                    "subject delete markers forbidden on mirrors",
                ));
            }
        }
        for source in &self.sources {
            source.check(&self.name)?;
        }
        if let Some(m) = &self.mirror {
            if !self.subjects.is_empty() {
                return Err(ApiError::new(
                    400,
                    10034,
                    "stream mirrors can not contain subjects",
                ));
            }
            if !self.sources.is_empty() {
                return Err(ApiError::new(
                    400,
                    10031,
                    "stream mirrors can not also contain other sources",
                ));
            }
            if m.opt_start_seq > 0 && m.opt_start_time.is_some() {
                return Err(ApiError::new(
                    400,
                    10032,
                    "stream mirrors can not have both start seq and start time configured",
                ));
            }
            if self.first_seq > 0 {
                return Err(ApiError::new(
                    400,
                    10143,
                    "stream mirrors can not have first sequence configured",
                ));
            }
            m.check(&self.name)?;
        }
        if !matches!(self.compression.as_str(), "none" | "s2") {
            // nats-server fails to decode the request at this field.
            return Err(ApiError::invalid_json("unknown compression algorithm"));
        }
        if let Some(k) = UNSUPPORTED_FIELDS
            .iter()
            .find(|k| self.other.get(**k).is_some_and(is_set))
        {
            return Err(ApiError::invalid_config(format!(
                "stream {k} is not supported by this server yet"
            )));
        }
        Ok(())
    }

    /// `subject_transform` and `republish` as nats-server checks them.
    fn check_transforms(&self) -> Result<(), ApiError> {
        if let Some(t) = &self.subject_transform {
            subject::SubjectTransform::new(&t.src, &t.dest).map_err(|e| {
                ApiError::invalid_config(format!(
                    "stream configuration for subject transform from '{}' to '{}' not valid: {e}",
                    t.src, t.dest
                ))
            })?;
        }
        if let Some(r) = &self.republish {
            let cycle = self
                .subjects
                .iter()
                .any(|s| subject::subjects_overlap(r.dest.as_bytes(), s.as_bytes()));
            if cycle {
                return Err(ApiError::invalid_config(
                    "stream configuration for republish destination forms a cycle",
                ));
            }
            if subject::SubjectTransform::new(&r.src, &r.dest).is_err() {
                return Err(ApiError::invalid_config(format!(
                    "stream configuration for republish with transform from '{}' to '{}' not valid",
                    r.src, r.dest
                )));
            }
        }
        Ok(())
    }

    /// Whether the store compresses messages (`compression: s2`).
    pub fn compressed(&self) -> bool {
        self.compression == "s2"
    }

    /// The limits the store enforces.
    pub fn store_limits(&self) -> StoreLimits {
        let positive = |v: i64| u64::try_from(v).ok().filter(|&v| v > 0);
        StoreLimits {
            max_msgs: positive(self.max_msgs),
            max_bytes: positive(self.max_bytes),
            max_age: positive(self.max_age).map(Duration::from_nanos),
            max_msgs_per_subject: positive(self.max_msgs_per_subject),
            discard: match self.discard {
                Discard::Old => DiscardPolicy::Old,
                Discard::New => DiscardPolicy::New,
            },
            discard_new_per_subject: self.discard_new_per_subject,
        }
    }

    /// Does any of this stream's subjects overlap any of `other`'s?
    pub fn overlaps(&self, other: &StreamConfig) -> bool {
        self.subjects.iter().any(|a| {
            other
                .subjects
                .iter()
                .any(|b| subject::subjects_overlap(a.as_bytes(), b.as_bytes()))
        })
    }
}

/// nats-server's stream name rules.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::invalid_config("stream name is required"));
    }
    if name.contains(['/', '\\']) {
        return Err(ApiError::new(
            400,
            10128,
            "Stream name can not contain path separators",
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ApiError::invalid_config(format!(
            "stream name is too long, maximum allowed is {MAX_NAME_LEN}"
        )));
    }
    if name.contains(['.', '*', '>', ' ', '\t', '\r', '\n']) || name.chars().any(char::is_control) {
        return Err(ApiError::invalid_config("invalid name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_like_nats_server() {
        let mut c = StreamConfig::parse(br#"{"name":"S"}"#).unwrap();
        c.apply_defaults();
        c.check().unwrap();
        assert_eq!(c.subjects, ["S"]);
        assert_eq!(c.max_msgs, -1);
        assert_eq!(c.duplicate_window, DEFAULT_DUPLICATE_WINDOW_NS);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["storage"], "file");
        assert_eq!(json["retention"], "limits");
        assert_eq!(json["discard"], "old");
        assert_eq!(c.store_limits(), StoreLimits::default());
    }

    #[test]
    fn refusals() {
        let check = |j: &str| {
            let mut c = StreamConfig::parse(j.as_bytes()).unwrap();
            c.apply_defaults();
            c.check()
        };
        assert!(check(r#"{"name":"a.b"}"#).is_err());
        assert_eq!(check(r#"{"name":"a/b"}"#).unwrap_err().err_code, 10128);
        assert!(check(r#"{"name":"S","subjects":["a.*","a.b"]}"#).is_err());
        assert!(check(r#"{"name":"S","mirror":{"name":"X"}}"#).is_ok());
        assert_eq!(
            check(r#"{"name":"S","subjects":["s"],"mirror":{"name":"X"}}"#)
                .unwrap_err()
                .err_code,
            10034
        );
        assert!(check(r#"{"name":"S","mirror":{"name":"S"}}"#).is_err());
        assert!(
            check(r#"{"name":"S","sources":[{"name":"X","external":{"api":"$JS.hub.API"}}]}"#)
                .is_err()
        );
        assert!(check(r#"{"name":"S","mirror":null,"sources":[]}"#).is_ok());
        assert!(check(r#"{"name":"S","subjects":[">"]}"#).is_err());
        assert!(StreamConfig::parse(b"{").is_err());
    }
}
