//! The write deadline of one connection (`write_deadline`, and the
//! `write_timeout` policy of nats-server 2.11+): how long a connection may
//! keep bytes waiting on a socket that does not take them all, and what
//! happens then. `close` (the default for clients) ends the connection as
//! a slow consumer; `retry` (the default for links to other servers) ends
//! it only when nothing at all was written meanwhile, and otherwise counts
//! a slow consumer, logs it and starts the deadline over.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::config::WritePolicy;

use super::outbound::Outbound;
use super::state::Shared;

/// What a passed deadline means.
#[derive(Debug, PartialEq, Eq)]
pub enum Overdue {
    /// Not blocked, or the deadline is still ahead.
    No,
    /// End the connection as a slow consumer.
    Close,
    /// Slow but moving (`retry`): this many bytes went out since the
    /// deadline started; it has started over.
    Moving { written: u64 },
}

/// Tracks one connection's blocked output against its deadline.
pub struct WriteDeadline {
    limit: Duration,
    retry: bool,
    /// Since when output has waited, and the connection's written-bytes
    /// count then.
    blocked: Option<(Instant, u64)>,
}

impl WriteDeadline {
    /// `link`: a connection to another server, whose default is `retry`.
    pub fn new(limit: Duration, policy: WritePolicy, link: bool) -> WriteDeadline {
        let retry = match policy {
            WritePolicy::Default => link,
            WritePolicy::Close => false,
            WritePolicy::Retry => true,
        };
        WriteDeadline {
            limit,
            retry,
            blocked: None,
        }
    }

    /// The socket did not take everything: the deadline starts, unless it
    /// is running already. Returns when it falls due.
    pub fn blocked(&mut self, out: &Outbound) -> Instant {
        let (since, _) = *self
            .blocked
            .get_or_insert_with(|| (Instant::now(), out.written()));
        since + self.limit
    }

    /// Everything pending was written.
    pub fn cleared(&mut self) {
        self.blocked = None;
    }

    /// When the running deadline falls due.
    pub fn due(&self) -> Option<Instant> {
        self.blocked.map(|(since, _)| since + self.limit)
    }

    /// Whether the deadline passed at `now`, and what that means.
    pub fn check(&mut self, now: Instant, out: &Outbound) -> Overdue {
        let Some((since, written_then)) = self.blocked else {
            return Overdue::No;
        };
        if now < since + self.limit {
            return Overdue::No;
        }
        let written = out.written().saturating_sub(written_then);
        if self.retry && written > 0 {
            self.blocked = Some((now, out.written()));
            Overdue::Moving { written }
        } else {
            Overdue::Close
        }
    }

    pub fn limit(&self) -> Duration {
        self.limit
    }
}

/// A `retry` connection passed its deadline while still taking bytes:
/// counted and logged as a slow consumer, as nats-server does, and kept.
pub fn slow_but_moving(
    shared: &Shared,
    addr: &str,
    id: u64,
    kind: &str,
    limit: Duration,
    written: u64,
) {
    shared.totals.slow_consumers.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        "{addr} - {kind}:{id} - Slow Consumer Detected: WriteDeadline of {limit:?} exceeded, {written} bytes written meanwhile; still connected"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::net::{TcpListener, TcpStream};

    async fn outbound() -> (Outbound, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (ours, theirs) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let out = Outbound::new(Arc::new(ours.unwrap()), 1 << 20);
        (out, theirs.unwrap().0)
    }

    #[tokio::test]
    async fn close_ends_a_slow_connection_retry_only_a_stuck_one() {
        let limit = Duration::from_secs(1);
        for (policy, link, moving_closes) in [
            (WritePolicy::Default, false, true),
            (WritePolicy::Close, true, true),
            (WritePolicy::Default, true, false),
            (WritePolicy::Retry, false, false),
        ] {
            let (out, _peer) = outbound().await;
            let mut d = WriteDeadline::new(limit, policy, link);
            let due = d.blocked(&out);
            let start = due - limit;
            assert_eq!(d.check(start, &out), Overdue::No, "{policy:?}");
            // Bytes go out meanwhile (the kernel takes them).
            out.push(1, |b| b.extend_from_slice(&[b'x'; 1000]));
            let _ = out.flush();
            let got = d.check(due, &out);
            if moving_closes {
                assert_eq!(got, Overdue::Close, "{policy:?} link {link}");
            } else {
                assert_eq!(
                    got,
                    Overdue::Moving { written: 1000 },
                    "{policy:?} link {link}"
                );
                // Started over; nothing written since: now it is stuck.
                let again = d.due().expect("still blocked");
                assert!(again > due);
                assert_eq!(d.check(again, &out), Overdue::Close);
            }
            d.cleared();
            assert_eq!(d.check(due + limit * 10, &out), Overdue::No);
        }
    }
}
