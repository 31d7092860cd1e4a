//! Priority groups (ADR-42, nats-server 2.11/2.12) for pull consumers:
//! `priority_groups` names the groups a pull request must say it belongs
//! to, and `priority_policy` decides which waiting request gets the next
//! message:
//! - `overflow`: a request with `min_pending` / `min_ack_pending` is only
//!   served while the consumer has at least that many messages pending /
//!   awaiting acks, so standby clients take over when the primary lags;
//! - `pinned_client`: one client (its requests carrying the pin id the
//!   server handed out in the `Nats-Pin-Id` header) gets everything; the
//!   pin moves when that client sends no request for `priority_timeout`,
//!   or on `$JS.API.CONSUMER.UNPIN`. A request with a stale pin id gets
//!   `423`;
//! - `prioritized`: requests are served in order of their `priority`
//!   (0 first), first come first served within one level.
//!
//! As on nats-server, one pin serves the whole consumer (the first group
//! is the one `ConsumerInfo` reports), and the request checks and the
//! choice of a request follow its `processNextMsgRequest`/`nextWaiting`.

use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::jetstream::error::ApiError;
use crate::jetstream::store::Timestamp;
use crate::jetstream::wire::{now_ns, status_headers};

use super::config::ConsumerConfig;
use super::engine::Engine;
use super::pull::PullRequest;
use super::pull_delivery::pending_headers;

/// nats-server's `JsDefaultPinnedTTL`: 2 minutes.
pub const DEFAULT_PINNED_TTL_NS: i64 = 120_000_000_000;
/// The header that carries the pin id on delivered messages.
pub const PIN_ID_HEADER: &str = "Nats-Pin-Id";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityPolicy {
    #[default]
    None,
    Overflow,
    PinnedClient,
    Prioritized,
}

impl PriorityPolicy {
    /// nats-server leaves the default out of the config JSON.
    pub fn is_none(&self) -> bool {
        *self == PriorityPolicy::None
    }
}

/// The priority fields of a JSON pull request (nats-server's embedded
/// `PriorityGroup`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PriorityRequest {
    pub group: String,
    pub min_pending: i64,
    pub min_ack_pending: i64,
    /// The pin id the client was given, if any.
    pub id: String,
    pub priority: i64,
}

/// nats-server's group name rule: 1 to 16 of `A-Z a-z 0-9 / _ = -`.
pub fn valid_group_name(name: &str) -> bool {
    (1..=16).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'=' | b'-'))
}

fn invalid_group_name() -> ApiError {
    ApiError::new(
        400,
        10162,
        "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters",
    )
}

/// The group named by an unpin request or pull request is not one of the
/// consumer's.
pub fn unknown_group() -> ApiError {
    ApiError::new(
        400,
        10160,
        "Provided priority group does not exist for this consumer",
    )
}

/// The config checks of nats-server's `checkConsumerCfg` for priority
/// groups, in its order.
pub fn check_config(c: &ConsumerConfig) -> Result<(), ApiError> {
    if !c.priority_policy.is_none() {
        if c.is_push() {
            return Err(ApiError::new(
                400,
                10178,
                "priority groups can not be used with push consumers",
            ));
        }
        if c.priority_groups.is_empty() {
            return Err(ApiError::new(
                400,
                10159,
                "Setting PriorityPolicy requires at least one PriorityGroup to be set",
            ));
        }
        for g in &c.priority_groups {
            if g.is_empty() {
                return Err(ApiError::new(
                    400,
                    10161,
                    "Group name cannot be an empty string",
                ));
            }
            if !valid_group_name(g) {
                return Err(invalid_group_name());
            }
        }
    } else {
        if !c.priority_groups.is_empty() {
            return Err(ApiError::new(
                400,
                10196,
                "consumer can not have priority groups when policy is none",
            ));
        }
        if c.priority_timeout > 0 {
            return Err(ApiError::new(
                400,
                10197,
                "PinnedTTL cannot be set when PriorityPolicy is none",
            ));
        }
    }
    Ok(())
}

/// The group of an unpin request, checked as nats-server checks it before
/// it looks the consumer up.
pub fn check_unpin_group(group: &str) -> Result<(), ApiError> {
    if group.is_empty() {
        return Err(ApiError::invalid_json("consumer group not specified"));
    }
    if !valid_group_name(group) {
        return Err(invalid_group_name());
    }
    Ok(())
}

