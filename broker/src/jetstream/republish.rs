//! A stream's subject rewriting: `subject_transform` (the subject a message
//! is stored under) and `republish` (a copy of every stored message, sent
//! on a transformed subject with `Nats-Stream`, `Nats-Subject`,
//! `Nats-Sequence`, `Nats-Time-Stamp` and `Nats-Last-Sequence` headers, as
//! lightweight subscribers expect from nats-server).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::account::Account;
use crate::server::state::Shared;
use crate::subject::SubjectTransform;

use super::config::StreamConfig;
use super::store::Timestamp;
use super::wire::{time_string, with_headers};

/// The transforms of one stream config, built once per config.
pub(crate) struct Transforms {
    config: Arc<StreamConfig>,
    store_as: Option<SubjectTransform>,
    republish: Option<(SubjectTransform, bool)>,
}

impl Transforms {
    /// Builds them for `config` (already checked, so they are valid).
    pub fn new(config: &Arc<StreamConfig>) -> Transforms {
        let store_as = config
            .subject_transform
            .as_ref()
            .and_then(|t| SubjectTransform::new(&t.src, &t.dest).ok());
        let republish = config.republish.as_ref().and_then(|r| {
            SubjectTransform::new(&r.src, &r.dest)
                .ok()
                .map(|t| (t, r.headers_only))
        });
        Transforms {
            config: config.clone(),
            store_as,
            republish,
        }
    }

    /// Whether these were built for `config`.
    pub fn is_for(&self, config: &Arc<StreamConfig>) -> bool {
        Arc::ptr_eq(&self.config, config)
    }

    /// The subject to store a message published on `subject` under.
    pub fn stored_subject(&self, subject: Bytes) -> Bytes {
        let Some(t) = &self.store_as else {
            return subject;
        };
        match std::str::from_utf8(&subject).ok().and_then(|s| t.apply(s)) {
            Some(new) => Bytes::from(new),
            None => subject,
        }
    }

    pub fn republishes(&self) -> bool {
        self.republish.is_some()
    }

    /// Where and how to republish a message stored under `subject`.
    pub fn republish_target(&self, subject: &[u8]) -> Option<(String, bool)> {
        let (t, headers_only) = self.republish.as_ref()?;
        let dest = t.apply(std::str::from_utf8(subject).ok()?)?;
        Some((dest, *headers_only))
    }
}

/// A stored message to republish once its append has committed.
pub(crate) struct ToRepublish {
    pub dest: String,
    pub headers_only: bool,
    pub subject: Bytes,
    pub headers: Bytes,
    pub payload: Bytes,
    pub timestamp: Timestamp,
}

/// The last sequence republished per subject, for `Nats-Last-Sequence`
/// (0 for a subject's first message since the stream started).
#[derive(Default)]
pub(crate) struct LastSequences(HashMap<Bytes, u64>);

impl ToRepublish {
    /// Publishes the copy of the message stored at `seq` in `stream`.
    pub fn send(
        self,
        shared: &Shared,
        account: &Account,
        stream: &str,
        seq: u64,
        last: &mut LastSequences,
    ) {
        let previous = last.0.insert(self.subject.clone(), seq).unwrap_or(0);
        let mut lines = vec![
            ("Nats-Stream", stream.to_string()),
            (
                "Nats-Subject",
                String::from_utf8_lossy(&self.subject).into_owned(),
            ),
            ("Nats-Sequence", seq.to_string()),
            ("Nats-Time-Stamp", time_string(self.timestamp)),
            ("Nats-Last-Sequence", previous.to_string()),
        ];
        let payload: &[u8] = if self.headers_only {
            lines.push(("Nats-Msg-Size", self.payload.len().to_string()));
            b""
        } else {
            &self.payload
        };
        let hdr = with_headers(&self.headers, &lines);
        shared.publish_internal(account, self.dest.as_bytes(), None, Some(&hdr), payload);
    }
}
