//! Helpers shared by the integration tests: run a scenario against every
//! target broker (collecting each target's failure instead of stopping at the
//! first), async-nats connections with timeouts, and raw protocol clients.
#![allow(dead_code)]

pub mod client_programs;
pub mod jetstream;
pub mod leaf;
pub mod monitoring;
pub mod node;
pub mod plugins;
pub mod python;
pub mod ws;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use async_nats::{Client, ConnectOptions, Message, Subscriber};
use futures::StreamExt;
use tern_tests::{Broker, BrokerOptions, Kind, RawClient};

/// Upper bound for one target's run of one scenario.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait for something that should happen "now".
pub const WAIT: Duration = Duration::from_secs(5);
/// How long to watch for something that must not happen.
pub const QUIET: Duration = Duration::from_millis(300);

/// The CONNECT line most raw tests use: explicit `verbose` and `pedantic`
/// (nats-server defaults both to true when a client leaves them out).
pub const CONNECT_PLAIN: &str = r#"{"verbose":false,"pedantic":false}"#;

/// Run an async scenario against every target (`Kind::targets()`), one after
/// another, each in its own task with a timeout. Panics at the end listing
/// every target that failed, so a Tern failure never hides whether
/// nats-server agrees.
pub async fn each_target<F, Fut>(scenario: F)
where
    F: Fn(Kind) -> Fut,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let mut failures = Vec::new();
    for kind in Kind::targets() {
        let task = tokio::spawn(tokio::time::timeout(SCENARIO_TIMEOUT, scenario(kind)));
        match task.await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => failures.push(format!("[{}] {e:#}", kind.name())),
            Ok(Err(_)) => failures.push(format!(
                "[{}] timed out after {SCENARIO_TIMEOUT:?}",
                kind.name()
            )),
            Err(e) => failures.push(format!("[{}] panicked: {}", kind.name(), panic_text(e))),
        }
    }
    if !failures.is_empty() {
        panic!("failed against:\n{}", failures.join("\n"));
    }
}

fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(non-string panic)".into()),
        Err(e) => e.to_string(),
    }
}

/// The blocking twin of [`each_target`] for raw-socket scenarios: each target
/// runs on its own thread with a timeout.
pub fn each_target_blocking<F>(scenario: F)
where
    F: Fn(Kind) -> Result<()> + Send + Sync + 'static,
{
    let scenario = Arc::new(scenario);
    let mut failures = Vec::new();
    for kind in Kind::targets() {
        let (tx, rx) = std::sync::mpsc::channel();
        let s = scenario.clone();
        std::thread::spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s(kind)));
            let _ = tx.send(r);
        });
        match rx.recv_timeout(SCENARIO_TIMEOUT) {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => failures.push(format!("[{}] {e:#}", kind.name())),
            Ok(Err(p)) => {
                let text = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "(non-string panic)".into());
                failures.push(format!("[{}] panicked: {text}", kind.name()))
            }
            Err(_) => failures.push(format!(
                "[{}] timed out after {SCENARIO_TIMEOUT:?}",
                kind.name()
            )),
        }
    }
    if !failures.is_empty() {
        panic!("failed against:\n{}", failures.join("\n"));
    }
}

/// Start `kind` with a config file (nats-server `.conf` syntax).
pub fn start_with_config(kind: Kind, config: &str) -> Result<Broker> {
    Broker::start_with(
        kind,
        BrokerOptions {
            config: Some(config.to_string()),
            ..Default::default()
        },
    )
    .with_context(|| format!("start {} with config:\n{config}", kind.name()))
}

/// `tern -t` / `nats-server -t` on a config: the exit status and output.
pub fn check_config(kind: Kind, config: &str) -> Result<(bool, String)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("checked.conf");
    std::fs::write(&path, config)?;
    let bin = match kind {
        Kind::Tern => tern_tests::tern_binary()?,
        Kind::NatsServer => tern_tests::nats_server_binary()?,
    };
    let out = std::process::Command::new(bin)
        .arg("-t")
        .arg("-c")
        .arg(&path)
        .output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