/// The client currently pinned.
#[derive(Debug)]
pub(crate) struct Pin {
    pub id: String,
    /// When it was pinned.
    pub since: Timestamp,
    /// When it loses the pin unless it sends a request before.
    pub expires: Instant,
}

/// A fresh pin id: 22 random letters and digits, like the NUID
/// nats-server hands out.
fn new_pin_id() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..22)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

impl Engine {
    fn pin_ttl(&self) -> Duration {
        Duration::from_nanos(u64::try_from(self.config.priority_timeout).unwrap_or(0))
    }

    /// The priority checks a pull request passes on arrival: the refusal
    /// (status and description) if it fails one. A request from the
    /// pinned client keeps the pin alive.
    pub(super) fn check_priority_request(
        &mut self,
        req: &PullRequest,
    ) -> Result<(), (u16, &'static str)> {
        // Only JSON requests carry priority fields; a bare batch number is
        // taken as nats-server takes it, without these checks.
        let Some(p) = &req.priority else {
            return Ok(());
        };
        let policy = self.config.priority_policy;
        if (p.min_pending != 0 || p.min_ack_pending != 0) && policy != PriorityPolicy::Overflow {
            return Err((400, "Bad Request - Not a Overflow Priority consumer"));
        }
        if !p.id.is_empty() && policy != PriorityPolicy::PinnedClient {
            return Err((400, "Bad Request - Not a Pinned Client Priority consumer"));
        }
        if !(0..=9).contains(&p.priority) {
            return Err((400, "Bad Request - Priority must be between 0 and 9"));
        }
        if policy.is_none() {
            return Ok(());
        }
        if p.group.is_empty() {
            return Err((400, "Bad Request - Priority Group missing"));
        }
        if !self.config.priority_groups.contains(&p.group) {
            return Err((400, "Bad Request - Invalid Priority Group"));
        }
        let ttl = self.pin_ttl();
        if let Some(pin) = self.pin.as_mut() {
            if p.id == pin.id {
                pin.expires = Instant::now() + ttl;
            } else if !p.id.is_empty() {
                return Err((423, "Nats-Pin-Id mismatch"));
            }
        }
        Ok(())
    }

    /// nats-server's `nextWaiting`: turns the queue until its head is a
    /// request that may take the next message — the pinned client's, or
    /// any while nobody is pinned (which pins it), and for `overflow` one
    /// whose thresholds are met. Requests with a stale pin id get `423
    /// Nats-Wrong-Pin-Id`, expired ones `408`. `None` if no request may
    /// take a message now; else whether this call pinned the head.
    pub(super) fn select_request(&mut self) -> Option<bool> {
        let need_new_pin =
            self.pin.is_none() && self.config.priority_policy == PriorityPolicy::PinnedClient;
        let mut cycled = 0;
        loop {
            let now = Instant::now();
            let head = self.waiting.head()?;
            if head.expires_at.is_some_and(|t| t <= now) {
                self.end_request(408, "Request Timeout");
                continue;
            }
            let head_id = head.priority.as_ref().map_or("", |p| p.id.as_str());
            let mut claimed = false;
            if need_new_pin {
                if !head_id.is_empty() {
                    self.end_request(423, "Nats-Wrong-Pin-Id");
                    continue;
                }
                self.assign_pin();
                claimed = true;
            } else if let Some(pin) = &self.pin {
                if head_id.is_empty() {
                    if self.skip_head(&mut cycled) {
                        return None;
                    }
                    continue;
                }
                if head_id != pin.id {
                    self.end_request(423, "Nats-Wrong-Pin-Id");
                    continue;
                }
            }
            if self.config.priority_policy == PriorityPolicy::Overflow && !self.overflow_ready() {
                if self.skip_head(&mut cycled) {
                    return None;
                }
                continue;
            }
            return Some(claimed);
        }
    }

    /// Whether the head request's `min_pending` / `min_ack_pending` lets
    /// it take the message just read (counted as still pending, as
    /// nats-server counts it).
    fn overflow_ready(&mut self) -> bool {
        let pending = self.source.pending_hint() as i64 + 1;
        let ack_pending = self.tracker.num_ack_pending() as i64;
        let Some(head) = self.waiting.head() else {
            return false;
        };
        let Some(p) = &head.priority else {
            return true;
        };
        if p.min_pending <= 0 && p.min_ack_pending <= 0 {
            return true;
        }
        (p.min_pending > 0 && p.min_pending <= pending)
            || (p.min_ack_pending > 0 && p.min_ack_pending <= ack_pending)
    }

