//! Prometheus `/metrics`: valid exposition format (checked with `promtool
//! check metrics` when installed; `tests/run.sh` installs it), the metric
//! names the seed's alert rules and Grafana dashboard query, and values
//! that follow the workload. Tern only: nats-server has no `/metrics`.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{ensure, Context, Result};
use common::monitoring::{workload, Monitored};
use tern_tests::{http_get, Kind};

/// Names the seed's PrometheusRule and dashboard use.
const SEED_NAMES: &[&str] = &[
    "nats_core_connections",
    "nats_core_mem_bytes",
    "nats_core_in_msgs_total",
    "nats_core_out_msgs_total",
    "nats_core_in_bytes_total",
    "nats_core_out_bytes_total",
    "nats_jetstream_stream_messages",
    "nats_jetstream_consumer_num_pending",
];

fn tern() -> Option<Monitored> {
    if !Kind::targets().contains(&Kind::Tern) {
        return None;
    }
    Monitored::start(Kind::Tern).ok()
}

/// The value of the unlabelled sample `name`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn metrics_use_the_seed_names_and_follow_the_workload() -> Result<()> {
    let Some(m) = tern() else { return Ok(()) };
    let (_a, _b) = workload(&m.broker.addr())?;
    // The third client's close is processed asynchronously.
    m.wait_for("/varz", |v| v["connections"] == 2)?;
    let r = http_get(m.http, "/metrics")?;
    ensure!(r.status == 200);
    ensure!(
        r.header("content-type") == Some("text/plain; version=0.0.4; charset=utf-8"),
        "{:?}",
        r.header("content-type")
    );
    let text = &r.body;
    for name in SEED_NAMES {
        ensure!(
            text.contains(&format!("# HELP {name} ")) && text.contains(&format!("# TYPE {name} ")),
            "{name} lacks HELP/TYPE:\n{text}"
        );
    }
    for (name, want) in [
        ("nats_core_connections", 2.0),
        ("nats_core_in_msgs_total", 4.0),
        ("nats_core_out_msgs_total", 4.0),
        ("nats_core_in_bytes_total", 11.0),
        ("nats_core_out_bytes_total", 11.0),
        ("nats_core_subscriptions", 3.0),
    ] {
        ensure!(
            sample(text, name) == Some(want),
            "{name}: {:?}",
            sample(text, name)
        );
    }
    ensure!(sample(text, "nats_core_mem_bytes").is_some_and(|v| v > 0.0));
    ensure!(text.contains("# TYPE nats_core_in_msgs_total counter"));
    ensure!(text.contains("gnatsd_varz_connections{server_id=\""));
    Ok(())
}

#[test]
fn promtool_accepts_the_metrics() -> Result<()> {
    let Some(m) = tern() else { return Ok(()) };
    let (_a, _b) = workload(&m.broker.addr())?;
    let body = http_get(m.http, "/metrics")?.body;
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "SKIPPED: promtool is not installed (tests/run.sh installs it from Debian's prometheus package)"
            );
            return Ok(());
        }
        Err(e) => return Err(e).context("run promtool"),
    };
    child
        .stdin
        .take()
        .context("promtool stdin")?
        .write_all(body.as_bytes())?;
    let out = child.wait_with_output()?;
    ensure!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- metrics ---\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
