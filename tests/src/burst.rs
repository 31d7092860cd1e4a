//! A burst with an ordinary client on both sides: one async-nats publisher
//! sends as fast as the client can while async-nats subscribers (one, a
//! fan-out, or a queue group) count what arrives. Used by the black-box
//! test that every message is delivered (`tests/fast_producer.rs`) and by
//! the benchmark's real-client rows.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use futures::StreamExt;

/// Who receives the burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Every one of `n` subscribers gets every message (1 is 1→1).
    FanOut(usize),
    /// A queue group of `n`: every message goes to one member.
    Queue(usize),
}

impl Pattern {
    fn subscribers(self) -> usize {
        match self {
            Pattern::FanOut(n) | Pattern::Queue(n) => n,
        }
    }

    /// Deliveries a burst of `count` messages should make.
    pub fn expected(self, count: u64) -> u64 {
        match self {
            Pattern::FanOut(n) => count * n as u64,
            Pattern::Queue(_) => count,
        }
    }
}

/// What one burst did.
#[derive(Debug, Clone)]
pub struct Burst {
    pub sent: u64,
    /// Messages each subscriber received.
    pub received: Vec<u64>,
    /// From the first publish to the last delivery (or to giving up).
    pub elapsed: Duration,
}

impl Burst {
    pub fn delivered(&self) -> u64 {
        self.received.iter().sum()
    }

    /// Deliveries per second.
    pub fn rate(&self) -> f64 {
        self.delivered() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// How long the subscribers may see nothing before the burst is taken to
/// be over (what was lost stays lost).
const IDLE: Duration = Duration::from_secs(3);
const CONNECT: Duration = Duration::from_secs(5);

/// async-nats drops messages itself when a subscription's channel (64 Ki
/// messages by default) is full, whatever the server does; the burst's
/// subscribers get room for a whole burst of `room` messages so that only
/// the server decides what is delivered.
async fn connect(
    url: &str,
    room: u64,
    base: &impl Fn() -> async_nats::ConnectOptions,
) -> Result<async_nats::Client> {
    let capacity = usize::try_from(room).unwrap_or(usize::MAX).max(64 * 1024);
    let opts = base()
        .connection_timeout(CONNECT)
        .subscription_capacity(capacity);
    tokio::time::timeout(CONNECT * 2, opts.connect(url))
        .await
        .context("connect timed out")?
        .with_context(|| format!("connect to {url}"))
}

/// Run one burst of `count` messages of `payload` bytes on `url`.
pub async fn run(url: &str, pattern: Pattern, payload: usize, count: u64) -> Result<Burst> {
    run_with(
        url,
        pattern,
        payload,
        count,
        async_nats::ConnectOptions::new,
    )
    .await
}

/// [`run`] with every client connecting with `base()`'s options (TLS
/// settings, say).
pub async fn run_with(
    url: &str,
    pattern: Pattern,
    payload: usize,
    count: u64,
    base: impl Fn() -> async_nats::ConnectOptions,
) -> Result<Burst> {
    let subject = "burst.data";
    let mut counters = Vec::new();
    let mut tasks = Vec::new();
    let mut clients = Vec::new();
    let expected = pattern.expected(count);
    // One shared count; the delivery that completes it notes the time.
    // Per message a subscriber does one atomic add and nothing else, so
    // the client's own channel is drained as fast as the client can.
    let delivered = Arc::new(AtomicU64::new(0));
    let done_at = Arc::new(parking_lot::Mutex::new(None::<Instant>));
    for _ in 0..pattern.subscribers() {
        let client = connect(url, count, &base).await?;
        let mut sub = match pattern {
            Pattern::FanOut(_) => client.subscribe(subject).await?,
            Pattern::Queue(_) => client.queue_subscribe(subject, "workers".into()).await?,
        };
        round_trip(&client).await?;
        let mine = Arc::new(AtomicU64::new(0));
        counters.push(mine.clone());
        let (total, done_at) = (delivered.clone(), done_at.clone());
        tasks.push(tokio::spawn(async move {
            while let Some(_m) = sub.next().await {
                mine.fetch_add(1, Ordering::Relaxed);
                if total.fetch_add(1, Ordering::Relaxed) + 1 == expected {
                    *done_at.lock() = Some(Instant::now());
                }
            }
        }));
        clients.push(client);
    }

    let publisher = connect(url, 0, &base).await?;
    let body = Bytes::from(vec![b'x'; payload]);
    let started = Instant::now();
    for _ in 0..count {
        publisher.publish(subject, body.clone()).await?;
    }
    publisher.flush().await?;

    // Wait for the last delivery, or until nothing arrives for IDLE.
    let (mut seen, mut seen_at) = (0, Instant::now());
    let elapsed = loop {
        if let Some(at) = *done_at.lock() {
            break at - started;
        }
        let now = delivered.load(Ordering::Relaxed);
        if now != seen {
            (seen, seen_at) = (now, Instant::now());
        } else if seen_at.elapsed() >= IDLE {
            break seen_at - started;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    for t in &tasks {
        t.abort();
    }
    Ok(Burst {
        sent: count,
        received: counters.iter().map(|c| c.load(Ordering::Relaxed)).collect(),
        elapsed,
    })
}

/// A real round trip to the server: everything sent before it (the
/// subscription) has been processed when it returns.
pub async fn round_trip(client: &async_nats::Client) -> Result<()> {
    let subject = format!("_burst_rt.{}", client.new_inbox().replace('.', "_"));
    match tokio::time::timeout(CONNECT, client.request(subject, Bytes::new())).await {
        Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
        Ok(other) => bail!("round trip: expected no responders, got {other:?}"),
        Err(_) => bail!("round trip timed out"),
    }
}