    /// Moves the head to the back; true once every request was passed over.
    fn skip_head(&mut self, cycled: &mut usize) -> bool {
        self.waiting.cycle();
        *cycled += 1;
        *cycled >= self.waiting.len()
    }

    /// Ends the head request with a status carrying what it still wanted.
    fn end_request(&mut self, code: u16, text: &str) {
        let Some(w) = self.waiting.pop() else {
            return;
        };
        let hdr = status_headers(code, text, &pending_headers(w.left, w.pending_bytes()));
        self.js
            .shared
            .publish_internal(&self.js.account, &w.reply, None, Some(&hdr), b"");
    }

    /// Pins the client of the head request (if it named a group): the
    /// request now carries the new id, so the rest of its batch is its.
    fn assign_pin(&mut self) {
        let ttl = self.pin_ttl();
        let Some(head) = self.waiting.head() else {
            return;
        };
        let Some(p) = head.priority.as_mut().filter(|p| !p.group.is_empty()) else {
            return;
        };
        let id = new_pin_id();
        p.id = id.clone();
        self.pin = Some(Pin {
            id,
            since: now_ns(),
            expires: Instant::now() + ttl,
        });
    }

    /// Nobody is pinned any more (timeout, unpin request, or the pin just
    /// claimed could not be used).
    pub(super) fn unpin(&mut self) {
        self.pin = None;
    }

    /// The pin id delivered messages carry (`pinned_client` only).
    pub(super) fn pin_header(&self) -> Option<String> {
        (self.config.priority_policy == PriorityPolicy::PinnedClient)
            .then(|| self.pin.as_ref().map(|p| p.id.clone()).unwrap_or_default())
    }

    /// The pin times out when its client sent no request for
    /// `priority_timeout`.
    pub(super) fn pin_timer(&mut self, now: Instant) {
        if self.pin.as_ref().is_some_and(|p| p.expires <= now) {
            self.unpin();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> ConsumerConfig {
        let mut c: ConsumerConfig = serde_json::from_str(json).expect("valid config JSON");
        c.apply_defaults(false);
        c
    }

    #[test]
    fn group_names() {
        assert!(valid_group_name("A-z_0=9/x"));
        assert!(!valid_group_name(""));
        assert!(!valid_group_name("seventeen-chars-x"));
        assert!(!valid_group_name("a.b"));
        assert!(!valid_group_name("a b"));
    }

    #[test]
    fn config_checks_give_nats_server_codes() {
        let code = |json: &str| check_config(&config(json)).err().map(|e| e.err_code);
        assert_eq!(code(r#"{"priority_groups":["A"]}"#), Some(10196));
        assert_eq!(code(r#"{"priority_timeout":1000}"#), Some(10197));
        assert_eq!(code(r#"{"priority_policy":"overflow"}"#), Some(10159));
        assert_eq!(
            code(r#"{"priority_policy":"overflow","priority_groups":[""]}"#),
            Some(10161)
        );
        assert_eq!(
            code(r#"{"priority_policy":"overflow","priority_groups":["a.b"]}"#),
            Some(10162)
        );
        assert_eq!(
            code(r#"{"deliver_subject":"x","priority_policy":"overflow","priority_groups":["A"]}"#),
            Some(10178)
        );
        assert_eq!(
            code(r#"{"priority_policy":"prioritized","priority_groups":["A"]}"#),
            None
        );
        let pinned = config(r#"{"priority_policy":"pinned_client","priority_groups":["A"]}"#);
        assert_eq!(pinned.priority_timeout, DEFAULT_PINNED_TTL_NS);
        assert!(serde_json::from_str::<ConsumerConfig>(r#"{"priority_policy":"odd"}"#).is_err());
    }

    #[test]
    fn policy_none_is_left_out_of_the_json() {
        let c = config(r#"{"durable_name":"d"}"#);
        let json = serde_json::to_value(&c).expect("serializes");
        assert!(json.get("priority_policy").is_none());
        assert!(json.get("priority_groups").is_none());
        assert!(json.get("priority_timeout").is_none());
        let p = config(r#"{"priority_policy":"pinned_client","priority_groups":["A"]}"#);
        let json = serde_json::to_value(&p).expect("serializes");
        assert_eq!(json["priority_policy"], "pinned_client");
        assert_eq!(json["priority_timeout"], DEFAULT_PINNED_TTL_NS);
    }
}
