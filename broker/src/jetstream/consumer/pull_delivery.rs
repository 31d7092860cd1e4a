//! Serving pull requests: nats-server's checks when a `MSG.NEXT` request
//! arrives (limits, priority groups, `no_wait`, `max_waiting`), delivery
//! to the waiting requests (the request chosen as [`super::priority`]
//! says, `max_bytes`, the pin id header), the end of `no_wait` requests,
//! expiry and per-request heartbeats. The queue itself is
//! [`super::pull::WaitingQueue`].

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::jetstream::wire::status_headers;

use super::engine::{heartbeat_headers, Engine};
use super::pull::{PullRequest, Waiting};

/// `Nats-Pending-Messages` / `Nats-Pending-Bytes`.
pub(super) fn pending_headers(messages: u64, bytes: u64) -> [(&'static str, String); 2] {
    [
        ("Nats-Pending-Messages", messages.to_string()),
        ("Nats-Pending-Bytes", bytes.to_string()),
    ]
}

impl Engine {
    /// `MSG.NEXT`: nats-server's checks, then the request joins the queue.
    pub(super) async fn pull_request(
        &mut self,
        reply: Bytes,
        request: Result<PullRequest, String>,
    ) {
        let (shared, account) = (self.js.shared.clone(), self.js.account.clone());
        let refuse = |code: u16, text: &str| {
            let hdr = status_headers(code, text, &[]);
            shared.publish_internal(&account, &reply, None, Some(&hdr), b"");
        };
        if self.push.is_some() {
            return refuse(409, "Consumer is push based");
        }
        let req = match request {
            Ok(r) => r,
            Err(why) => return refuse(400, &format!("Bad Request - {why}")),
        };
        let c = &self.config;
        if c.max_request_batch > 0 && req.batch > c.max_request_batch as u64 {
            return refuse(
                409,
                &format!("Exceeded MaxRequestBatch of {}", c.max_request_batch),
            );
        }
        if c.max_request_expires > 0 && req.expires > c.max_request_expires {
            let max = Duration::from_nanos(c.max_request_expires as u64);
            return refuse(
                409,
                &format!(
                    "Exceeded MaxRequestExpires of {}",
                    crate::config::format_go_duration(max)
                ),
            );
        }
        if req.max_bytes > 0
            && c.max_request_max_bytes > 0
            && req.max_bytes > c.max_request_max_bytes as u64
        {
            return refuse(
                409,
                &format!("Exceeded MaxRequestMaxBytes of {}", c.max_request_max_bytes),
            );
        }
        if let Err((code, text)) = self.check_priority_request(&req) {
            return refuse(code, text);
        }
        if req.no_wait && req.expires == 0 {
            let available = self.source.num_pending().await.unwrap_or(0);
            if available == 0 && self.tracker.next_redelivery().is_none() {
                return refuse(404, "No Messages");
            }
        }
        if self.config.max_waiting > 0 && self.waiting.len() >= self.config.max_waiting as usize {
            self.expire_requests(Instant::now(), false);
            if self.waiting.len() >= self.config.max_waiting as usize {
                if req.heartbeat == 0 {
                    refuse(409, "Exceeded MaxWaiting");
                }
                return;
            }
        }
        self.enqueue_pull(reply, req);
    }

    pub(super) fn enqueue_pull(&mut self, reply: Bytes, req: PullRequest) {
        if self.push.is_none() {
            self.waiting.push(Waiting::new(reply, &req, Instant::now()));
        }
    }

    pub(super) async fn deliver_pull(&mut self) {
        loop {
            let Some(head) = self.waiting.head() else {
                return;
            };
            let want = usize::try_from(head.left).unwrap_or(usize::MAX);
            let Some((m, origin)) = self.next_message(want).await else {
                // Held back by max_ack_pending is not the end of the stream:
                // `no_wait` requests wait, as on nats-server.
                if !self.at_ack_limit() {
                    self.end_of_stream();
                }
                return;
            };
            // As on nats-server, the request is chosen once the message is
            // known: priority thresholds count it as pending.
            let Some(claimed_pin) = self.select_request() else {
                self.source.put_back(m, origin);
                self.end_of_stream();
                return;
            };
            let Some(head) = self.waiting.head() else {
                self.source.put_back(m, origin);
                return;
            };
            let size = (m.subject.len() + m.headers.len() + m.payload.len()) as u64;
            if let Some(left) = head.bytes_left {
                if size > left {
                    let hdr = status_headers(
                        409,
                        "Message Size Exceeds MaxBytes",
                        &pending_headers(head.left, left),
                    );
                    let reply = head.reply.clone();
                    self.waiting.pop();
                    if claimed_pin {
                        // The pin was for a request that takes nothing.
                        self.unpin();
                    }
                    self.js.shared.publish_internal(
                        &self.js.account,
                        &reply,
                        None,
                        Some(&hdr),
                        b"",
                    );
                    self.source.put_back(m, origin);
                    continue;
                }
            }
            let reply = head.reply.clone();
            let pin = self.pin_header();
            if !self.send(&reply, &m, origin, pin.as_deref()) {
                // The requester is gone.
                self.waiting.pop();
                self.source.put_back(m, origin);
                continue;
            }
            if let Some(head) = self.waiting.head() {
                head.left -= 1;
                head.delivered += 1;
                if let Some(left) = head.bytes_left.as_mut() {
                    *left -= size;
                    if *left == 0 {
                        head.left = 0;
                    }
                }
                if let Some(hb) = head.heartbeat {
                    head.next_heartbeat = Some(Instant::now() + hb);
                }
            }
            self.waiting.served_head();
        }
    }

    /// No message for the waiting requests (end of the stream, none may
    /// take one, or paused): `no_wait` requests end here.
    pub(super) fn end_of_stream(&mut self) {
        let done = self
            .waiting
            .drain_where(|w| w.no_wait && (w.expires_at.is_none() || w.delivered > 0));
        let hdr = status_headers(404, "No Messages", &[]);
        for w in done {
            self.js
                .shared
                .publish_internal(&self.js.account, &w.reply, None, Some(&hdr), b"");
        }
    }

    /// Expired requests get 408; at the end of the stream (`eos`) `no_wait`
    /// requests end; requesters that went away are dropped; heartbeats go
    /// to those that asked for them.
    pub(super) fn expire_requests(&mut self, now: Instant, eos: bool) {
        let (shared, account) = (self.js.shared.clone(), self.js.account.clone());
        let expired = self
            .waiting
            .drain_where(|w| w.expires_at.is_some_and(|t| t <= now));
        for w in expired {
            let hdr = status_headers(
                408,
                "Request Timeout",
                &pending_headers(w.left, w.pending_bytes()),
            );
            shared.publish_internal(&account, &w.reply, None, Some(&hdr), b"");
        }
        if eos {
            self.end_of_stream();
        }
        self.waiting
            .drain_where(|w| !shared.has_interest(&account, &w.reply));
        let (dseq, sseq) = (
            self.tracker.state.delivered.consumer_seq,
            self.tracker.state.delivered.stream_seq,
        );
        for w in self.waiting.iter_mut() {
            if let (Some(t), Some(hb)) = (w.next_heartbeat, w.heartbeat) {
                if t <= now {
                    let hdr = heartbeat_headers(dseq, sseq, None);
                    shared.publish_internal(&account, &w.reply, None, Some(&hdr), b"");
                    w.next_heartbeat = Some(now + hb);
                }
            }
        }
    }
}
