//! The broker-level crash test: a publisher keeps 64 acknowledged publishes
//! in flight while a worker fetches and acknowledges (`AckSync`), the broker
//! is `kill -9`ed at a random moment, restarted on the same store, and the
//! run goes on — three times. Afterwards every acknowledged publish is in
//! the stream exactly once, and the consumer resumes from its ack floor:
//! nothing it had acknowledged comes back.
//!
//! A second test garbles one stream's file: the broker reports it and
//! serves the other streams.
//!
//! Run against both brokers for the stream half; the consumer half is
//! Tern's promise (nats-server writes consumer state in the background, so
//! acks confirmed just before a kill may come back there).

mod common;

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Result};
use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, stream};
use common::each_target;
use futures::StreamExt;
use parking_lot::Mutex;
use rand::Rng;
use tern_tests::{Broker, BrokerOptions, Kind};

const ROUNDS: usize = 3;

fn start(kind: Kind, store: &std::path::Path) -> Result<Broker> {
    Broker::start_with(
        kind,
        BrokerOptions {
            args: vec!["-js".into(), "-sd".into(), store.display().to_string()],
            ..Default::default()
        },
    )
}

/// Publishes `n`, `n+1`, … with 64 acks in flight until the connection
/// breaks; returns the ids acknowledged.
async fn publish_until_killed(js: jetstream::Context, mut n: u64) -> Vec<u64> {
    let mut acked = Vec::new();
    let mut inflight = VecDeque::new();
    loop {
        while inflight.len() < 64 {
            let sent = tokio::time::timeout(
                Duration::from_secs(2),
                js.publish(format!("crash.{}", n % 7), n.to_string().into()),
            )
            .await;
            match sent {
                Ok(Ok(fut)) => inflight.push_back((n, fut)),
                _ => return acked,
            }
            n += 1;
        }
        let Some((id, fut)) = inflight.pop_front() else {
            return acked;
        };
        match tokio::time::timeout(Duration::from_secs(2), fut).await {
            Ok(Ok(_)) => acked.push(id),
            _ => return acked,
        }
    }
}

/// Fetches and double-acks until the connection breaks, recording the ids
/// whose ack was confirmed in `confirmed`.
async fn consume_until_killed(
    c: jetstream::consumer::Consumer<pull::Config>,
    confirmed: Arc<Mutex<Vec<u64>>>,
) {
    let wait = Duration::from_secs(2);
    loop {
        let fetch = c
            .fetch()
            .max_messages(50)
            .expires(Duration::from_millis(200))
            .messages();
        let Ok(Ok(mut batch)) = tokio::time::timeout(wait, fetch).await else {
            return;
        };
        while let Ok(Some(m)) = tokio::time::timeout(wait, batch.next()).await {
            let Ok(m) = m else {
                return;
            };
            let id: u64 = String::from_utf8_lossy(&m.payload).parse().unwrap_or(0);
            match tokio::time::timeout(wait, m.double_ack()).await {
                Ok(Ok(())) => confirmed.lock().push(id),
                _ => return,
            }
        }
    }
}

