//! How consumers pick and pace messages, against Tern and nats-server:
//! several filter subjects at once, replay `original` (messages spaced as
//! they were published), `backoff` (each redelivery waits its step), and a
//! `no_wait` pull held back by `max_ack_pending` (nats.py's fetch with
//! heartbeats depends on how it ends).

mod common;

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use async_nats::jetstream::{self, stream};
use common::jetstream::*;
use common::{connect, each_target};

#[tokio::test]
async fn several_filter_subjects() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        orders(&js, 9).await?;
        create_raw(
            &client,
            "ORDERS",
            "two",
            r#"{"filter_subjects":["orders.0","orders.2"],"ack_policy":"none"}"#,
        )
        .await?;
        let got = ask(
            &client,
            "$JS.API.CONSUMER.MSG.NEXT.ORDERS.two",
            r#"{"batch":10,"no_wait":true}"#,
            Duration::from_millis(500),
            true,
        )
        .await?;
        let got = show(&got);
        ensure!(
            got == ["m2", "m3", "m5", "m6", "m8", "m9", "404 No Messages"],
            "{got:?}"
        );
        Ok(())
    })
    .await;
}

/// A `no_wait` pull with an expiry and heartbeats that `max_ack_pending`
/// cuts short ends with 404 at its first heartbeat tick, as on
/// nats-server, instead of waiting (and taking messages after the acks).
#[tokio::test]
async fn a_no_wait_pull_held_back_by_max_ack_pending_ends_at_its_heartbeat() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        orders(&js, 5).await?;
        create_raw(
            &client,
            "ORDERS",
            "held",
            r#"{"ack_policy":"explicit","max_ack_pending":2}"#,
        )
        .await?;
        let started = Instant::now();
        let got = ask(
            &client,
            "$JS.API.CONSUMER.MSG.NEXT.ORDERS.held",
            r#"{"batch":10,"expires":3000000000,"idle_heartbeat":100000000,"no_wait":true}"#,
            Duration::from_secs(5),
            true,
        )
        .await?;
        let took = started.elapsed();
        let got = show(&got);
        ensure!(got == ["m1", "m2", "404 No Messages"], "{got:?}");
        ensure!(
            took < Duration::from_millis(2500),
            "ended after {took:?}, not at a heartbeat tick"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn replay_original_keeps_the_gaps() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        js.create_stream(stream::Config {
            name: "R".into(),
            subjects: vec!["r".into()],
            ..Default::default()
        })
        .await?;
        js.publish("r", "first".into()).await?.await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        js.publish("r", "second".into()).await?.await?;
        let mut sub = client.subscribe("replay.here").await?;
        create_raw(
            &client,
            "R",
            "replay",
            r#"{"deliver_subject":"replay.here","replay_policy":"original","ack_policy":"none"}"#,
        )
        .await?;
        let first = collect(&mut sub, 1, Duration::from_secs(2)).await;
        let t0 = Instant::now();
        let second = collect(&mut sub, 1, Duration::from_secs(2)).await;
        let gap = t0.elapsed();
        ensure!(show(&first) == ["first"] && show(&second) == ["second"]);
        ensure!(gap >= Duration::from_millis(300), "replayed {gap:?} apart");
        Ok(())
    })
    .await;
}

/// One pull request for one message of consumer `backoff`.
async fn fetch_one(
    client: &async_nats::Client,
    inbox: &str,
    sub: &mut async_nats::Subscriber,
) -> Result<Vec<String>> {
    client
        .publish_with_reply(
            "$JS.API.CONSUMER.MSG.NEXT.ORDERS.backoff",
            inbox.to_string(),
            r#"{"batch":1,"expires":3000000000}"#.into(),
        )
        .await?;
    Ok(show(&collect(sub, 1, Duration::from_secs(4)).await))
}

#[tokio::test]
async fn backoff_spaces_redeliveries() -> Result<()> {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        orders(&js, 1).await?;
        create_raw(
            &client,
            "ORDERS",
            "backoff",
            r#"{"ack_policy":"explicit","backoff":[200000000,900000000],"max_deliver":3}"#,
        )
        .await?;
        let inbox = client.new_inbox();
        let mut sub = client.subscribe(inbox.clone()).await?;
        let t0 = Instant::now();
        ensure!(fetch_one(&client, &inbox, &mut sub).await? == ["m1"]);
        ensure!(fetch_one(&client, &inbox, &mut sub).await? == ["m1"]);
        let first_wait = t0.elapsed();
        let t1 = Instant::now();
        ensure!(fetch_one(&client, &inbox, &mut sub).await? == ["m1"]);
        let second_wait = t1.elapsed();
        ensure!(
            first_wait >= Duration::from_millis(150) && first_wait < Duration::from_millis(800),
            "first redelivery after {first_wait:?}"
        );
        ensure!(
            second_wait >= Duration::from_millis(700),
            "second redelivery after {second_wait:?}"
        );
        Ok(())
    })
    .await;
    Ok(())
}
