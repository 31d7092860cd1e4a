//! Memory and start-up: idle RSS, RSS per idle connection, time to INFO.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::client::{read_until, CONNECT};
use crate::{Broker, BrokerOptions, Kind};

/// Idle RSS after start-up, then RSS per connection for `n` idle clients
/// (each CONNECT + PING/PONG), in KiB.
pub fn idle(broker: &Broker, n: usize, settle: Duration) -> Result<Vec<f64>> {
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

/// Spawn to first INFO line, polled every 100 µs (the harness polls every
/// 2 ms, too coarse for this).
pub fn timed_start(kind: Kind) -> Result<Duration> {
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
        if exited(broker.pid()) {
            break;
        }
        thread::sleep(Duration::from_micros(100));
    }
    broker.wait_ready(Duration::ZERO)?;
    bail!("{} sent no INFO within 10 s", kind.name())
}

/// Whether child `pid` has exited (a zombie, not reaped yet).
fn exited(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}
