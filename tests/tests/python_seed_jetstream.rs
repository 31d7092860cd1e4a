//! The seed guide's JetStream and Key-Value programs (nats-py) against each
//! broker, with JetStream on and a fresh store each time:
//! - unchanged (tests/python/seed_jetstream.py, seed_kv.py), they misuse
//!   nats-py and fail: against Tern they must fail the same way as against
//!   nats-server, with the same error code;
//! - with the misuses fixed (the test writes the fixed copies, see
//!   [`FIXES`]), their output against Tern must equal their output against
//!   nats-server, byte counts included.
//!
//! Skipped, with a message, when python3 or nats-py is not installed.

mod common;

use common::client_programs::start_jetstream;
use common::python::{python_ready, script};

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context, Result};
use tern_tests::Kind;

/// The seed programs' misuses of nats-py and their fixes: (program, as
/// written, fixed). Each must match exactly once.
const FIXES: &[(&str, &str, &str)] = &[
    (
        "seed_jetstream.py",
        "max_age=24 * 3600 * 1000000000,  # 24 hours in nanoseconds",
        "max_age=24 * 3600,  # Tern test: fixed: nats-py takes seconds",
    ),
    (
        "seed_jetstream.py",
        "max_age=7 * 24 * 3600 * 1000000000  # 7 days",
        "max_age=7 * 24 * 3600  # Tern test: fixed: nats-py takes seconds",
    ),
    (
        "seed_jetstream.py",
        "consumer = await self.js.add_consumer(**config)",
        "consumer = await self.js.add_consumer(stream_name, **config[\"config\"])  # Tern test: fixed",
    ),
    (
        "seed_kv.py",
        "config[\"max_age\"] = max_age",
        "config[\"ttl\"] = max_age  # Tern test: fixed: the KV option is ttl",
    ),
    (
        "seed_kv.py",
        "async for key in bucket.keys():",
        "for key in await bucket.keys():  # Tern test: fixed: keys() returns a list",
    ),
];

/// Writes `program` with its [`FIXES`] applied into `dir`.
fn fixed(program: &str, dir: &Path) -> Result<PathBuf> {
    let mut text = std::fs::read_to_string(script(program))?;
    for (_, wrong, right) in FIXES.iter().filter(|f| f.0 == program) {
        ensure!(
            text.matches(wrong).count() == 1,
            "{program}: expected {wrong:?} exactly once"
        );
        text = text.replace(wrong, right);
    }
    let path = dir.join(program);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Runs `program` against a fresh `kind` broker with JetStream; returns its
/// exit code and its output (stdout then stderr) with the script's path
/// made relative and error descriptions reduced to their codes (the Go and
/// Rust JSON parsers word the same error differently).
fn run(kind: Kind, path: &Path) -> Result<(i32, String)> {
    let broker = start_jetstream(kind)?;
    let out = Command::new("python3")
        .arg(path)
        .arg(broker.url())
        .output()
        .with_context(|| format!("run {}", path.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = path
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let normalized: Vec<String> = text
        .replace(&dir, "<DIR>")
        .lines()
        .map(|l| match l.find(" description=") {
            Some(i) if l.contains("err_code=") => l[..i].to_string(),
            _ => l.to_string(),
        })
        .collect();
    Ok((out.status.code().unwrap_or(-1), normalized.join("\n")))
}

fn compare(program: &str, fix: bool) -> Result<(i32, String)> {
    let dir = tempfile::tempdir()?;
    let path = if fix {
        fixed(program, dir.path())?
    } else {
        script(program)
    };
    let (ns_code, ns_out) = run(Kind::NatsServer, &path)?;
    let (tern_code, tern_out) = run(Kind::Tern, &path)?;
    ensure!(
        (ns_code, &ns_out) == (tern_code, &tern_out),
        "{program} differs\n--- nats-server (exit {ns_code})\n{ns_out}\n--- tern (exit {tern_code})\n{tern_out}"
    );
    Ok((tern_code, tern_out))
}

fn skip() -> bool {
    if let Err(why) = python_ready("nats", "nats-py") {
        eprintln!("skipped: {why}");
        return true;
    }
    if Kind::targets().len() < 2 {
        eprintln!("skipped: needs both brokers to compare");
        return true;
    }
    false
}

#[test]
fn unchanged_programs_fail_as_against_nats_server() {
    if skip() {
        return;
    }
    let (code, out) = compare("seed_jetstream.py", false).expect("jetstream program");
    assert_eq!(code, 1, "{out}");
    assert!(out.ends_with("code=400 err_code=10025"), "{out}");
    let (code, out) = compare("seed_kv.py", false).expect("kv program");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("unexpected keyword argument 'max_age'"),
        "{out}"
    );
}

#[test]
fn fixed_programs_print_the_same() {
    if skip() {
        return;
    }
    let (code, out) = compare("seed_jetstream.py", true).expect("jetstream program");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Messages: 10\nBytes: 1520\n"), "{out}");
    let (code, out) = compare("seed_kv.py", true).expect("kv program");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Session keys: ['session-abc123']"), "{out}");
}
