//! Leaf-node pairings: every (hub, leaf) pairing of Tern and nats-server
//! (nats-server with nats-server too, so each expectation is checked against
//! the reference), and waiting for interest to cross a link.

use std::time::Duration;

use anyhow::{bail, Result};
use async_nats::Client;
use futures::StreamExt;
use tern_tests::Kind;

use super::{flush, SCENARIO_TIMEOUT};

/// Every (hub, leaf) pairing.
pub fn pairs() -> Vec<(Kind, Kind)> {
    let kinds = Kind::targets();
    let mut out = Vec::new();
    for hub in &kinds {
        for leaf in &kinds {
            out.push((*hub, *leaf));
        }
    }
    out
}

pub fn label(pair: (Kind, Kind)) -> String {
    format!("{} hub <- {} leaf", pair.0.name(), pair.1.name())
}

/// Run `scenario` for every pairing, reporting each failure by pairing.
pub async fn each_pair<F, Fut>(scenario: F)
where
    F: Fn((Kind, Kind)) -> Fut,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let mut failures = Vec::new();
    for pair in pairs() {
        let task = tokio::spawn(tokio::time::timeout(SCENARIO_TIMEOUT, scenario(pair)));
        match task.await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => failures.push(format!("[{}] {e:#}", label(pair))),
            Ok(Err(_)) => failures.push(format!("[{}] timed out", label(pair))),
            Err(e) => failures.push(format!("[{}] panicked: {e}", label(pair))),
        }
    }
    if !failures.is_empty() {
        panic!("failed:\n{}", failures.join("\n"));
    }
}

/// Publish `probe` on `subject` from `from` until `sub` receives one:
/// interest crosses the link asynchronously.
pub async fn await_path(
    from: &Client,
    subject: &str,
    sub: &mut async_nats::Subscriber,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        from.publish(subject.to_string(), "probe".into()).await?;
        flush(from).await?;
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
            // Drain probes still in flight.
            while let Ok(Some(_)) =
                tokio::time::timeout(Duration::from_millis(150), sub.next()).await
            {}
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("no path for {subject} across the link within 10 s");
        }
    }
}
