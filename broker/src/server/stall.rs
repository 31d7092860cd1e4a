//! Fast-producer back-pressure, as nats-server has it: a client publisher
//! whose message goes to a receiver past three quarters of its
//! `max_pending` waits a little for that receiver to drain, so a
//! subscriber that is merely slower than a burst loses nothing.
//!
//! The wait is bounded: 2 ms per stall (5 ms on a receiver already at
//! `max_pending`, which only a leaf link can be), 10 ms in all per read of
//! the publisher's socket. A receiver that passes `max_pending` all the
//! same is a slow consumer, cut off by its [`Outbound`]. Only client
//! connections are stalled; JetStream, the system account's services and
//! leaf links deliver without waiting. With `no_fast_producer_stall`, a
//! client's message to a stalled receiver is dropped for that receiver
//! instead.
//!
//! Delivery only notes the first stalled receiver of a publish in the
//! [`PendingFlush`](super::delivery::PendingFlush); the connection task
//! stops applying its read buffer after that operation, flushes, waits
//! here (holding nothing another connection needs) and goes on with the
//! rest of the buffer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::leaf::LeafHandle;

use super::client::ClientHandle;
use super::outbound::Outbound;

/// A stall while the receiver is below `max_pending`.
pub const STALL_MIN: Duration = Duration::from_millis(2);
/// A stall on a receiver at or past `max_pending`.
pub const STALL_MAX: Duration = Duration::from_millis(5);
/// All the stalls of one read of the publisher's socket.
pub const STALL_TOTAL: Duration = Duration::from_millis(10);

/// How a publisher treats a receiver that is behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StallPolicy {
    /// Deliver without waiting: internal publishers, leaf links, and a
    /// client whose stall time for this read is used up.
    Never,
    /// Wait for the receiver (a client, by default).
    Wait,
    /// Drop the message for that receiver (`no_fast_producer_stall`).
    Skip,
}

impl StallPolicy {
    /// The policy for client publishers under this configuration.
    pub fn for_clients(no_fast_producer_stall: bool) -> Self {
        if no_fast_producer_stall {
            StallPolicy::Skip
        } else {
            StallPolicy::Wait
        }
    }
}

/// The receiver a publisher is to wait for.
#[derive(Clone)]
pub enum Stalled {
    Client(Arc<ClientHandle>),
    Leaf(Arc<LeafHandle>),
}

impl Stalled {
    pub fn outbound(&self) -> &Outbound {
        match self {
            Stalled::Client(c) => &c.out,
            Stalled::Leaf(l) => &l.out,
        }
    }
}

/// One client publisher's stall time within the current read.
#[derive(Debug)]
pub struct StallBudget {
    spent: Duration,
    policy: StallPolicy,
}

impl StallBudget {
    pub fn new(policy: StallPolicy) -> Self {
        StallBudget {
            spent: Duration::ZERO,
            policy,
        }
    }

    /// The policy delivery applies now: [`StallPolicy::Never`] once this
    /// read's stall time is used up.
    pub fn policy(&self) -> StallPolicy {
        if self.policy == StallPolicy::Wait && self.spent >= STALL_TOTAL {
            StallPolicy::Never
        } else {
            self.policy
        }
    }

    /// Wait for `on` as long as one stall may, within what is left of this
    /// read's budget. Returns false when the budget is used up.
    pub async fn wait(&mut self, on: &Stalled, total_stalls: &AtomicU64) -> bool {
        let left = STALL_TOTAL.saturating_sub(self.spent);
        if left.is_zero() {
            return false;
        }
        let out = on.outbound();
        let ttl = if out.is_full() { STALL_MAX } else { STALL_MIN }.min(left);
        if out.is_stalled() {
            total_stalls.fetch_add(1, Ordering::Relaxed);
        }
        let waited = out.stall_wait(ttl).await;
        if waited >= ttl {
            tracing::debug!("Timed out of fast producer stall ({ttl:?})");
        }
        self.spent += waited;
        self.spent < STALL_TOTAL
    }

    /// The read is done: report a long total as nats-server does (at most
    /// one line a second for the whole server) and start afresh.
    pub fn end_read(&mut self, addr: &std::net::SocketAddr, cid: u64) {
        if self.spent >= STALL_MAX && may_log_now() {
            tracing::warn!(
                "{addr} - cid:{cid} - Producer was stalled for a total of {}",
                crate::config::format_go_duration(round_to_millis(self.spent))
            );
        }
        self.spent = Duration::ZERO;
    }
}

fn round_to_millis(d: Duration) -> Duration {
    Duration::from_millis(((d.as_micros() + 500) / 1000) as u64)
}

/// Second (since the first call) of the last stall report, plus one: the
/// warning is rate-limited server-wide like nats-server's.
static LAST_REPORT: AtomicU64 = AtomicU64::new(0);

fn may_log_now() -> bool {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let now = EPOCH.get_or_init(Instant::now).elapsed().as_secs() + 1;
    let last = LAST_REPORT.load(Ordering::Relaxed);
    now != last
        && LAST_REPORT
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_turns_to_never_once_spent() {
        let mut b = StallBudget::new(StallPolicy::Wait);
        assert_eq!(b.policy(), StallPolicy::Wait);
        b.spent = STALL_TOTAL;
        assert_eq!(b.policy(), StallPolicy::Never);
        let addr = "127.0.0.1:1".parse().unwrap();
        b.end_read(&addr, 1);
        assert_eq!(b.policy(), StallPolicy::Wait);
        let skip = StallBudget::new(StallPolicy::Skip);
        assert_eq!(skip.policy(), StallPolicy::Skip);
    }

    #[test]
    fn totals_round_like_go() {
        assert_eq!(
            round_to_millis(Duration::from_micros(9_600)),
            Duration::from_millis(10)
        );
        assert_eq!(
            round_to_millis(Duration::from_micros(5_400)),
            Duration::from_millis(5)
        );
    }
}
