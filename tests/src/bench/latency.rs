//! Request/reply latency: one requester, one responder, sequential requests.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use super::client::{Conn, Defer, Event};
use super::report::percentile;

/// Sequential requests, one requester and one responder per broker. The
/// brokers take turns in `blocks` blocks (order flipping each block), so
/// drifting machine noise (on a VM: the cost of cross-CPU wake-ups, which
/// comes and goes) hits all of them alike. With `cpu`, every client thread
/// runs on that CPU. Per broker: p50 and p99 round-trip time in µs.
pub fn request_reply(
    addrs: &[String],
    warmup: usize,
    requests: usize,
    blocks: usize,
    cpu: Option<usize>,
) -> Result<Vec<Vec<f64>>> {
    let stop = Arc::new(AtomicBool::new(false));
    // Responder threads end within 50 ms of this, whichever way we leave.
    let _stop = Defer({
        let stop = stop.clone();
        move || stop.store(true, Relaxed)
    });
    let mut responders = Vec::new();
    for addr in addrs {
        let mut conn = Conn::connect(addr)?;
        conn.send(b"SUB bench.svc 1\r\n")?;
        conn.sync()?;
        let stop = stop.clone();
        responders.push(thread::spawn(move || {
            cpu.map_or(Ok(()), |c| pin_thread(0, c))?;
            respond(conn, &stop)
        }));
    }
    let requester = {
        let addrs = addrs.to_vec();
        thread::spawn(move || {
            cpu.map_or(Ok(()), |c| pin_thread(0, c))?;
            requests_loop(&addrs, warmup, requests, blocks)
        })
    };
    let result = requester.join().map_err(|_| anyhow!("requester panicked"));
    stop.store(true, Relaxed);
    for r in responders {
        r.join().map_err(|_| anyhow!("responder panicked"))??;
    }
    let mut lat = result??;
    Ok(lat
        .iter_mut()
        .zip(addrs)
        .map(|(lat, addr)| {
            lat.sort_by(f64::total_cmp);
            if std::env::var_os("BENCH_DEBUG").is_some() {
                let q = [0.1, 0.5, 0.9, 0.99, 0.999, 1.0]
                    .map(|q| format!("{q}: {:.1}", percentile(lat, q)));
                eprintln!("  {addr} latency µs {}", q.join(", "));
            }
            vec![percentile(lat, 0.50), percentile(lat, 0.99)]
        })
        .collect())
}

fn requests_loop(
    addrs: &[String],
    warmup: usize,
    requests: usize,
    blocks: usize,
) -> Result<Vec<Vec<f64>>> {
    let mut conns = Vec::new();
    for addr in addrs {
        let mut conn = Conn::connect(addr)?;
        conn.send(b"SUB bench.inbox 1\r\n")?;
        conn.sync()?;
        for i in 0..warmup {
            round_trip(&mut conn).with_context(|| format!("{addr}: warm-up request {i}"))?;
        }
        conns.push(conn);
    }
    let mut lat = vec![Vec::with_capacity(requests); conns.len()];
    let per_block = requests.div_ceil(blocks.max(1));
    let (mut done, mut block) = (0, 0);
    while done < requests {
        let n = per_block.min(requests - done);
        for j in 0..conns.len() {
            let b = if block % 2 == 0 {
                j
            } else {
                conns.len() - 1 - j
            };
            for i in done..done + n {
                let t = round_trip(&mut conns[b])
                    .with_context(|| format!("{}: request {i}", addrs[b]))?;
                lat[b].push(t);
            }
        }
        done += n;
        block += 1;
    }
    Ok(lat)
}

/// One request and its reply; µs.
fn round_trip(conn: &mut Conn) -> Result<f64> {
    const REQUEST: &[u8] = b"PUB bench.svc bench.inbox 16\r\n0123456789abcdef\r\n";
    let t0 = Instant::now();
    conn.send(REQUEST)?;
    let mut replies = 0;
    while replies == 0 {
        if conn.fill().context("waiting for the reply")? == 0 {
            bail!("server closed the requester connection");
        }
        conn.drain(|ev| match ev {
            Event::Msg(_) => {
                replies += 1;
                Ok(())
            }
            other => other.unexpected(),
        })?;
    }
    if replies > 1 {
        bail!("{replies} replies to one request");
    }
    Ok(t0.elapsed().as_secs_f64() * 1e6)
}

/// Answer every request with a 16-byte reply, until `stop`.
fn respond(mut conn: Conn, stop: &AtomicBool) -> Result<()> {
    conn.sock
        .set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut out = Vec::new();
    while !stop.load(Relaxed) {
        if !conn.fill_or_idle("responder")? {
            continue;
        }
        conn.drain(|ev| match ev {
            Event::Msg(line) => {
                // MSG <subject> <sid> <reply> <size>
                let reply = line
                    .split(|&b| b == b' ')
                    .nth(3)
                    .filter(|_| line.split(|&b| b == b' ').count() == 5);
                let reply = reply.context("request without a reply subject")?;
                out.extend_from_slice(b"PUB ");
                out.extend_from_slice(reply);
                out.extend_from_slice(b" 16\r\nfedcba9876543210\r\n");
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

/// Pin thread `tid` (0: the calling thread) to `cpu`.
fn pin_thread(tid: i32, cpu: usize) -> Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the calls only read it.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        bail!(
            "sched_setaffinity({tid}, cpu {cpu}): {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// Pin every thread of process `pid` (threads it starts later inherit the
/// mask) to the last CPU this process may use (the same one on every call);
/// returns that CPU.
pub fn pin_process(pid: u32) -> Result<usize> {
    // SAFETY: as in pin_thread; sched_getaffinity fills the set.
    let cpu = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            bail!("sched_getaffinity: {}", std::io::Error::last_os_error());
        }
        (0..libc::CPU_SETSIZE as usize)
            .rev()
            .find(|&c| libc::CPU_ISSET(c, &set))
            .context("no CPU")?
    };
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let tid: i32 = task?.file_name().to_string_lossy().parse()?;
        pin_thread(tid, cpu)?;
    }
    Ok(cpu)
}
