//! Pull requests (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`): the
//! request body (empty, a bare batch number, or nats-server's JSON), and the
//! queue of requests a pull consumer holds until they are served, expire or
//! lose their requester. Messages go to the head request, which then moves
//! to the back while it wants more, so concurrent fetchers share fairly —
//! or, under priority policy `prioritized`, behind the requests of its own
//! priority level but ahead of lower ones.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Deserialize;

use super::priority::PriorityRequest;
use crate::jetstream::config::nullable;

/// One `MSG.NEXT` request as the client sent it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullRequest {
    pub batch: u64,
    /// Nanoseconds; 0 = no expiry.
    pub expires: i64,
    /// 0 = no byte limit.
    pub max_bytes: u64,
    pub no_wait: bool,
    /// Nanoseconds; 0 = no heartbeats.
    pub heartbeat: i64,
    /// The priority group fields; `Some` for every JSON request (even one
    /// without them), as nats-server checks them.
    pub priority: Option<PriorityRequest>,
}

#[derive(Deserialize)]
struct Json {
    #[serde(default)]
    batch: i64,
    #[serde(default)]
    expires: i64,
    #[serde(default)]
    max_bytes: i64,
    #[serde(default)]
    no_wait: bool,
    #[serde(default, rename = "idle_heartbeat")]
    heartbeat: i64,
    #[serde(default, deserialize_with = "nullable")]
    group: String,
    #[serde(default, deserialize_with = "nullable")]
    min_pending: i64,
    #[serde(default, deserialize_with = "nullable")]
    min_ack_pending: i64,
    #[serde(default, deserialize_with = "nullable")]
    id: String,
    #[serde(default, deserialize_with = "nullable")]
    priority: i64,
}

impl PullRequest {
    /// Parses a request body; the error is nats-server's `Bad Request`
    /// reason.
    pub fn parse(body: &[u8]) -> Result<PullRequest, String> {
        let body = body.trim_ascii();
        let one = PullRequest {
            batch: 1,
            ..Default::default()
        };
        if body.is_empty() {
            return Ok(one);
        }
        if body[0] != b'{' {
            let n = std::str::from_utf8(body)
                .ok()
                .and_then(|t| t.parse::<i64>().ok());
            return Ok(match n {
                Some(n) => PullRequest {
                    batch: u64::try_from(n).unwrap_or(0).max(1),
                    ..one
                },
                None => one,
            });
        }
        let j: Json = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        if j.heartbeat > 0 && j.heartbeat.saturating_mul(2) > j.expires {
            return Err("heartbeat value too large".into());
        }
        Ok(PullRequest {
            batch: u64::try_from(j.batch).unwrap_or(0).max(1),
            expires: j.expires.max(0),
            max_bytes: u64::try_from(j.max_bytes).unwrap_or(0),
            no_wait: j.no_wait,
            heartbeat: j.heartbeat.max(0),
            priority: Some(PriorityRequest {
                group: j.group,
                min_pending: j.min_pending,
                min_ack_pending: j.min_ack_pending,
                id: j.id,
                priority: j.priority,
            }),
        })
    }
}

/// A request being served.
#[derive(Debug)]
pub struct Waiting {
    pub reply: Bytes,
    /// Messages still wanted.
    pub left: u64,
    /// Bytes still allowed, when the request set `max_bytes`.
    pub bytes_left: Option<u64>,
    pub no_wait: bool,
    pub expires_at: Option<Instant>,
    pub heartbeat: Option<Duration>,
    pub next_heartbeat: Option<Instant>,
    pub delivered: u64,
    pub priority: Option<PriorityRequest>,
}

impl Waiting {
    pub fn new(reply: Bytes, req: &PullRequest, now: Instant) -> Waiting {
        let nanos = |n: i64| Duration::from_nanos(u64::try_from(n).unwrap_or(0));
        let heartbeat = (req.heartbeat > 0).then(|| nanos(req.heartbeat));
        Waiting {
            reply,
            left: req.batch,
            bytes_left: (req.max_bytes > 0).then_some(req.max_bytes),
            no_wait: req.no_wait,
            expires_at: (req.expires > 0).then(|| now + nanos(req.expires)),
            heartbeat,
            next_heartbeat: heartbeat.map(|h| now + h),
            delivered: 0,
            priority: req.priority.clone(),
        }
    }

    /// The bytes still allowed, as the `Nats-Pending-Bytes` header says.
    pub fn pending_bytes(&self) -> u64 {
        self.bytes_left.unwrap_or(0)
    }

    /// Its place under policy `prioritized`: lower first; a request that
    /// is not JSON (no priority fields) goes last, as on nats-server.
    fn rank(&self) -> i64 {
        self.priority
            .as_ref()
            .map_or(i64::from(i32::MAX), |p| p.priority)
    }
}

/// The requests a pull consumer holds, oldest first (or by priority).
#[derive(Debug, Default)]
pub struct WaitingQueue {
    queue: VecDeque<Waiting>,
    /// Priority policy `prioritized`: kept in order of [`Waiting::rank`].
    prioritized: bool,
}

impl WaitingQueue {
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn set_prioritized(&mut self, on: bool) {
        self.prioritized = on;
    }

