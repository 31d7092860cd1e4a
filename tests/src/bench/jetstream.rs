//! JetStream scenarios, with async-nats as the client (the same client for
//! both brokers; at these rates the client is nowhere near its limit):
//! publish with acks (one at a time, and 256 in flight), pull fetch + ack,
//! KV put and get, stream creation, and start-up with a full store.
//!
//! Streams are file-backed on both brokers. Durability differs and the
//! figures must be read with it: Tern acknowledges a publish after its
//! group commit reached the disk (fsync), nats-server after writing to the
//! OS (its default `sync_interval` is 2 minutes). Both survive `kill -9`;
//! only Tern's acknowledged messages also survive a power cut.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};
use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, kv, stream};
use futures::StreamExt;

use crate::{Broker, BrokerOptions, Kind};

/// One JetStream measurement.
#[derive(Clone, Copy, Debug)]
pub enum JsWork {
    /// Publish with acks, `window` in flight.
    Publish {
        window: usize,
    },
    /// Pull `fetch` in batches of 256, each message acked.
    FetchAck,
    KvPut,
    KvGet,
    StreamCreate,
    /// Start-up (after a SIGTERM stop) until a stream of `count` messages
    /// answers `STREAM.INFO`.
    Startup,
}

const PAYLOAD: &[u8] = &[b'x'; 128];
const WINDOW: usize = 256;

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{e}")
}

/// A store directory outside the broker's own temp dir, so a second broker
/// can open it; removed (this exact path) on drop.
struct StoreDir(PathBuf);

impl StoreDir {
    fn new() -> Result<StoreDir> {
        let dir = tempfile::Builder::new()
            .prefix("tern-bench-store-")
            .tempdir()?
            .keep();
        Ok(StoreDir(dir))
    }
}

impl Drop for StoreDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start(kind: Kind, store: &Path) -> Result<Broker> {
    Broker::start_with(
        kind,
        BrokerOptions {
            args: vec!["-js".into(), "-sd".into(), store.display().to_string()],
            ..Default::default()
        },
    )
}

/// Runs `work` with `count` operations against a fresh `kind` broker;
/// returns operations per second (or milliseconds, for start-up) and the
/// broker's pid for CPU accounting.
pub fn run(kind: Kind, work: JsWork, count: u64) -> Result<(f64, Broker)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let store = StoreDir::new()?;
    let broker = start(kind, &store.0)?;
    let url = broker.url();
    let value = rt.block_on(async {
        let client = async_nats::connect(&url).await?;
        let js = jetstream::new(client);
        match work {
            JsWork::Publish { window } => {
                make_stream(&js).await?;
                let t0 = Instant::now();
                publish(&js, "bench.x", count, window).await?;
                let rate = count as f64 / t0.elapsed().as_secs_f64();
                check_messages(&js, count).await?;
                Ok(rate)
            }
            JsWork::FetchAck => {
                make_stream(&js).await?;
                publish(&js, "bench.x", count, WINDOW).await?;
                fetch_ack(&js, count).await
            }
            JsWork::KvPut | JsWork::KvGet => kv_work(&js, work, count).await,
            JsWork::StreamCreate => {
                let t0 = Instant::now();
                for i in 0..count {
                    js.create_stream(stream::Config {
                        name: format!("S{i}"),
                        subjects: vec![format!("s{i}.>")],
                        ..Default::default()
                    })
                    .await
                    .map_err(err)?;
                }
                Ok(count as f64 / t0.elapsed().as_secs_f64())
            }
            JsWork::Startup => {
                make_stream(&js).await?;
                publish(&js, "bench.x", count, WINDOW).await?;
                Ok(0.0)
            }
        }
    });
    let value =
        value.map_err(|e: anyhow::Error| e.context(format!("{work:?} on {}", kind.name())))?;
    if let JsWork::Startup = work {
        // A normal restart: stopped with SIGTERM, not killed.
        let mut broker = broker;
        broker.signal(libc::SIGTERM)?;
        broker.wait_exit(Duration::from_secs(60))?;
        drop(broker);
        return startup(&rt, kind, &store.0, count);
    }
    Ok((value, broker))
}

async fn make_stream(js: &jetstream::Context) -> Result<()> {
    js.create_stream(stream::Config {
        name: "BENCH".into(),
        subjects: vec!["bench.>".into()],
        ..Default::default()
    })
    .await
    .map_err(err)?;
    Ok(())
}

