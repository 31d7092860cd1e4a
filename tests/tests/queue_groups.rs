//! Queue groups: each message goes to exactly one member of each group,
//! spread roughly evenly; plain subscribers alongside still get everything.

mod common;

use std::time::Duration;

use anyhow::{bail, ensure, Result};
use bytes::Bytes;
use common::*;
use futures::StreamExt;
use tern_tests::Broker;

/// Drain `sub` until it has been quiet for a moment; returns the payloads.
async fn drain(sub: &mut async_nats::Subscriber) -> Vec<Bytes> {
    let mut out = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(QUIET, sub.next()).await {
        out.push(m.payload);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_member_per_message_spread_evenly() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let mut members = Vec::new();
        for _ in 0..4 {
            let c = connect(&b.url()).await?;
            let s = queue_subscribe(&c, "work", "workers").await?;
            members.push((c, s));
        }
        let publisher = connect(&b.url()).await?;
        const N: usize = 4000;
        for i in 0..N {
            publisher
                .publish("work", Bytes::from(format!("{i}")))
                .await?;
        }
        flush(&publisher).await?;

        let mut seen = vec![0u32; N];
        let mut counts = Vec::new();
        for (_c, s) in members.iter_mut() {
            let got = drain(s).await;
            counts.push(got.len());
            for p in got {
                let i: usize = std::str::from_utf8(&p)?.parse()?;
                seen[i] += 1;
            }
        }
        let dup: Vec<usize> = (0..N).filter(|&i| seen[i] > 1).collect();
        let lost: Vec<usize> = (0..N).filter(|&i| seen[i] == 0).collect();
        ensure!(
            dup.is_empty(),
            "delivered more than once: {} messages, e.g. {:?}",
            dup.len(),
            &dup[..dup.len().min(10)]
        );
        ensure!(
            lost.is_empty(),
            "never delivered: {} messages, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(10)]
        );
        for (i, c) in counts.iter().enumerate() {
            ensure!(
                (750..=1250).contains(c),
                "member {i} got {c} of {N} (counts {counts:?})"
            );
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_plain_subscribers_side_by_side() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let c = connect(&b.url()).await?;
        let mut a1 = queue_subscribe(&c, "jobs.*", "a").await?;
        let c2 = connect(&b.url()).await?;
        let mut a2 = queue_subscribe(&c2, "jobs.*", "a").await?;
        let mut b1 = queue_subscribe(&c2, "jobs.>", "b").await?;
        let c3 = connect(&b.url()).await?;
        let mut b2 = queue_subscribe(&c3, "jobs.new", "b").await?;
        let mut plain1 = subscribe(&c3, "jobs.new").await?;
        let mut plain2 = subscribe(&c, "jobs.*").await?;

        let publisher = connect(&b.url()).await?;
        const N: usize = 200;
        for i in 0..N {
            publisher
                .publish("jobs.new", Bytes::from(format!("{i}")))
                .await?;
        }
        flush(&publisher).await?;

        let (ga1, ga2) = (drain(&mut a1).await, drain(&mut a2).await);
        ensure!(
            ga1.len() + ga2.len() == N,
            "group a got {} + {}",
            ga1.len(),
            ga2.len()
        );
        let (gb1, gb2) = (drain(&mut b1).await, drain(&mut b2).await);
        ensure!(
            gb1.len() + gb2.len() == N,
            "group b got {} + {}",
            gb1.len(),
            gb2.len()
        );
        for (name, s) in [("plain1", &mut plain1), ("plain2", &mut plain2)] {
            let got = drain(s).await;
            ensure!(got.len() == N, "{name} got {} of {N}", got.len());
            for (i, p) in got.iter().enumerate() {
                ensure!(*p == format!("{i}"), "{name}: message {i} was {p:?}");
            }
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remaining_member_gets_everything_after_unsubscribe() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let c1 = connect(&b.url()).await?;
        let mut m1 = queue_subscribe(&c1, "q", "g").await?;
        let c2 = connect(&b.url()).await?;
        let mut m2 = queue_subscribe(&c2, "q", "g").await?;
        m1.unsubscribe().await?;
        flush(&c1).await?;
        let publisher = connect(&b.url()).await?;
        for i in 0..50 {
            publisher.publish("q", Bytes::from(format!("{i}"))).await?;
        }
        flush(&publisher).await?;
        let got = drain(&mut m2).await;
        ensure!(got.len() == 50, "remaining member got {}", got.len());
        Ok(())
    })
    .await;
}

/// The raw form: `SUB <subject> <queue> <sid>`; a queue member on the same
/// connection as a plain subscription gets its own MSG with its own sid.
#[test]
fn raw_queue_subscription() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        c.send(b"SUB foo workers 1\r\nSUB foo 2\r\nPUB foo 2\r\nhi\r\n")?;
        let got = sync(&mut c)?;
        let mut msgs: Vec<&str> = got.split("\r\n").filter(|l| l.starts_with("MSG")).collect();
        msgs.sort();
        ensure!(msgs == ["MSG foo 1 2", "MSG foo 2 2"], "got {got:?}");
        // Two members of one group on one connection: exactly one gets it.
        c.send(b"SUB bar g 3\r\nSUB bar g 4\r\n")?;
        for _ in 0..20 {
            c.send(b"PUB bar 1\r\nx\r\n")?;
        }
        let got = sync(&mut c)?;
        let n = got.matches("MSG bar ").count();
        if n != 20 {
            bail!("20 messages to a two-member group on one connection gave {n} MSGs: {got:?}");
        }
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_group_request_reply_single_answer() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let mut servers = Vec::new();
        for n in 0..3 {
            let c = connect(&b.url()).await?;
            let mut s = queue_subscribe(&c, "svc", "responders").await?;
            let task = tokio::spawn(async move {
                while let Some(m) = s.next().await {
                    if let Some(reply) = m.reply {
                        let _ = c.publish(reply, Bytes::from(format!("from {n}"))).await;
                        let _ = c.flush().await;
                    }
                }
            });
            servers.push(task);
        }
        let client = connect(&b.url()).await?;
        for _ in 0..30 {
            let resp = tokio::time::timeout(
                Duration::from_secs(5),
                client.request("svc", Bytes::from("?")),
            )
            .await??;
            ensure!(
                resp.payload.starts_with(b"from "),
                "reply {:?}",
                resp.payload
            );
        }
        for t in servers {
            t.abort();
        }
        Result::<()>::Ok(())
    })
    .await;
}