/// Every `(config, reason)` must be refused by `-t` on every target with
/// `reason` in the output; panics listing each case that was not.
pub fn expect_refused(cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for kind in Kind::targets() {
        for (config, reason) in cases {
            match check_config(kind, config) {
                Ok((false, text)) if text.contains(reason) => {}
                Ok((ok, text)) => failures.push(format!(
                    "[{}] {config}: success={ok}, expected {reason:?} in:\n{text}",
                    kind.name()
                )),
                Err(e) => failures.push(format!("[{}] {config}: {e:#}", kind.name())),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Start `kind` with extra command-line arguments.
pub fn start_with_args(kind: Kind, args: &[&str]) -> Result<Broker> {
    Broker::start_with(
        kind,
        BrokerOptions {
            args: args.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
    )
    .with_context(|| format!("start {} with args {args:?}", kind.name()))
}

/// async-nats connection with a bounded connect time and no retries of the
/// initial connect.
pub async fn connect(url: &str) -> Result<Client> {
    connect_with(url, ConnectOptions::new()).await
}

pub async fn connect_with(url: &str, opts: ConnectOptions) -> Result<Client> {
    let client = tokio::time::timeout(WAIT * 2, opts.connection_timeout(WAIT).connect(url))
        .await
        .context("connect timed out")?
        .with_context(|| format!("connect to {url}"))?;
    Ok(client)
}

/// Subscribe and make sure the server has registered the subscription
/// (a PING/PONG round trip) before returning.
pub async fn subscribe(client: &Client, subject: &str) -> Result<Subscriber> {
    let sub = client.subscribe(subject.to_string()).await?;
    flush(client).await?;
    Ok(sub)
}

pub async fn queue_subscribe(client: &Client, subject: &str, queue: &str) -> Result<Subscriber> {
    let sub = client
        .queue_subscribe(subject.to_string(), queue.to_string())
        .await?;
    flush(client).await?;
    Ok(sub)
}

/// A real round trip: a request nobody serves comes back as no-responders
/// only after the server has processed everything this client sent before
/// it (`flush` only empties the client's socket buffer, it does not wait for
/// the server).
#[allow(dead_code)]
pub async fn round_trip(client: &Client) -> Result<()> {
    tern_tests::burst::round_trip(client).await
}

pub async fn flush(client: &Client) -> Result<()> {
    tokio::time::timeout(WAIT, client.flush())
        .await
        .context("flush timed out")??;
    Ok(())
}

/// The next message, or an error after `WAIT`.
pub async fn next_msg(sub: &mut Subscriber) -> Result<Message> {
    match tokio::time::timeout(WAIT, sub.next()).await {
        Ok(Some(m)) => Ok(m),
        Ok(None) => bail!("subscription ended"),
        Err(_) => bail!("no message within {WAIT:?}"),
    }
}

/// Fails if a message arrives within `QUIET`.
pub async fn expect_no_msg(sub: &mut Subscriber) -> Result<()> {
    match tokio::time::timeout(QUIET, sub.next()).await {
        Ok(Some(m)) => bail!("unexpected message on {}: {:?}", m.subject, m.payload),
        _ => Ok(()),
    }
}

/// A raw client that has sent `CONNECT <json>` and seen the server answer a
/// PING, so everything it sends next is processed after CONNECT. Any `+OK`
/// (verbose) or async `INFO` before the PONG is skipped.
pub fn raw(addr: &str, connect_json: &str) -> Result<RawClient> {
    let mut c = RawClient::connect(addr)?;
    c.send(format!("CONNECT {connect_json}\r\nPING\r\n").as_bytes())?;
    let got = c.read_until_suffix(b"PONG\r\n", WAIT)?;
    let text = String::from_utf8_lossy(&got);
    for line in text.split("\r\n") {
        if !(line.is_empty() || line == "+OK" || line == "PONG" || line.starts_with("INFO ")) {
            bail!("unexpected reply to CONNECT {connect_json}: {text:?}");
        }
    }
    Ok(c)
}

/// Send `PING` and return everything the server sent up to and including
/// the `PONG` — i.e. all replies to what was sent before.
pub fn sync(c: &mut RawClient) -> Result<String> {
    c.send(b"PING\r\n")?;
    let got = c.read_until_suffix(b"PONG\r\n", WAIT)?;
    Ok(String::from_utf8_lossy(&got).into_owned())
}

/// The `INFO` JSON object from an `INFO {...}` line.
pub fn info_json(line: &str) -> Result<serde_json::Value> {
    let json = line
        .trim_end()
        .strip_prefix("INFO ")
        .with_context(|| format!("not an INFO line: {line:?}"))?;
    Ok(serde_json::from_str(json)?)
}