/// Publishes `count` messages with at most `window` acks outstanding.
async fn publish(js: &jetstream::Context, subject: &str, count: u64, window: usize) -> Result<()> {
    let mut inflight = VecDeque::with_capacity(window);
    for _ in 0..count {
        if inflight.len() >= window {
            let ack: jetstream::context::PublishAckFuture =
                inflight.pop_front().context("window")?;
            ack.await.map_err(err)?;
        }
        let ack = js
            .publish(subject.to_string(), bytes::Bytes::from_static(PAYLOAD))
            .await
            .map_err(err)?;
        inflight.push_back(ack);
    }
    for ack in inflight {
        ack.await.map_err(err)?;
    }
    Ok(())
}

async fn check_messages(js: &jetstream::Context, count: u64) -> Result<()> {
    let mut s = js.get_stream("BENCH").await.map_err(err)?;
    let n = s.info().await.map_err(err)?.state.messages;
    ensure!(
        n == count,
        "stream holds {n} messages, {count} were acknowledged"
    );
    Ok(())
}

async fn fetch_ack(js: &jetstream::Context, count: u64) -> Result<f64> {
    let s = js.get_stream("BENCH").await.map_err(err)?;
    let mut c = s
        .create_consumer(pull::Config {
            durable_name: Some("bench".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .map_err(err)?;
    let t0 = Instant::now();
    let mut got = 0u64;
    while got < count {
        let mut batch = c
            .fetch()
            .max_messages(WINDOW)
            .expires(Duration::from_secs(5))
            .messages()
            .await
            .map_err(err)?;
        let before = got;
        while let Some(m) = batch.next().await {
            m.map_err(err)?.ack().await.map_err(err)?;
            got += 1;
        }
        ensure!(
            got > before,
            "fetch returned nothing after {got} of {count}"
        );
    }
    // Done when the broker has taken every ack.
    loop {
        let info = c.info().await.map_err(err)?;
        if info.num_ack_pending == 0 && info.num_pending == 0 {
            break;
        }
        ensure!(
            t0.elapsed() < Duration::from_secs(60),
            "acks not applied: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(count as f64 / t0.elapsed().as_secs_f64())
}

async fn kv_work(js: &jetstream::Context, work: JsWork, count: u64) -> Result<f64> {
    let bucket = js
        .create_key_value(kv::Config {
            bucket: "bench".into(),
            ..Default::default()
        })
        .await
        .map_err(err)?;
    let keys = 100u64;
    let t0 = Instant::now();
    if let JsWork::KvPut = work {
        for i in 0..count {
            bucket
                .put(format!("k{}", i % keys), bytes::Bytes::from_static(PAYLOAD))
                .await
                .map_err(err)?;
        }
        return Ok(count as f64 / t0.elapsed().as_secs_f64());
    }
    for i in 0..keys {
        bucket
            .put(format!("k{i}"), bytes::Bytes::from_static(PAYLOAD))
            .await
            .map_err(err)?;
    }
    let t0 = Instant::now();
    for i in 0..count {
        let v = bucket.get(format!("k{}", i % keys)).await.map_err(err)?;
        ensure!(
            v.is_some_and(|v| v.len() == PAYLOAD.len()),
            "key k{} lost",
            i % keys
        );
    }
    Ok(count as f64 / t0.elapsed().as_secs_f64())
}

/// Starts `kind` on a store holding a stream of `count` messages and times
/// it until `STREAM.INFO` reports them all (milliseconds).
fn startup(
    rt: &tokio::runtime::Runtime,
    kind: Kind,
    store: &Path,
    count: u64,
) -> Result<(f64, Broker)> {
    let t0 = Instant::now();
    let broker = start(kind, store)?;
    let url = broker.url();
    rt.block_on(async {
        let client = async_nats::connect(&url).await?;
        let js = jetstream::new(client);
        loop {
            if let Ok(mut s) = js.get_stream("BENCH").await {
                if s.info().await.map_err(err)?.state.messages == count {
                    return Ok::<_, anyhow::Error>(());
                }
            }
            ensure!(
                t0.elapsed() < Duration::from_secs(120),
                "stream not recovered"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })?;
    Ok((t0.elapsed().as_secs_f64() * 1e3, broker))
}
