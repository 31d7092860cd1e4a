//! The seed guide's health checker (tests/python/seed_health_check.py,
//! aiohttp against the monitoring port) run against Tern and nats-server,
//! each started with `-m` and carrying the same workload (two open
//! connections, four messages in and out). It must report healthy against
//! both, and its three reports (server health, streams, full report) must
//! be identical once the values that differ between any two servers are
//! taken out: timestamps, uptime, memory, CPU and the version string.
//!
//! Skipped, with a message, when python3 or aiohttp is not installed.

mod common;

use common::python::python_ready;

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use common::monitoring::{workload, Monitored};
use serde_json::Value;
use tern_tests::{nats_server_binary, Kind};

/// The checker's three printed reports, parsed.
struct Reports {
    server: Value,
    streams: Value,
    full: Value,
}

/// Start `kind` with monitoring, put the workload on it, run the checker.
fn run_checker(kind: Kind) -> Result<Reports> {
    let m = Monitored::start(kind)?;
    let (_a, _b) = workload(&m.broker.addr())?;
    // The workload's third client has gone: wait until the server agrees.
    m.wait_for("/varz", |v| v["connections"] == 2)?;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join("seed_health_check.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(format!("http://127.0.0.1:{}", m.http))
        .output()
        .context("run seed_health_check.py")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "seed_health_check.py against {} exited with {}:\n{stdout}\n{}",
        kind.name(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let parse = |text: &str| -> Result<Value> {
        serde_json::from_str(text.trim())
            .with_context(|| format!("{}: not JSON: {text}", kind.name()))
    };
    let rest = stdout
        .strip_prefix("Server Health:\n")
        .context("no `Server Health:` heading")?;
    let (server, rest) = rest
        .split_once("\n\nStreams Health:\n")
        .context("no `Streams Health:` heading")?;
    let (streams, full) = rest
        .split_once("\n\nFull Health Report:\n")
        .context("no `Full Health Report:` heading")?;
    Ok(Reports {
        server: parse(server)?,
        streams: parse(streams)?,
        full: parse(full)?,
    })
}

/// The report with the fields that differ between any two servers (or two
/// runs) replaced by their JSON type, so only their presence and type count.
fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match k.as_str() {
                        "timestamp" | "uptime" | "version" | "mem" | "cpu" => {
                            Value::String(format!("<{}>", type_name(v)))
                        }
                        _ => normalized(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// What "healthy" means for this workload, whichever server it is.
fn check_healthy(kind: Kind, r: &Reports) -> Result<()> {
    let name = kind.name();
    ensure!(
        r.full["summary"]["healthy"] == true,
        "{name}: the checker reports unhealthy: {:#}",
        r.full
    );
    ensure!(
        r.server.get("error").is_none() && r.streams.get("error").is_none(),
        "{name}: the checker hit an error: {:#} {:#}",
        r.server,
        r.streams
    );
    let s = &r.server["server"];
    ensure!(s["version"].is_string(), "{name}: version {}", s["version"]);
    ensure!(s["uptime"].is_string(), "{name}: uptime {}", s["uptime"]);
    ensure!(
        s["mem"].as_u64().is_some_and(|m| m > 0),
        "{name}: mem {}",
        s["mem"]
    );
    ensure!(s["cpu"].is_number(), "{name}: cpu {}", s["cpu"]);
    ensure!(
        s["connections"] == 2 && s["in_msgs"] == 4 && s["out_msgs"] == 4,
        "{name}: counters {s:#}"
    );
    ensure!(
        s["in_bytes"] == 11 && s["out_bytes"] == 11,
        "{name}: bytes {s:#}"
    );
    ensure!(
        r.server["connections"]["total"] == 2,
        "{name}: /connz total {:#}",
        r.server["connections"]
    );
    ensure!(
        r.full["summary"]["total_connections"] == 2,
        "{name}: summary {:#}",
        r.full["summary"]
    );
    ensure!(
        r.streams == Value::Array(vec![]),
        "{name}: streams {:#}",
        r.streams
    );
    Ok(())
}

#[test]
fn seed_health_checker_reports_healthy_like_nats_server() -> Result<()> {
    if let Err(why) = python_ready("aiohttp", "aiohttp") {
        eprintln!("SKIPPED: {why}");
        return Ok(());
    }
    let tern = run_checker(Kind::Tern)?;
    check_healthy(Kind::Tern, &tern)?;
    if nats_server_binary().is_err() || !Kind::targets().contains(&Kind::NatsServer) {
        eprintln!("nats-server not available: checked Tern alone, compared with nothing");
        return Ok(());
    }
    let ns = run_checker(Kind::NatsServer)?;
    check_healthy(Kind::NatsServer, &ns)?;
    for (what, ours, theirs) in [
        ("Server Health", &tern.server, &ns.server),
        ("Streams Health", &tern.streams, &ns.streams),
        ("Full Health Report", &tern.full, &ns.full),
    ] {
        let (ours, theirs) = (normalized(ours), normalized(theirs));
        if ours != theirs {
            bail!("{what} differs:\ntern: {ours:#}\nnats-server: {theirs:#}");
        }
    }
    Ok(())
}
