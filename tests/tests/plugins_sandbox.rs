//! Hostile plugins cannot hurt the broker: an endless loop is stopped at
//! its deadline, a memory bomb at its cap, a trap and an oversized answer
//! fail one call each with the configured policy, a repeat offender is
//! quarantined, a component built for another WIT version is refused with
//! a message that says so — and other clients are served throughout.
//! The misbehaving plugin is `plugins/probe` in its various modes.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use bytes::Bytes;
use common::plugins::{plugin_entry, plugins_config};
use common::*;
use tern_tests::{Broker, BrokerOptions, Kind};

/// A broker with the probe plugin in `mode` bound to `hostile.>`.
fn hostile_broker(mode: &str, extra: &str) -> Result<Broker> {
    hostile_broker_with(mode, extra, "")
}

fn hostile_broker_with(mode: &str, extra: &str, rest: &str) -> Result<Broker> {
    let entry = plugin_entry(
        "probe",
        &format!(r#"subjects: ["hostile.>"], config: {{ mode: {mode}, count: 1000 }} {extra}"#),
    )?;
    start_with_config(Kind::Tern, &plugins_config(&[entry], rest))
}

/// Wait until the broker's log contains `text`.
async fn wait_log(broker: &Broker, text: &str) -> Result<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = broker.stderr();
        if log.contains(text) {
            return Ok(log);
        }
        if Instant::now() > deadline {
            bail!("log never said {text:?}:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The `stopped after X` times of timed-out calls in the log, in ms.
fn stop_times_ms(log: &str) -> Vec<f64> {
    log.lines()
        .filter_map(|l| l.split("(stopped after ").nth(1))
        .filter_map(|rest| rest.split(')').next())
        .filter_map(|t| {
            let (num, unit) = t.split_at(t.find(|c: char| c.is_alphabetic() || c == 'µ')?);
            let v: f64 = num.parse().ok()?;
            Some(match unit {
                "s" => v * 1000.0,
                "ms" => v,
                "µs" => v / 1000.0,
                "ns" => v / 1e6,
                _ => return None,
            })
        })
        .collect()
}

#[tokio::test]
async fn endless_loop_is_stopped_at_its_deadline() -> Result<()> {
    let broker = hostile_broker("loop", r#", timeout: "5ms", quarantine_after: 1000"#)?;
    let client = connect(&broker.url()).await?;
    let mut marks = subscribe(&client, "mark").await?;
    let mut hostile = subscribe(&client, "hostile.>").await?;
    const LOOPS: usize = 20;
    let started = Instant::now();
    for _ in 0..LOOPS {
        client.publish("hostile.spin", Bytes::from("x")).await?;
    }
    client.publish("mark", Bytes::from("after")).await?;
    flush(&client).await?;
    next_msg(&mut marks).await?;
    let total = started.elapsed();
    // The drop policy (the default) delivered none of the looping calls.
    expect_no_msg(&mut hostile).await?;

    let log = wait_log(&broker, "ran past its 5ms deadline").await?;
    let stops = stop_times_ms(&log);
    ensure!(!stops.is_empty(), "no stop times logged:\n{log}");
    // The deadline is 5 ms of CPU, and at most 10 ms of wall time when the
    // loop's thread does not get a core (see broker/src/plugin/host.rs).
    // The typical call must stop within that; a single one may be late by
    // however long this machine starves the broker process (other builds
    // and tests share it; 34 ms has been seen under a full parallel test
    // run), which is not the sandbox's doing, but every one must stop.
    let mut sorted = stops.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let worst = sorted[sorted.len() - 1];
    ensure!(
        median <= 10.0 && worst <= 100.0,
        "looping calls ran {stops:?} ms (median {median:.2}, limit 10 ms)"
    );
    // End to end, including a fresh instance after each failure.
    let per_call = total.as_secs_f64() * 1000.0 / LOOPS as f64;
    ensure!(
        per_call <= 25.0,
        "{LOOPS} looping messages took {total:?} ({per_call:.1} ms each)"
    );
    println!(
        "looping calls stopped after {stops:?} ms (median {median:.2}); {per_call:.2} ms per message end to end"
    );
    Ok(())
}

#[tokio::test]
async fn memory_bomb_is_capped() -> Result<()> {
    let broker = hostile_broker(
        "bomb",
        r#", max_memory: 16MB, timeout: "2s", quarantine_after: 1000"#,
    )?;
    let client = connect(&broker.url()).await?;
    let mut ok = subscribe(&client, "calm").await?;
    let before = broker.rss_kib()?;
    for _ in 0..10 {
        client.publish("hostile.bomb", Bytes::from("x")).await?;
    }
    client.publish("calm", Bytes::from("still here")).await?;
    flush(&client).await?;
    ensure!(next_msg(&mut ok).await?.payload == "still here");
    wait_log(&broker, "hit its memory limit of 16777216 bytes").await?;
    let after = broker.rss_kib()?;
    // Ten bombs of 16 MiB each: the cap holds and failed instances are freed.
    ensure!(
        after < before + 48 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    Ok(())
}

#[tokio::test]
async fn trap_fails_one_call_with_the_pass_policy() -> Result<()> {
    let broker = hostile_broker("trap", ", on_failure: pass, quarantine_after: 1000")?;
    let client = connect(&broker.url()).await?;
    let mut sub = subscribe(&client, "hostile.>").await?;
    for i in 0..3 {
        client
            .publish("hostile.trap", Bytes::from(format!("m{i}")))
            .await?;
    }
    flush(&client).await?;
    for i in 0..3 {
        let m = next_msg(&mut sub).await?;
        ensure!(
            m.subject.as_str() == "hostile.trap" && m.payload == format!("m{i}").as_str(),
            "pass policy delivers the message as published: {m:?}"
        );
    }
    wait_log(&broker, "trapped").await?;
    Ok(())
}

#[tokio::test]
async fn huge_output_is_refused() -> Result<()> {
    let broker = hostile_broker("huge", r#", timeout: "2s""#)?;
    let client = connect(&broker.url()).await?;
    let mut all = subscribe(&client, ">").await?;
    client.publish("hostile.huge", Bytes::from("x")).await?;
    client.publish("calm", Bytes::from("y")).await?;
    flush(&client).await?;
    let m = next_msg(&mut all).await?;
    ensure!(m.subject.as_str() == "calm", "only the calm message: {m:?}");
    wait_log(
        &broker,
        "returned an invalid result: 1000 outputs (at most 64)",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn repeat_offender_is_quarantined() -> Result<()> {
    let http = tern_tests::free_port();
    let broker = hostile_broker_with(
        "trap",
        ", on_failure: pass, quarantine_after: 3",
        &format!("http: \"127.0.0.1:{http}\""),
    )?;
    let client = connect(&broker.url()).await?;
    let mut sub = subscribe(&client, "hostile.>").await?;
    for _ in 0..6 {
        client.publish("hostile.trap", Bytes::from("x")).await?;
    }
    flush(&client).await?;
    for _ in 0..6 {
        next_msg(&mut sub).await?;
    }
    let log = wait_log(
        &broker,
        "plugin probe quarantined after 3 failed calls in a row",
    )
    .await?;
    // Only the three calls before the quarantine reached the plugin.
    let failures = log.matches("plugin probe: call failed").count();
    ensure!(failures == 3, "{failures} failed calls logged:\n{log}");
    // Monitoring shows it too.
    let varz = tern_tests::http_get(http, "/varz")?.json()?;
    let p = &varz["plugins"][0];
    ensure!(
        p["name"] == "probe"
            && p["hook"] == "subject-transform"
            && p["calls"] == 3
            && p["traps"] == 3
            && p["skipped"] == 3
            && p["quarantined"] == true,
        "{p}"
    );
    Ok(())
}

#[test]
fn wrong_wit_version_is_refused_and_says_so() -> Result<()> {
    let required = plugin_entry("wrong-version", r#"subjects: [">"]"#)?;
    let mut broker = Broker::start_with(
        Kind::Tern,
        BrokerOptions {
            config: Some(plugins_config(&[required], "")),
            no_wait: true,
            ..Default::default()
        },
    )?;
    let status = broker.wait_exit(WAIT * 2)?;
    ensure!(!status.success(), "started with an incompatible plugin");
    let log = broker.stderr();
    ensure!(
        log.contains("[FTL]")
            && log.contains(
                "built against tern:plugin@0.2.0, but this broker implements tern:plugin@0.1.0"
            ),
        "{log}"
    );

    // Optional: the broker starts without it and says why.
    let optional = plugin_entry("wrong-version", r#"subjects: [">"], required: false"#)?;
    let broker = start_with_config(Kind::Tern, &plugins_config(&[optional], ""))?;
    let log = broker.stderr();
    ensure!(
        log.contains("[WRN]") && log.contains("tern:plugin@0.2.0") && log.contains("optional"),
        "{log}"
    );
    Ok(())
}

#[test]
fn unloadable_plugins_are_clear_errors() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let not_wasm = dir.path().join("garbage.wasm");
    std::fs::write(&not_wasm, b"definitely not wasm")?;
    let config = plugins_config(
        &[format!(
            "  {{ path: \"{}\", subjects: [\">\"] }}\n",
            not_wasm.display()
        )],
        "",
    );
    let mut broker = Broker::start_with(
        Kind::Tern,
        BrokerOptions {
            config: Some(config),
            no_wait: true,
            ..Default::default()
        },
    )?;
    ensure!(!broker.wait_exit(WAIT * 2)?.success());
    let log = broker.stderr();
    ensure!(
        log.contains("[FTL]") && log.contains("garbage.wasm is not a valid WebAssembly component"),
        "{log}"
    );

    let config = plugins_config(
        &["  { path: \"/nonexistent/p.wasm\", required: false }\n".into()],
        "",
    );
    let broker = start_with_config(Kind::Tern, &config)?;
    ensure!(
        broker.stderr().contains("cannot read /nonexistent/p.wasm"),
        "{}",
        broker.stderr()
    );
    Ok(())
}

/// While one client keeps a plugin looping into its deadline, other clients'
/// requests on other subjects are still answered promptly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_clients_are_served_while_a_plugin_misbehaves() -> Result<()> {
    let broker = hostile_broker("loop", r#", timeout: "5ms", quarantine_after: 100000"#)?;
    let url = broker.url();
    let responder = connect(&url).await?;
    let mut service = subscribe(&responder, "svc.echo").await?;
    let answering = tokio::spawn(async move {
        while let Some(m) = futures::StreamExt::next(&mut service).await {
            if let Some(reply) = m.reply {
                let _ = responder.publish(reply, m.payload).await;
            }
        }
    });
    let attacker = connect(&url).await?;
    let attack = tokio::spawn(async move {
        for _ in 0..200 {
            if attacker
                .publish("hostile.spin", Bytes::from("x"))
                .await
                .is_err()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let _ = attacker.flush().await;
    });
    let client = connect(&url).await?;
    let mut latencies = Vec::new();
    for i in 0..100 {
        let started = Instant::now();
        let answer = tokio::time::timeout(
            WAIT,
            client.request("svc.echo", Bytes::from(format!("{i}"))),
        )
        .await
        .context("request timed out")??;
        ensure!(answer.payload == format!("{i}").as_str());
        latencies.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    attack.await?;
    answering.abort();
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let max = latencies[latencies.len() - 1];
    let log = broker.stderr();
    ensure!(
        log.contains("ran past its"),
        "the plugin never looped:\n{log}"
    );
    println!("requests during the attack: p50 {p50:?}, max {max:?}");
    ensure!(
        max < Duration::from_millis(50),
        "a request took {max:?} while the plugin looped (p50 {p50:?})"
    );
    Ok(())
}

/// A failing authorizer refuses the connection (the default `deny`), or
/// lets the broker decide as if it were not there (`pass`); a grant into an
/// account Tern does not have is refused, not silently ignored.
#[tokio::test]
async fn failing_authorizer_applies_its_policy() -> Result<()> {
    async fn connects(mode: &str, extra: &str) -> Result<(bool, Broker)> {
        let entry = plugin_entry(
            "probe-authorizer",
            &format!(r#"config: {{ mode: {mode} }} {extra}"#),
        )?;
        let broker = start_with_config(Kind::Tern, &plugins_config(&[entry], ""))?;
        let opts = async_nats::ConnectOptions::new().connection_timeout(WAIT);
        let result = tokio::time::timeout(WAIT * 2, opts.connect(broker.url())).await?;
        Ok((result.is_ok(), broker))
    }
    let (ok, _) = connects("allow", "").await?;
    ensure!(ok, "a plain allow refused");
    let (ok, broker) = connects("trap", "").await?;
    ensure!(!ok, "a trapping authorizer let a client in");
    ensure!(
        broker
            .stderr()
            .contains("authorizer probe-authorizer failed: trapped"),
        "{}",
        broker.stderr()
    );
    let (ok, _) = connects("trap", ", on_failure: pass").await?;
    ensure!(ok, "pass policy refused");
    let (ok, broker) = connects("loop", r#", timeout: "5ms""#).await?;
    ensure!(!ok, "a looping authorizer let a client in");
    ensure!(broker.stderr().contains("ran past its 5ms deadline"));
    let (ok, broker) = connects("account", "").await?;
    ensure!(!ok, "a grant into an unknown account let a client in");
    ensure!(
        broker
            .stderr()
            .contains("account \"other\" requested, but Tern has no accounts yet"),
        "{}",
        broker.stderr()
    );
    Ok(())
}

/// Unbounded recursion hits the wasm stack limit: one failed call.
#[tokio::test]
async fn runaway_recursion_hits_the_stack_limit() -> Result<()> {
    let broker = hostile_broker("recurse", "")?;
    let client = connect(&broker.url()).await?;
    let mut calm = subscribe(&client, "calm").await?;
    client.publish("hostile.deep", Bytes::from("x")).await?;
    client.publish("calm", Bytes::from("y")).await?;
    flush(&client).await?;
    next_msg(&mut calm).await?;
    wait_log(&broker, "call stack exhausted").await?;
    Ok(())
}
