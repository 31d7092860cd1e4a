//! The seed guide's JetStream and Key-Value programs (nats-py) against each
//! broker, with JetStream on and a fresh store each time:
//! - unchanged (tests/python/seed_jetstream.py, seed_kv.py), they misuse
//!   nats-py and fail: against Tern they must fail the same way as against
//!   nats-server, with the same error code;
//! - with the misuses fixed (…_fixed.py), their output against Tern must
//!   equal their output against nats-server, byte counts included.
//!
//! Skipped, with a message, when python3 or nats-py is not installed.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{ensure, Context, Result};
use tern_tests::{Broker, BrokerOptions, Kind};

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

fn python_ready() -> Result<(), String> {
    match Command::new("python3")
        .args(["-c", "import nats"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        Ok(_) => Err("nats-py is not installed (pip install nats-py)".into()),
        Err(e) => Err(format!("python3 not runnable: {e}")),
    }
}

/// Runs `program` against a fresh `kind` broker with JetStream; returns its
/// exit code and its output (stdout then stderr) with the script's path
/// made relative and error descriptions reduced to their codes (the Go and
/// Rust JSON parsers word the same error differently).
fn run(kind: Kind, program: &str) -> Result<(i32, String)> {
    let broker = Broker::start_with(
        kind,
        BrokerOptions {
            args: vec!["-js".into(), "-sd".into(), "store".into()],
            ..Default::default()
        },
    )?;
    let path = script(program);
    let out = Command::new("python3")
        .arg(&path)
        .arg(broker.url())
        .output()
        .with_context(|| format!("run {program}"))?;
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

fn compare(program: &str) -> Result<(i32, String)> {
    let (ns_code, ns_out) = run(Kind::NatsServer, program)?;
    let (tern_code, tern_out) = run(Kind::Tern, program)?;
    ensure!(
        (ns_code, &ns_out) == (tern_code, &tern_out),
        "{program} differs\n--- nats-server (exit {ns_code})\n{ns_out}\n--- tern (exit {tern_code})\n{tern_out}"
    );
    Ok((tern_code, tern_out))
}

fn skip() -> bool {
    if let Err(why) = python_ready() {
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
    let (code, out) = compare("seed_jetstream.py").expect("jetstream program");
    assert_eq!(code, 1, "{out}");
    assert!(out.ends_with("code=400 err_code=10025"), "{out}");
    let (code, out) = compare("seed_kv.py").expect("kv program");
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
    let (code, out) = compare("seed_jetstream_fixed.py").expect("jetstream program");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Messages: 10\nBytes: 1520\n"), "{out}");
    let (code, out) = compare("seed_kv_fixed.py").expect("kv program");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Session keys: ['session-abc123']"), "{out}");
}
