//! Fast producers are slowed, not their subscribers cut off: an ordinary
//! async-nats publisher sending as fast as it can to async-nats
//! subscribers (1→1, 1→4, a queue group of 4; 16 B, 1 KiB and 64 KiB
//! messages) gets every message delivered and no slow consumer, on both
//! brokers. A subscriber that stops reading is still cut off, and the
//! publisher is back to full speed after it is gone.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use bytes::Bytes;
use common::*;
use tern_tests::burst::{self, Pattern};
use tern_tests::{free_port, http_get, Broker, BrokerOptions, Kind};

/// Messages per burst for each payload: enough bytes (32 MiB and more per
/// subscriber) to run far past `max_pending` if the publisher were not
/// slowed down.
fn count_for(payload: usize) -> u64 {
    match payload {
        16 => 300_000,
        1024 => 48_000,
        _ => 600,
    }
}

/// The brokers run with `max_pending` at 4 MiB, so a burst of 32 MiB
/// overruns a subscriber that is not keeping up (the default 64 MiB would
/// need bursts too long for a test). Tern runs its optimised build: a
/// debug broker is slower than the clients, so it would never fall behind
/// them at all.
const CONFIG: &str = "max_pending: 4MB\n";

/// A broker with [`CONFIG`] and monitoring; returns it and its HTTP port.
/// A port picked free can be taken by a parallel test before the broker
/// binds it; such a start is tried again on new ports.
fn start(kind: Kind) -> Result<(Broker, u16)> {
    let mut attempt = 0;
    loop {
        let http = free_port();
        let started = Broker::start_with(
            kind,
            BrokerOptions {
                config: Some(CONFIG.into()),
                args: vec!["-m".into(), http.to_string()],
                optimised: true,
                ..Default::default()
            },
        );
        match started {
            Ok(b) => return Ok((b, http)),
            Err(e) if attempt < 4 && format!("{e:#}").contains("in use") => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

async fn every_message_delivered(pattern: Pattern, payload: usize) {
    each_target(move |kind| async move {
        let (b, http) = start(kind)?;
        let count = count_for(payload);
        let got = burst::run(&b.url(), pattern, payload, count).await?;
        let varz = http_get(http, "/varz")?.json()?;
        eprintln!(
            "[{}] {pattern:?} {payload} B: {} of {} delivered in {:?} ({:.0} msgs/s), \
             {} stalls",
            kind.name(),
            got.delivered(),
            pattern.expected(count),
            got.elapsed,
            got.rate(),
            varz["stalled_clients"]
        );
        ensure!(
            varz["slow_consumers"] == 0,
            "{pattern:?}, {payload} B: {} slow consumers; delivered {} of {} (per subscriber {:?})",
            varz["slow_consumers"],
            got.delivered(),
            pattern.expected(count),
            got.received
        );
        ensure!(
            got.delivered() == pattern.expected(count),
            "{pattern:?}, {payload} B: delivered {} of {} (per subscriber {:?})",
            got.delivered(),
            pattern.expected(count),
            got.received
        );
        Ok(())
    })
    .await;
}

macro_rules! burst_tests {
    ($($name:ident: $pattern:expr, $payload:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            every_message_delivered($pattern, $payload).await;
        }
    )*};
}

burst_tests! {
    one_to_one_16b: Pattern::FanOut(1), 16;
    one_to_one_1k: Pattern::FanOut(1), 1024;
    one_to_one_64k: Pattern::FanOut(1), 64 * 1024;
    fan_out_16b: Pattern::FanOut(4), 16;
    fan_out_1k: Pattern::FanOut(4), 1024;
    fan_out_64k: Pattern::FanOut(4), 64 * 1024;
    queue_16b: Pattern::Queue(4), 16;
    queue_1k: Pattern::Queue(4), 1024;
    queue_64k: Pattern::Queue(4), 64 * 1024;
}

const STUCK_MSG: usize = 64 * 1024;
const STUCK_N: usize = 200;

/// Publish `STUCK_N` messages of 64 KiB and flush; how long it took.
async fn publish_run(publisher: &async_nats::Client) -> Result<Duration> {
    let body = Bytes::from(vec![7u8; STUCK_MSG]);
    let started = Instant::now();
    for _ in 0..STUCK_N {
        publisher.publish("stuck", body.clone()).await?;
    }
    tokio::time::timeout(Duration::from_secs(20), publisher.flush())
        .await
        .context("publisher flush timed out")??;
    round_trip(publisher).await?;
    Ok(started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_that_stops_reading_is_cut_off_and_publisher_recovers() {
    each_target(|kind| async move {
        let (b, port) = start(kind)?;
        let publisher = connect(&b.url()).await?;
        let baseline = publish_run(&publisher).await?;

        // A raw subscriber that subscribes and never reads again.
        let mut stuck = raw(&b.addr(), CONNECT_PLAIN)?;
        stuck.send(b"SUB stuck 1\r\n")?;
        sync(&mut stuck)?;

        // The publisher is slowed for a while, then the subscriber is cut off.
        let with_stuck = publish_run(&publisher).await?;
        let with_stuck_2 = publish_run(&publisher).await?;
        let deadline = Instant::now() + WAIT * 2;
        loop {
            let varz = http_get(port, "/varz")?.json()?;
            if varz["slow_consumers"] == 1 {
                ensure!(
                    varz["stalled_clients"].as_u64().unwrap_or(0) > 0,
                    "cut off without stalling the publisher first: {}",
                    varz["stalled_clients"]
                );
                break;
            }
            if Instant::now() > deadline {
                bail!("the stuck subscriber was never cut off: {varz}");
            }
            publish_run(&publisher).await?;
        }
        stuck
            .read_to_close(WAIT * 2)
            .context("the stuck subscriber was not disconnected")?;
        // The stalls are counted on the connection publishers waited for.
        let closed = http_get(port, "/connz?state=closed")?.json()?;
        let cut = closed["connections"]
            .as_array()
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c["reason"] == "Slow Consumer (Pending Bytes)")
            })
            .with_context(|| format!("no slow consumer in {closed}"))?;
        ensure!(
            cut["stalls"].as_u64().unwrap_or(0) > 0,
            "the cut-off connection shows no stalls: {cut}"
        );

        // Once it is gone, publishing is as fast as before.
        let after = publish_run(&publisher).await?;
        eprintln!(
            "[{}] {STUCK_N} × 64 KiB: {baseline:?} alone, {with_stuck:?} and {with_stuck_2:?} \
             with a stuck subscriber, {after:?} after it was cut off",
            kind.name()
        );
        ensure!(
            after < baseline * 4 + Duration::from_millis(500),
            "publishing after the cut-off took {after:?}, {baseline:?} before"
        );
        Ok(())
    })
    .await;
}