#[tokio::test]
async fn acknowledged_work_survives_repeated_kill_9() {
    each_target(|kind| async move {
        let dir = tempfile::tempdir()?;
        let mut acked = BTreeSet::new();
        let mut confirmed = BTreeSet::new();
        let mut next = 1u64;
        for round in 0..ROUNDS {
            let broker = start(kind, dir.path())?;
            let client = async_nats::connect(broker.url()).await?;
            let js = jetstream::new(client);
            if round == 0 {
                let s = js
                    .create_stream(stream::Config {
                        name: "CRASH".into(),
                        subjects: vec!["crash.>".into()],
                        ..Default::default()
                    })
                    .await?;
                s.create_consumer(pull::Config {
                    durable_name: Some("worker".into()),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(30),
                    ..Default::default()
                })
                .await?;
            }
            let s = js.get_stream("CRASH").await?;
            let c: jetstream::consumer::Consumer<pull::Config> = s
                .get_consumer("worker")
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let publisher = tokio::spawn(publish_until_killed(js.clone(), next));
            let done = Arc::new(Mutex::new(Vec::new()));
            let worker = tokio::spawn(consume_until_killed(c, done.clone()));
            let wait = rand::rng().random_range(300..900);
            tokio::time::sleep(Duration::from_millis(wait)).await;
            drop(broker); // SIGKILL
            let got = publisher.await?;
            ensure!(!got.is_empty(), "round {round}: nothing acknowledged");
            next = got.iter().max().copied().unwrap_or(next) + 1000;
            acked.extend(got);
            // A fetch caught by the kill may wait out its reconnect: what
            // was confirmed is already recorded.
            worker.abort();
            confirmed.extend(done.lock().iter().copied());
        }

        let broker = start(kind, dir.path())?;
        let js = jetstream::new(async_nats::connect(broker.url()).await?);
        let mut s = js.get_stream("CRASH").await?;
        let total = s.info().await?.state.messages;
        // Read everything back with an ephemeral consumer.
        let reader = s
            .create_consumer(pull::Config {
                ack_policy: AckPolicy::None,
                ..Default::default()
            })
            .await?;
        let mut stored = Vec::new();
        while (stored.len() as u64) < total {
            let mut batch = reader
                .fetch()
                .max_messages(1000)
                .expires(Duration::from_secs(1))
                .messages()
                .await?;
            let before = stored.len();
            while let Some(m) = batch.next().await {
                let m = m.map_err(|e| anyhow::anyhow!("{e}"))?;
                stored.push(String::from_utf8_lossy(&m.payload).parse::<u64>()?);
            }
            ensure!(stored.len() > before, "read stalled at {}", stored.len());
        }
        let unique: BTreeSet<u64> = stored.iter().copied().collect();
        ensure!(unique.len() == stored.len(), "duplicates in the stream");
        let missing: Vec<_> = acked.difference(&unique).take(5).collect();
        ensure!(
            missing.is_empty(),
            "acknowledged but lost: {missing:?} ({} acked)",
            acked.len()
        );

        if kind == Kind::Tern {
            let mut worker: jetstream::consumer::Consumer<pull::Config> = s
                .get_consumer("worker")
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let info = worker.info().await?.clone();
            let floor = info.ack_floor.stream_sequence;
            ensure!(
                floor > 0 || confirmed.is_empty(),
                "ack floor lost: {info:?}"
            );
            // Nothing whose ack was confirmed comes back.
            let mut again = worker
                .fetch()
                .max_messages(10_000)
                .expires(Duration::from_millis(500))
                .messages()
                .await?;
            while let Some(m) = again.next().await {
                let m = m.map_err(|e| anyhow::anyhow!("{e}"))?;
                let id: u64 = String::from_utf8_lossy(&m.payload).parse()?;
                ensure!(!confirmed.contains(&id), "confirmed ack of {id} was lost");
            }
        }
        eprintln!(
            "{}: {} acknowledged publishes, {} confirmed acks, {} stored",
            kind.name(),
            acked.len(),
            confirmed.len(),
            total
        );
        Ok(())
    })
    .await;
}

/// A damaged stream file does not stop the broker: it says which stream it
/// could not restore and why, and serves the others.
#[tokio::test]
async fn a_corrupt_stream_is_reported_and_the_rest_served() {
    if !Kind::targets().contains(&Kind::Tern) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let broker = start(Kind::Tern, dir.path()).expect("start");
        let js = jetstream::new(async_nats::connect(broker.url()).await.expect("connect"));
        for name in ["GOOD", "BAD"] {
            js.create_stream(stream::Config {
                name: name.into(),
                subjects: vec![format!("{}.>", name.to_lowercase())],
                ..Default::default()
            })
            .await
            .expect("create");
            js.publish(format!("{}.x", name.to_lowercase()), "m".into())
                .await
                .expect("publish")
                .await
                .expect("ack");
        }
    }
    // Garble the middle of BAD's store file (the header too).
    let file = dir.path().join("jetstream/$G/streams/BAD/stream.redb");
    let mut data = std::fs::read(&file).expect("read store");
    let n = data.len();
    for b in &mut data[..n.min(4096)] {
        *b ^= 0x5a;
    }
    std::fs::write(&file, &data).expect("write store");

    let broker = start(Kind::Tern, dir.path()).expect("restart");
    let js = jetstream::new(async_nats::connect(broker.url()).await.expect("connect"));
    let mut good = js.get_stream("GOOD").await.expect("GOOD is served");
    assert_eq!(good.info().await.expect("info").state.messages, 1);
    assert!(
        js.get_stream("BAD").await.is_err(),
        "BAD should not be served"
    );
    let log = broker.stderr();
    assert!(
        log.contains("BAD") && log.contains("not restored"),
        "the log names the stream it could not restore:\n{log}"
    );
}
