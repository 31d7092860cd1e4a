//! Plugins reload on SIGHUP without dropping connections: under steady
//! traffic, the messages on subjects no plugin touches arrive exactly once
//! and in order across several reloads, while the plugin-bound subject
//! switches behaviour with each reload. A reload whose required plugin
//! cannot load keeps the plugins in force.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use bytes::Bytes;
use common::plugins::{plugin_entry, plugins_config};
use common::*;
use futures::StreamExt;
use tern_tests::{Broker, Kind};

fn probe_config(mode: &str) -> Result<String> {
    let entry = plugin_entry(
        "probe",
        &format!(r#"subjects: ["p.>"], config: {{ mode: {mode} }}"#),
    )?;
    Ok(plugins_config(&[entry], ""))
}

/// Rewrite the broker's config file and SIGHUP it; wait until it has
/// reloaded (or failed to) `n` times in all.
async fn reload(broker: &Broker, config: &str, n: usize) -> Result<()> {
    std::fs::write(broker.dir().join("broker.conf"), config)?;
    broker.signal(libc::SIGHUP)?;
    let deadline = Instant::now() + WAIT;
    loop {
        let log = broker.stderr();
        let done = log.matches("Reloaded server configuration").count()
            + log.matches("Reload failed").count();
        if done >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("reload {n} never finished:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Where a message on `p.x` ends up now.
async fn p_goes_to(
    client: &async_nats::Client,
    sub: &mut async_nats::Subscriber,
) -> Result<String> {
    client.publish("p.x", Bytes::from("probe")).await?;
    flush(client).await?;
    Ok(next_msg(sub).await?.subject.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_traffic_loses_and_duplicates_nothing() -> Result<()> {
    let prefix = probe_config("prefix")?;
    let keep = probe_config("keep")?;
    let broker = start_with_config(Kind::Tern, &prefix)?;
    let url = broker.url();
    let client = connect(&url).await?;
    let mut bound = client.subscribe("p.>").await?;
    let mut rewritten = client.subscribe("probe.>").await?;
    flush(&client).await?;
    client.publish("p.x", Bytes::from("probe")).await?;
    flush(&client).await?;
    ensure!(next_msg(&mut rewritten).await?.subject.as_str() == "probe.p.x");

    let receiver = connect(&url).await?;
    let mut steady = receiver.subscribe("steady.>").await?;
    flush(&receiver).await?;
    const N: u64 = 20_000;
    let publisher = connect(&url).await?;
    let sending = tokio::spawn(async move {
        for i in 0..N {
            publisher
                .publish(format!("steady.{}", i % 10), Bytes::from(i.to_string()))
                .await?;
            if i % 500 == 0 {
                // Pace the sender so the reloads land in the middle.
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        publisher.flush().await?;
        anyhow::Ok(())
    });
    let counting = tokio::spawn(async move {
        let mut next = 0u64;
        while next < N {
            let m = tokio::time::timeout(WAIT, steady.next())
                .await
                .map_err(|_| anyhow::anyhow!("stalled after {next} messages"))?
                .ok_or_else(|| anyhow::anyhow!("subscription ended after {next}"))?;
            let got: u64 = std::str::from_utf8(&m.payload)?.parse()?;
            ensure!(got == next, "expected message {next}, got {got}");
            next += 1;
        }
        // Nothing after the last one: no duplicates.
        if let Ok(Some(m)) = tokio::time::timeout(QUIET, steady.next()).await {
            bail!("extra message after all {N}: {:?}", m.payload);
        }
        anyhow::Ok(next)
    });

    for round in 1..=6 {
        let config = if round % 2 == 1 { &keep } else { &prefix };
        reload(&broker, config, round).await?;
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    sending.await??;
    let received = counting.await??;
    ensure!(received == N);

    // The last reload put `prefix` back; then switch to `keep` once more.
    let to = p_goes_to(&client, &mut rewritten)
        .await
        .map_err(|e| e.context(broker.stderr()))?;
    ensure!(to == "probe.p.x", "{to}");
    reload(&broker, &keep, 7).await?;
    ensure!(p_goes_to(&client, &mut bound).await? == "p.x");
    let log = broker.stderr();
    ensure!(!log.contains("[ERR]"), "{log}");
    Ok(())
}

#[tokio::test]
async fn failed_reload_keeps_the_plugins_in_force() -> Result<()> {
    let broker = start_with_config(Kind::Tern, &probe_config("prefix")?)?;
    let client = connect(&broker.url()).await?;
    let mut rewritten = client.subscribe("probe.>").await?;
    flush(&client).await?;
    let broken = plugins_config(
        &["  { path: \"/nonexistent/gone.wasm\", subjects: [\">\"] }\n".to_string()],
        "",
    );
    reload(&broker, &broken, 1).await?;
    let log = broker.stderr();
    ensure!(
        log.contains("Reload failed") && log.contains("cannot read /nonexistent/gone.wasm"),
        "{log}"
    );
    ensure!(p_goes_to(&client, &mut rewritten).await? == "probe.p.x");
    Ok(())
}

/// Replacing a plugin's file is enough: the broker notices (it polls the
/// files every second) and reloads, without a signal.
#[tokio::test]
async fn changed_plugin_file_reloads_without_a_signal() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("plugin.wasm");
    std::fs::copy(tern_tests::plugin_component("probe")?, &file)?;
    let entry = format!(
        "  {{ path: \"{}\", subjects: [\"devices.>\"], timeout: \"500ms\", config: {{ mode: prefix, site: hq }} }}\n",
        file.display()
    );
    let broker = start_with_config(Kind::Tern, &plugins_config(&[entry], ""))?;
    let client = connect(&broker.url()).await?;
    let mut all = client.subscribe(">").await?;
    flush(&client).await?;
    client
        .publish("devices.d1.telemetry", Bytes::from("1"))
        .await?;
    flush(&client).await?;
    let m = next_msg(&mut all).await?;
    ensure!(m.subject.as_str() == "probe.devices.d1.telemetry", "{m:?}");

    // Swap in another component atomically (write aside, rename over).
    let aside = dir.path().join("plugin.wasm.new");
    std::fs::copy(tern_tests::plugin_component("iot-rewriter")?, &aside)?;
    std::fs::rename(&aside, &file)?;
    let deadline = Instant::now() + WAIT;
    while !broker.stderr().contains("Reloaded plugins") {
        if Instant::now() > deadline {
            bail!("no reload after the file changed:\n{}", broker.stderr());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client
        .publish("devices.d1.telemetry", Bytes::from("2"))
        .await?;
    flush(&client).await?;
    let m = next_msg(&mut all).await?;
    ensure!(m.subject.as_str() == "site.hq.telemetry.d1", "{m:?}");
    Ok(())
}
