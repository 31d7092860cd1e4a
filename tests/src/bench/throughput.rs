//! Throughput: one publisher blasting pre-encoded frames in big writes,
//! subscribers counting frames; wall time from the first PUB to the last
//! message received.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use super::client::{Conn, Defer, Event, STALL};

/// Times a publisher waited for its subscribers (see [`WINDOW_BYTES`])
/// since the last [`take_flow_waits`]: a diagnostic, shown per run.
static FLOW_WAITS: AtomicU64 = AtomicU64::new(0);

pub fn take_flow_waits() -> u64 {
    FLOW_WAITS.swap(0, Relaxed)
}

/// Publisher write size.
const CHUNK: usize = 128 * 1024;

/// Flow control: the publisher stays at most this many bytes of frames ahead
/// of each subscriber, so neither broker's slow-consumer policy kicks in (it
/// differs: nats-server stalls the publisher, Tern cuts the subscriber off).
const WINDOW_BYTES: usize = 8 * 1024 * 1024;

/// Messages per second the server ingests from one blasting publisher.
pub fn publish_only(addr: &str, payload: usize, count: u64) -> Result<f64> {
    let mut publisher = Conn::connect(addr)?;
    let start = Instant::now();
    publish(&mut publisher, "bench.pub", payload, count, None)?;
    publisher.sync()?;
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

/// Progress shared by a publisher and its subscribers.
struct Progress {
    /// Messages received, all subscribers together.
    total: AtomicU64,
    expected: u64,
    done: AtomicBool,
    stop: AtomicBool,
    end: Mutex<Option<Instant>>,
    error: Mutex<Option<anyhow::Error>>,
    publisher: thread::Thread,
    publisher_waiting: AtomicBool,
}

impl Progress {
    fn fail(&self, e: anyhow::Error) {
        self.error.lock().unwrap().get_or_insert(e);
        self.stop.store(true, Relaxed);
        self.publisher.unpark();
    }

    fn check(&self) -> Result<()> {
        match self.error.lock().unwrap().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Deliveries per second: one publisher, `subs` subscribers on one subject
/// (plain subscriptions: each gets every message; a queue group: each
/// message goes to one member). Wall time from the first PUB to the last
/// message received.
pub fn flow(addr: &str, payload: usize, subs: usize, queue: bool, count: u64) -> Result<f64> {
    flow_between(addr, addr, payload, subs, queue, count, || Ok(()))
}

/// [`flow`] with the publisher on `pub_addr` and the subscribers on
/// `sub_addr` (two servers linked somehow); `ready` runs once the
/// subscriptions are made, and returns when messages can flow.
pub fn flow_between(
    pub_addr: &str,
    sub_addr: &str,
    payload: usize,
    subs: usize,
    queue: bool,
    count: u64,
    ready: impl FnOnce() -> Result<()>,
) -> Result<f64> {
    flow_mapped(
        pub_addr,
        sub_addr,
        "bench.flow",
        payload,
        subs,
        queue,
        count,
        ready,
    )
}

/// Subscribers take `bench.flow`; the publisher publishes on
/// `publish_subject` (another subject when the broker maps it there).
#[allow(clippy::too_many_arguments)]
pub fn flow_mapped(
    pub_addr: &str,
    sub_addr: &str,
    publish_subject: &str,
    payload: usize,
    subs: usize,
    queue: bool,
    count: u64,
    ready: impl FnOnce() -> Result<()>,
) -> Result<f64> {
    let subject = "bench.flow";
    let fanout = if queue { 1 } else { subs as u64 };
    let progress = Arc::new(Progress {
        total: AtomicU64::new(0),
        expected: count * fanout,
        done: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        end: Mutex::new(None),
        error: Mutex::new(None),
        publisher: thread::current(),
        publisher_waiting: AtomicBool::new(false),
    });
    // Subscriber threads end within 50 ms of this, whichever way we leave.
    let _stop = Defer({
        let progress = progress.clone();
        move || progress.stop.store(true, Relaxed)
    });
    let mut threads = Vec::new();
    for i in 0..subs {
        let mut conn = Conn::connect(sub_addr)?;
        let sub = if queue {
            format!("SUB {subject} workers {}\r\n", i + 1)
        } else {
            format!("SUB {subject} {}\r\n", i + 1)
        };
        conn.send(sub.as_bytes())?;
        conn.sync()?;
        let progress = progress.clone();
        let own = if queue { None } else { Some(count) };
        threads.push(thread::spawn(move || {
            if let Err(e) = subscriber(conn, &progress, own) {
                progress.fail(e);
            }
        }));
    }
    ready()?;
    let mut publisher = Conn::connect(pub_addr)?;
    publisher.sync()?;

    let start = Instant::now();
    let published = publish(
        &mut publisher,
        publish_subject,
        payload,
        count,
        Some((&progress, fanout)),
    );
    if let Err(e) = published {
        progress.fail(e);
    }
    let mut last = (Instant::now(), progress.total.load(Relaxed));
    while !progress.done.load(Relaxed) && !progress.stop.load(Relaxed) {
        thread::sleep(Duration::from_millis(5));
        let total = progress.total.load(Relaxed);
        if total != last.1 {
            last = (Instant::now(), total);
        } else if last.0.elapsed() > STALL {
            progress.fail(anyhow!(
                "lost messages: received {total} of {} deliveries",
                progress.expected
            ));
        }
    }
    progress.stop.store(true, Relaxed);
    for t in threads {
        let _ = t.join();
    }
    progress.check()?;
    publisher
        .sync()
        .context("publisher connection after the run")?;
    let end = progress.end.lock().unwrap().context("no end time")?;
    Ok(progress.expected as f64 / (end - start).as_secs_f64())
}

/// Count messages until `own` arrived (plain subscription) or everyone is
/// done (queue member).
fn subscriber(mut conn: Conn, progress: &Progress, own: Option<u64>) -> Result<()> {
    conn.sock
        .set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut mine = 0u64;
    while !progress.stop.load(Relaxed) && own.is_none_or(|n| mine < n) {
        let more = conn
            .fill_or_idle("subscriber")
            .with_context(|| format!("after {mine} messages"))?;
        if !more {
            continue;
        }
        let mut n = 0u64;
        conn.drain(|ev| match ev {
            Event::Msg(_) => {
                n += 1;
                Ok(())
            }
            other => other.unexpected(),
        })?;
        if n == 0 {
            continue;
        }
        mine += n;
        let before = progress.total.fetch_add(n, Relaxed);
        let after = before + n;
        if after > progress.expected || own.is_some_and(|own| mine > own) {
            bail!(
                "more messages delivered than published ({after} of {})",
                progress.expected
            );
        }
        if after == progress.expected {
            *progress.end.lock().unwrap() = Some(Instant::now());
            progress.done.store(true, Relaxed);
            progress.stop.store(true, Relaxed);
            progress.publisher.unpark();
        } else if progress.publisher_waiting.load(Relaxed) {
            progress.publisher.unpark();
        }
    }
    Ok(())
}

/// Publish `count` messages of `payload` bytes in big writes. With a
/// `(progress, fanout)`, stay within [`WINDOW_BYTES`] of the subscribers.
fn publish(
    conn: &mut Conn,
    subject: &str,
    payload: usize,
    count: u64,
    flow: Option<(&Progress, u64)>,
) -> Result<()> {
    let mut frame = format!("PUB {subject} {payload}\r\n").into_bytes();
    frame.extend((0..payload).map(|i| b'a' + (i % 26) as u8));
    frame.extend_from_slice(b"\r\n");
    let per_chunk = (CHUNK / frame.len()).max(1) as u64;
    let chunk = frame.repeat(per_chunk as usize);
    let window = (WINDOW_BYTES / frame.len()).max(2 * per_chunk as usize) as u64;
    let mut sent = 0u64;
    while sent < count {
        let n = per_chunk.min(count - sent);
        conn.send(&chunk[..n as usize * frame.len()])
            .with_context(|| format!("publish after {sent} messages"))?;
        sent += n;
        if let Some((progress, fanout)) = flow {
            while sent * fanout > progress.total.load(Relaxed) + window * fanout {
                if progress.stop.load(Relaxed) {
                    return Ok(());
                }
                progress.publisher_waiting.store(true, Relaxed);
                FLOW_WAITS.fetch_add(1, Relaxed);
                if sent * fanout > progress.total.load(Relaxed) + window * fanout {
                    thread::park_timeout(Duration::from_millis(2));
                }
                progress.publisher_waiting.store(false, Relaxed);
            }
        }
    }
    Ok(())
}
