//! Push delivery: messages go to `deliver_subject` (one member of
//! `deliver_group` when set) while someone is subscribed there; flow
//! control (`100 FlowControl Request`, answered by the client) keeps at most
//! [`FLOW_WINDOW`] bytes unconfirmed; idle heartbeats (`100 Idle Heartbeat`
//! with the last sequences, and the stalled flow-control subject) tell the
//! client the consumer is alive when there is nothing to send.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::jetstream::wire::status_headers;

use super::config::ConsumerConfig;
use super::engine::{heartbeat_headers, Engine};

/// Bytes delivered but not yet confirmed by a flow-control reply before a
/// flow-controlled consumer pauses; a request goes out every half window.
pub const FLOW_WINDOW: u64 = 2 << 20;

/// Push-mode state of a consumer.
pub(crate) struct Push {
    subject: Bytes,
    heartbeat: Option<Duration>,
    flow_control: bool,
    /// Someone is subscribed to the deliver subject.
    pub bound: bool,
    pub unbound_since: Instant,
    /// When the last message or heartbeat went out.
    last_sent: Instant,
    sent_bytes: u64,
    /// Bytes confirmed by flow-control replies.
    confirmed_bytes: u64,
    /// `sent_bytes` at the last flow-control request.
    requested_at: u64,
    /// Outstanding flow-control requests: subject and `sent_bytes` then.
    outstanding: VecDeque<(String, u64)>,
    fc_counter: u64,
}

impl Push {
    pub fn new(config: &ConsumerConfig, now: Instant) -> Push {
        Push {
            subject: Bytes::copy_from_slice(config.deliver_subject.as_bytes()),
            heartbeat: heartbeat(config),
            flow_control: config.flow_control,
            bound: false,
            unbound_since: now,
            last_sent: now,
            sent_bytes: 0,
            confirmed_bytes: 0,
            requested_at: 0,
            outstanding: VecDeque::new(),
            fc_counter: 0,
        }
    }

    pub fn update(&mut self, config: &ConsumerConfig) {
        self.subject = Bytes::copy_from_slice(config.deliver_subject.as_bytes());
        self.heartbeat = heartbeat(config);
    }

    /// Delivery waits for a flow-control reply.
    pub fn stalled(&self) -> bool {
        self.flow_control && self.sent_bytes - self.confirmed_bytes >= FLOW_WINDOW
    }

    pub fn next_heartbeat(&self) -> Option<Instant> {
        self.heartbeat
            .filter(|_| self.bound)
            .map(|h| self.last_sent + h)
    }

    /// A flow-control reply arrived on `subject`: everything sent before
    /// that request is confirmed.
    pub fn flow_reply(&mut self, subject: &[u8]) {
        let Some(i) = self
            .outstanding
            .iter()
            .position(|(s, _)| s.as_bytes() == subject)
        else {
            return;
        };
        for (_, at) in self.outstanding.drain(..=i) {
            self.confirmed_bytes = self.confirmed_bytes.max(at);
        }
    }
}

fn heartbeat(config: &ConsumerConfig) -> Option<Duration> {
    (config.heartbeat > 0).then(|| Duration::from_nanos(config.heartbeat as u64))
}

impl Engine {
    /// Looks whether someone is subscribed to the deliver subject; the
    /// subject if so.
    pub(super) fn check_bound(&mut self) -> Option<Bytes> {
        let push = self.push.as_mut()?;
        let subject = push.subject.clone();
        if !self.js.shared.has_interest(&self.js.account, &subject) {
            if push.bound {
                push.bound = false;
                push.unbound_since = Instant::now();
            }
            return None;
        }
        push.bound = true;
        Some(subject)
    }

    pub(super) async fn deliver_push(&mut self) {
        let Some(subject) = self.check_bound() else {
            return;
        };
        loop {
            if self.push.as_ref().is_some_and(Push::stalled) {
                return;
            }
            let Some((m, origin)) = self.next_message(256).await else {
                return;
            };
            let size = (m.subject.len() + m.headers.len() + m.payload.len()) as u64;
            if !self.send(&subject, &m, origin, None) {
                self.source.put_back(m, origin);
                if let Some(push) = self.push.as_mut() {
                    push.bound = false;
                    push.unbound_since = Instant::now();
                }
                return;
            }
            let stream = self.stream.name.clone();
            let name = self.name.clone();
            let Some(push) = self.push.as_mut() else {
                return;
            };
            push.last_sent = Instant::now();
            push.sent_bytes += size;
            if push.flow_control && push.sent_bytes - push.requested_at >= FLOW_WINDOW / 2 {
                push.fc_counter += 1;
                let reply = format!("$JS.FC.{stream}.{name}.{}", push.fc_counter);
                push.requested_at = push.sent_bytes;
                push.outstanding.push_back((reply.clone(), push.sent_bytes));
                let hdr = status_headers(100, "FlowControl Request", &[]);
                self.js.shared.publish_internal(
                    &self.js.account,
                    &subject,
                    Some(reply.as_bytes()),
                    Some(&hdr),
                    b"",
                );
            }
        }
    }

    /// Idle heartbeats for a bound push consumer.
    pub(super) fn push_timers(&mut self, now: Instant) {
        let (dseq, sseq) = (
            self.tracker.state.delivered.consumer_seq,
            self.tracker.state.delivered.stream_seq,
        );
        let Some(push) = self.push.as_mut() else {
            return;
        };
        if push.next_heartbeat().is_some_and(|t| t <= now) {
            let stalled = push
                .stalled()
                .then(|| push.outstanding.back().map(|(s, _)| s.clone()))
                .flatten();
            let hdr = heartbeat_headers(dseq, sseq, stalled.as_deref());
            push.last_sent = now;
            self.js
                .shared
                .publish_internal(&self.js.account, &push.subject, None, Some(&hdr), b"");
        }
    }
}