    pub fn push(&mut self, w: Waiting) {
        if self.prioritized {
            self.insert_ranked(w);
        } else {
            self.queue.push_back(w);
        }
    }

    /// After every request of the same or a better rank.
    fn insert_ranked(&mut self, w: Waiting) {
        let rank = w.rank();
        let at = self
            .queue
            .iter()
            .position(|q| q.rank() > rank)
            .unwrap_or(self.queue.len());
        self.queue.insert(at, w);
    }

    /// The head is passed over for now: to the back, whatever its rank
    /// (nats-server's `cycle`).
    pub fn cycle(&mut self) {
        if let Some(head) = self.queue.pop_front() {
            self.queue.push_back(head);
        }
    }

    /// The request the next message goes to.
    pub fn head(&mut self) -> Option<&mut Waiting> {
        self.queue.front_mut()
    }

    /// Takes the head request out (done, dead or refused).
    pub fn pop(&mut self) -> Option<Waiting> {
        self.queue.pop_front()
    }

    /// The head got a message: drop it when satisfied, else move it to the
    /// back so the next request gets the next message.
    pub fn served_head(&mut self) -> Option<Waiting> {
        let head = self.queue.pop_front()?;
        if head.left == 0 {
            return Some(head);
        }
        self.push(head);
        None
    }

    /// Removes and returns every request `pred` selects.
    pub fn drain_where(&mut self, mut pred: impl FnMut(&Waiting) -> bool) -> Vec<Waiting> {
        let mut out = Vec::new();
        let mut keep = VecDeque::with_capacity(self.queue.len());
        for w in self.queue.drain(..) {
            if pred(&w) {
                out.push(w);
            } else {
                keep.push_back(w);
            }
        }
        self.queue = keep;
        out
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Waiting> {
        self.queue.iter_mut()
    }

    /// The earliest expiry or heartbeat among the requests.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.queue
            .iter()
            .flat_map(|w| [w.expires_at, w.next_heartbeat])
            .flatten()
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        assert_eq!(PullRequest::parse(b"").map(|r| r.batch), Ok(1));
        assert_eq!(PullRequest::parse(b" 7 ").map(|r| r.batch), Ok(7));
        let r = PullRequest::parse(
            br#"{"batch":10,"expires":5000000000,"max_bytes":100,"no_wait":true}"#,
        )
        .expect("valid request");
        assert_eq!(
            r,
            PullRequest {
                batch: 10,
                expires: 5_000_000_000,
                max_bytes: 100,
                no_wait: true,
                heartbeat: 0,
                priority: Some(PriorityRequest::default()),
            }
        );
        assert_eq!(
            PullRequest::parse(br#"{"batch":1,"expires":1000,"idle_heartbeat":600}"#),
            Err("heartbeat value too large".to_string())
        );
        assert!(PullRequest::parse(b"{nope").is_err());
    }

    #[test]
    fn head_rotates_until_satisfied() {
        let now = Instant::now();
        let mut q = WaitingQueue::default();
        let req = |n| PullRequest {
            batch: n,
            ..Default::default()
        };
        q.push(Waiting::new(Bytes::from_static(b"a"), &req(2), now));
        q.push(Waiting::new(Bytes::from_static(b"b"), &req(1), now));
        let mut order = Vec::new();
        while let Some(h) = q.head() {
            h.left -= 1;
            order.push(h.reply.clone());
            q.served_head();
        }
        assert_eq!(order, vec!["a", "b", "a"]);
    }

    #[test]
    fn prioritized_serves_lower_priority_first_and_fifo_within() {
        let now = Instant::now();
        let mut q = WaitingQueue::default();
        q.set_prioritized(true);
        let req = |batch, priority: Option<i64>| PullRequest {
            batch,
            priority: priority.map(|priority| PriorityRequest {
                group: "A".into(),
                priority,
                ..Default::default()
            }),
            ..Default::default()
        };
        q.push(Waiting::new(
            Bytes::from_static(b"plain"),
            &req(1, None),
            now,
        ));
        q.push(Waiting::new(
            Bytes::from_static(b"p5"),
            &req(1, Some(5)),
            now,
        ));
        q.push(Waiting::new(
            Bytes::from_static(b"p1a"),
            &req(2, Some(1)),
            now,
        ));
        q.push(Waiting::new(
            Bytes::from_static(b"p1b"),
            &req(1, Some(1)),
            now,
        ));
        let mut order = Vec::new();
        while let Some(h) = q.head() {
            h.left -= 1;
            order.push(h.reply.clone());
            q.served_head();
        }
        assert_eq!(order, vec!["p1a", "p1b", "p1a", "p5", "plain"]);
    }

    #[test]
    fn json_requests_carry_priority_fields() {
        let r = PullRequest::parse(
            br#"{"batch":2,"group":"A","min_pending":3,"min_ack_pending":4,"id":"x","priority":2}"#,
        )
        .expect("valid request");
        assert_eq!(
            r.priority,
            Some(PriorityRequest {
                group: "A".into(),
                min_pending: 3,
                min_ack_pending: 4,
                id: "x".into(),
                priority: 2,
            })
        );
        assert_eq!(PullRequest::parse(b"5").map(|r| r.priority), Ok(None));
    }
}
