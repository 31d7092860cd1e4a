//! The seed guide's Python programs (tests/python/seed_subscriber.py and
//! seed_publisher.py, nats-py) against each broker: subscriber in the
//! background, publisher run to completion, subscriber stopped with SIGTERM.
//! Both programs must print the same thing against Tern as against
//! nats-server (after normalizing the port and `datetime.now()` timestamps).
//!
//! Skipped, with a message, when python3 or nats-py is not installed.

mod common;

use common::python::{python_ready, script};

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use common::*;
use tern_tests::{Broker, Kind};

/// What the publisher prints, normalized, against nats-server 2.15.
const PUBLISHER_EXPECTED: &str = r#"Connected to NATS at 127.0.0.1:<PORT>
Published to user.login: {"user_id": 123, "timestamp": "<TIME>", "ip_address": "192.168.1.1"}
Published to user.logout: {"user_id": 123, "session_duration": 3600}
Math service response: {"result": 8}
Published to events.click: {"button": "login", "user": 123}
Published to events.view: {"page": "/dashboard", "user": 123}
Published to events.purchase: {"item": "premium", "user": 123}
Disconnected from NATS
Connection to NATS closed
"#;

/// What the subscriber prints, normalized, against nats-server 2.15.
/// Compared as a sorted list of lines: nats-py runs each subscription's
/// callback in its own task, so lines from different subscriptions may
/// interleave differently from run to run.
const SUBSCRIBER_EXPECTED: &str = r#"Connected to NATS at 127.0.0.1:<PORT>
Subscribed to user.login
Subscribed to user.logout
Subscribed to events.* (queue: event-processors)
Subscribed to requests on math.*
Subscribed to monitoring.>
User 123 logged in at <TIME>
Received on user.logout: {'user_id': 123, 'session_duration': 3600}
Received on events.click: {'button': 'login', 'user': 123}
Received on events.view: {'page': '/dashboard', 'user': 123}
Received on events.purchase: {'item': 'premium', 'user': 123}
Shutting down subscriber...
Disconnected from NATS
Connection to NATS closed
"#;

/// Kills the child (by its PID, through `Child`) if the test bails early.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_child(child: &mut Child, timeout: Duration) -> Result<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait()? {
            return Ok(s);
        }
        if Instant::now() > deadline {
            bail!("still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Collects lines from a child's stdout on a thread.
fn line_reader(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    rx
}

/// Read lines into `lines` until one equals `wanted`.
fn wait_for_line(
    rx: &mpsc::Receiver<String>,
    lines: &mut Vec<String>,
    wanted: &str,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => {
                let done = l == wanted;
                lines.push(l);
                if done {
                    return Ok(());
                }
            }
            Err(_) => bail!(
                "no line {wanted:?} within {timeout:?}; so far:\n{}",
                lines.join("\n")
            ),
        }
    }
}

/// `2026-11-29T08:15:15.087453` → `<TIME>`; the broker port → `<PORT>`.
fn normalize(text: &str, port: u16) -> String {
    let text = text.replace(&format!(":{port}"), ":<PORT>");
    let b = text.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd";
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let matches = i + shape.len() <= b.len()
            && shape.iter().zip(&b[i..i + shape.len()]).all(|(s, c)| {
                if *s == b'd' {
                    c.is_ascii_digit()
                } else {
                    s == c
                }
            });
        if matches {
            i += shape.len();
            if i < b.len() && b[i] == b'.' {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            out.push_str("<TIME>");
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_string).collect();
    v.sort();
    v
}

struct Transcript {
    publisher: String,
    subscriber: String,
}

fn run_seed(kind: Kind) -> Result<Transcript> {
    let b = Broker::start(kind)?;
    let url = b.url();
    let mut sub = Proc(
        Command::new("python3")
            .arg("-u")
            .arg(script("seed_subscriber.py"))
            .arg(&url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("start seed_subscriber.py")?,
    );
    let rx = line_reader(&mut sub.0);
    let mut sub_lines = Vec::new();
    wait_for_line(
        &rx,
        &mut sub_lines,
        "Subscribed to monitoring.>",
        Duration::from_secs(20),
    )?;

    let mut publ = Proc(
        Command::new("python3")
            .arg("-u")
            .arg(script("seed_publisher.py"))
            .arg(&url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("start seed_publisher.py")?,
    );
    let pub_rx = line_reader(&mut publ.0);
    let status = wait_child(&mut publ.0, Duration::from_secs(30)).context("seed_publisher.py")?;
    let pub_lines: Vec<String> =
        std::iter::from_fn(|| pub_rx.recv_timeout(Duration::from_secs(2)).ok()).collect();
    let mut pub_err = String::new();
    if let Some(mut e) = publ.0.stderr.take() {
        std::io::Read::read_to_string(&mut e, &mut pub_err)?;
    }
    ensure!(
        status.success(),
        "seed_publisher.py exited with {status}; stderr:\n{pub_err}"
    );

    wait_for_line(
        &rx,
        &mut sub_lines,
        "Received on events.purchase: {'item': 'premium', 'user': 123}",
        Duration::from_secs(10),
    )?;
    let rc = unsafe { libc::kill(sub.0.id() as i32, libc::SIGTERM) };
    ensure!(rc == 0, "kill(SIGTERM) failed");
    let status = wait_child(&mut sub.0, Duration::from_secs(10))
        .context("seed_subscriber.py after SIGTERM")?;
    sub_lines.extend(std::iter::from_fn(|| {
        rx.recv_timeout(Duration::from_secs(2)).ok()
    }));
    let mut sub_err = String::new();
    if let Some(mut e) = sub.0.stderr.take() {
        std::io::Read::read_to_string(&mut e, &mut sub_err)?;
    }
    ensure!(
        status.success(),
        "seed_subscriber.py exited with {status}; stderr:\n{sub_err}"
    );

    Ok(Transcript {
        publisher: normalize(&(pub_lines.join("\n") + "\n"), b.port),
        subscriber: normalize(&(sub_lines.join("\n") + "\n"), b.port),
    })
}

#[test]
fn seed_programs_behave_the_same() {
    if let Err(why) = python_ready("nats", "nats-py") {
        eprintln!("SKIPPED python_seed: {why}");
        return;
    }
    let transcripts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let t = transcripts.clone();
    each_target_blocking(move |kind| {
        let tr = run_seed(kind)?;
        ensure!(
            tr.publisher == PUBLISHER_EXPECTED,
            "publisher output differs from nats-server's:\n--- got\n{}--- expected\n{}",
            tr.publisher,
            PUBLISHER_EXPECTED
        );
        ensure!(
            sorted_lines(&tr.subscriber) == sorted_lines(SUBSCRIBER_EXPECTED),
            "subscriber output differs from nats-server's:\n--- got\n{}--- expected\n{}",
            tr.subscriber,
            SUBSCRIBER_EXPECTED
        );
        t.lock().unwrap().push((kind, tr));
        Ok(())
    });
    // With both brokers run, their transcripts also match each other.
    let all = transcripts.lock().unwrap();
    if let [(k1, a), (k2, b)] = &all[..] {
        assert_eq!(
            a.publisher,
            b.publisher,
            "publisher: {} vs {}",
            k1.name(),
            k2.name()
        );
        assert_eq!(
            sorted_lines(&a.subscriber),
            sorted_lines(&b.subscriber),
            "subscriber: {} vs {}",
            k1.name(),
            k2.name()
        );
    }
}
