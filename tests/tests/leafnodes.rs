//! Leaf nodes with real servers on both ends: every pairing of Tern and
//! nats-server as hub and leaf (nats-server ↔ nats-server too, so each
//! expectation is checked against the reference), plus the hub's side of
//! the protocol spoken raw, line by line, against both servers.

mod common;

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use async_nats::Client;
use futures::StreamExt;
use tern_tests::{free_port, Broker, Kind, RawClient};

use common::leaf::{await_path, each_pair};
use common::*;

fn hub_config(leaf_port: u16) -> String {
    format!("leafnodes {{\n  listen: \"127.0.0.1:{leaf_port}\"\n}}\n")
}

fn leaf_config(leaf_port: u16, extra: &str) -> String {
    format!(
        "leafnodes {{\n  reconnect: 1\n  remotes [ {{ url: \"nats-leaf://127.0.0.1:{leaf_port}\" {extra} }} ]\n}}\n"
    )
}

struct Pair {
    hub: Broker,
    leaf: Broker,
    leaf_port: u16,
}

fn start_pair(pair: (Kind, Kind)) -> Result<Pair> {
    let leaf_port = free_port();
    let hub = start_with_config(pair.0, &hub_config(leaf_port))?;
    let leaf = start_with_config(pair.1, &leaf_config(leaf_port, ""))?;
    Ok(Pair {
        hub,
        leaf,
        leaf_port,
    })
}

/// A request nobody answers: once the no-responders status is back, the
/// server has processed everything the client sent before it.
async fn round_trip(client: &Client) -> Result<()> {
    match tokio::time::timeout(WAIT, client.request("_round.trip.nobody", "".into())).await {
        Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
        other => bail!("expected no responders, got {other:?}"),
    }
}

#[tokio::test]
async fn messages_cross_the_link_both_ways() {
    each_pair(|pair| async move {
        let p = start_pair(pair)?;
        let hub = connect(&p.hub.url()).await?;
        let leaf = connect(&p.leaf.url()).await?;

        let mut at_leaf = subscribe(&leaf, "down.>").await?;
        await_path(&hub, "down.probe", &mut at_leaf).await?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("X-Trace", "t1");
        hub.publish_with_headers("down.x", headers, "to leaf".into())
            .await?;
        flush(&hub).await?;
        let m = next_msg(&mut at_leaf).await.context("step 1")?;
        ensure!(
            m.subject.as_str() == "down.x" && &m.payload[..] == b"to leaf",
            "{m:?}"
        );
        let h = m.headers.context("headers lost across the link")?;
        ensure!(h.get("X-Trace").map(|v| v.as_str()) == Some("t1"), "{h:?}");

        let mut at_hub = subscribe(&hub, "up").await?;
        await_path(&leaf, "up", &mut at_hub).await?;
        leaf.publish("up", "to hub".into()).await?;
        flush(&leaf).await?;
        let m = next_msg(&mut at_hub).await.context("step 2")?;
        ensure!(&m.payload[..] == b"to hub", "{m:?}");

        // Request/reply across the link, each way.
        let mut svc = subscribe(&hub, "svc.hub").await?;
        let hub2 = hub.clone();
        let responder = tokio::spawn(async move {
            while let Some(req) = svc.next().await {
                if let Some(reply) = req.reply {
                    let _ = hub2.publish(reply, "from hub".into()).await;
                    let _ = hub2.flush().await;
                }
            }
        });
        let mut probe = subscribe(&hub, "svc.hub.ready").await?;
        await_path(&leaf, "svc.hub.ready", &mut probe).await?;
        let answer = tokio::time::timeout(WAIT, leaf.request("svc.hub", "q".into()))
            .await
            .context("request timed out")??;
        ensure!(&answer.payload[..] == b"from hub", "{answer:?}");
        responder.abort();

        // Unsubscribing removes the interest: the hub's publisher no
        // longer reaches a fresh subscriber that only existed before.
        drop(at_leaf);
        flush(&leaf).await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn queue_groups_prefer_local_members_and_span_the_link() {
    each_pair(|pair| async move {
        let p = start_pair(pair)?;
        let hub = connect(&p.hub.url()).await?;
        let leaf = connect(&p.leaf.url()).await?;
        // Only the hub has members: the leaf's publishes cross the link.
        let mut hub_q = queue_subscribe(&hub, "work", "q").await?;
        await_path(&leaf, "work", &mut hub_q).await?;
        for i in 0..10 {
            leaf.publish("work", format!("w{i}").into()).await?;
        }
        flush(&leaf).await?;
        for _ in 0..10 {
            next_msg(&mut hub_q).await.context("step 3")?;
        }
        expect_no_msg(&mut hub_q).await?;

        // Members on both sides: each side's publishers are served by
        // their own side's member.
        let mut leaf_q = queue_subscribe(&leaf, "work", "q").await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        for i in 0..20 {
            leaf.publish("work", format!("l{i}").into()).await?;
            hub.publish("work", format!("h{i}").into()).await?;
        }
        flush(&leaf).await?;
        flush(&hub).await?;
        let mut at_leaf = Vec::new();
        while let Ok(Some(m)) = tokio::time::timeout(QUIET, leaf_q.next()).await {
            at_leaf.push(String::from_utf8_lossy(&m.payload).into_owned());
        }
        let mut at_hub = Vec::new();
        while let Ok(Some(m)) = tokio::time::timeout(QUIET, hub_q.next()).await {
            at_hub.push(String::from_utf8_lossy(&m.payload).into_owned());
        }
        ensure!(
            at_leaf.len() == 20 && at_leaf.iter().all(|m| m.starts_with('l')),
            "leaf member got {at_leaf:?}"
        );
        ensure!(
            at_hub.len() == 20 && at_hub.iter().all(|m| m.starts_with('h')),
            "hub member got {at_hub:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn leaf_keeps_serving_locally_and_relinks_after_the_hub_returns() {
    each_pair(|pair| async move {
        let mut p = start_pair(pair)?;
        let leaf = connect(&p.leaf.url()).await?;
        {
            let hub = connect(&p.hub.url()).await?;
            let mut at_hub = subscribe(&hub, "up").await?;
            await_path(&leaf, "up", &mut at_hub).await?;
        }
        // Hub gone (SIGKILL; a stand-in without a leafnode port takes
        // its place): local traffic on the leaf carries on.
        p.hub = start_with_config(pair.0, "")?;
        let mut local = subscribe(&leaf, "local").await?;
        for i in 0..5 {
            leaf.publish("local", format!("m{i}").into()).await?;
        }
        flush(&leaf).await?;
        for i in 0..5 {
            let m = next_msg(&mut local).await.context("step 4")?;
            ensure!(m.payload == format!("m{i}").as_bytes(), "{m:?}");
        }
        // The hub comes back on the same leafnode port; the leaf relinks.
        p.hub = start_with_config(pair.0, &hub_config(p.leaf_port))?;
        let hub = connect(&p.hub.url()).await?;
        let mut at_hub = subscribe(&hub, "up").await?;
        await_path(&leaf, "up", &mut at_hub).await?;
        let mut at_leaf = subscribe(&leaf, "down").await?;
        await_path(&hub, "down", &mut at_leaf).await?;
        Ok(())
    })
    .await;
}

/// A raw leaf on the hub's leafnode port: the handshake and the exact
/// interest and message lines, the same from Tern and nats-server.
fn raw_leaf(port: u16) -> Result<RawClient> {
    let mut c = RawClient::connect(&format!("127.0.0.1:{port}"))?;
    let info: serde_json::Value = serde_json::from_str(c.info.trim_start_matches("INFO ").trim())?;
    ensure!(
        info["client_id"].as_u64().unwrap_or(0) > 0,
        "leaf INFO without client_id: {info}"
    );
    ensure!(
        info["leafnode_urls"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{info}"
    );
    c.send(b"CONNECT {\"name\":\"raw-leaf\",\"headers\":true,\"hub\":false}\r\nPING\r\n")?;
    Ok(c)
}

/// Read lines until one satisfies `want`, skipping INFO/PING/PONG and the
/// hub's own loop-detection and system interest.
fn expect_line(c: &mut RawClient, want: impl Fn(&str) -> bool) -> Result<String> {
    let deadline = std::time::Instant::now() + WAIT;
    let mut seen = Vec::new();
    while std::time::Instant::now() < deadline {
        let line = c.line()?;
        if want(&line) {
            return Ok(line);
        }
        if line == "PING" {
            c.send(b"PONG\r\n")?;
        }
        seen.push(line);
    }
    bail!("line not seen; got {seen:?}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_speaks_the_leafnode_protocol_line_by_line() {
    each_target(|kind| async move {
        let leaf_port = free_port();
        let hub_broker = start_with_config(kind, &hub_config(leaf_port))?;
        let hub = connect(&hub_broker.url()).await?;
        let _existing = subscribe(&hub, "before.link").await?;
        let mut raw = tokio::task::block_in_place(|| raw_leaf(leaf_port))?;
        // Everything the hub wants comes before the PONG to our PING.
        let first: Vec<String> = tokio::task::block_in_place(|| -> Result<Vec<String>> {
            let mut lines = Vec::new();
            loop {
                let line = raw.line()?;
                if line == "PONG" {
                    return Ok(lines);
                }
                lines.push(line);
            }
        })?;
        ensure!(first.iter().any(|l| l == "LS+ before.link"), "{first:?}");
        ensure!(
            first.iter().any(|l| l.starts_with("LS+ $LDS.")),
            "{first:?}"
        );

        let sub = subscribe(&hub, "foo").await?;
        let q1 = queue_subscribe(&hub, "bar", "grp").await?;
        let q2 = queue_subscribe(&hub, "bar", "grp").await?;
        round_trip(&hub).await?;
        tokio::task::block_in_place(|| -> Result<()> {
            expect_line(&mut raw, |l| l == "LS+ foo")?;
            expect_line(&mut raw, |l| l == "LS+ bar grp 1")?;
            expect_line(&mut raw, |l| l == "LS+ bar grp 2")?;
            Ok(())
        })?;
        drop(sub);
        drop(q1);
        round_trip(&hub).await?;
        tokio::task::block_in_place(|| -> Result<()> {
            expect_line(&mut raw, |l| l == "LS- foo")?;
            expect_line(&mut raw, |l| l == "LS+ bar grp 1")?;
            Ok(())
        })?;
        drop(q2);

        // The raw leaf subscribes and gets the hub's messages as LMSG.
        raw.send(b"LS+ to.raw\r\nLS+ to.rawq workers 1\r\nPING\r\n")?;
        tokio::task::block_in_place(|| expect_line(&mut raw, |l| l == "PONG"))?;
        hub.publish_with_reply("to.raw", "reply.here", "hello".into())
            .await?;
        hub.publish("to.rawq", "job".into()).await?;
        flush(&hub).await?;
        tokio::task::block_in_place(|| -> Result<()> {
            expect_line(&mut raw, |l| l == "LMSG to.raw reply.here 5")?;
            ensure!(raw.bytes(7)? == b"hello\r\n");
            expect_line(&mut raw, |l| l == "LMSG to.rawq | workers 3")?;
            ensure!(raw.bytes(5)? == b"job\r\n");
            Ok(())
        })?;

        // LMSG from the leaf reaches the hub's subscriber; one naming no
        // queue group does not reach the hub's queue members.
        let mut plain = subscribe(&hub, "from.raw").await?;
        let mut queued = queue_subscribe(&hub, "from.raw", "g").await?;
        round_trip(&hub).await?;
        raw.send(
            b"LMSG from.raw 2\r\nhi\r\nHMSG from.raw + r.1 g 12 14\r\nNATS/1.0\r\n\r\nyo\r\n",
        )?;
        let m = next_msg(&mut plain).await.context("step 5")?;
        ensure!(&m.payload[..] == b"hi", "{m:?}");
        let m = next_msg(&mut plain).await.context("step 6")?;
        ensure!(
            &m.payload[..] == b"yo" && m.reply.as_deref() == Some("r.1"),
            "{m:?}"
        );
        let m = next_msg(&mut queued).await.context("step 7")?;
        ensure!(&m.payload[..] == b"yo", "queue member got {m:?}");
        expect_no_msg(&mut queued).await?;

        // Its own loop-detection subject coming back is a loop.
        let lds = {
            let mut c = tokio::task::block_in_place(|| raw_leaf(leaf_port))?;
            tokio::task::block_in_place(|| expect_line(&mut c, |l| l.starts_with("LS+ $LDS.")))?
        };
        raw.send(format!("{}\r\n", lds).as_bytes())?;
        let closed = tokio::task::block_in_place(|| raw.read_to_close(WAIT))?;
        let text = String::from_utf8_lossy(&closed);
        ensure!(text.contains("Loop detected"), "{text:?}");
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_leaf_handshakes_are_refused() {
    each_target(|kind| async move {
        let leaf_port = free_port();
        let hub_broker = start_with_config(
            kind,
            &format!(
                "leafnodes {{\n  listen: \"127.0.0.1:{leaf_port}\"\n  authorization {{ user: leaf, password: s3cret }}\n}}\n"
            ),
        )?;
        // Wrong password.
        let mut c = tokio::task::block_in_place(|| RawClient::connect(&format!("127.0.0.1:{leaf_port}")))?;
        c.send(b"CONNECT {\"user\":\"leaf\",\"pass\":\"nope\"}\r\n")?;
        let text = String::from_utf8_lossy(&tokio::task::block_in_place(|| c.read_to_close(WAIT))?).into_owned();
        ensure!(text.contains("Authorization Violation"), "{text:?}");
        // A client on the leafnode port.
        let mut c = tokio::task::block_in_place(|| RawClient::connect(&format!("127.0.0.1:{leaf_port}")))?;
        c.send(b"CONNECT {\"user\":\"leaf\",\"pass\":\"s3cret\",\"lang\":\"rust\"}\r\n")?;
        let text = String::from_utf8_lossy(&tokio::task::block_in_place(|| c.read_to_close(WAIT))?).into_owned();
        ensure!(text.contains("attempted to connect to leaf node port"), "{text:?}");
        // Leaf protocol before CONNECT.
        let mut c = tokio::task::block_in_place(|| RawClient::connect(&format!("127.0.0.1:{leaf_port}")))?;
        c.send(b"LS+ foo\r\n")?;
        tokio::task::block_in_place(|| c.read_to_close(WAIT)).context("LS+ before CONNECT kept the link")?;
        // The right credentials link, and the hub still serves clients.
        let mut c = tokio::task::block_in_place(|| RawClient::connect(&format!("127.0.0.1:{leaf_port}")))?;
        c.send(b"CONNECT {\"user\":\"leaf\",\"pass\":\"s3cret\"}\r\nPING\r\n")?;
        tokio::task::block_in_place(|| expect_line(&mut c, |l| l == "PONG"))?;
        let client = connect(&hub_broker.url()).await?;
        flush(&client).await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn tern_leaf_with_credentials_and_deny_lists() {
    each_pair(|pair| async move {
        let leaf_port = free_port();
        let hub_broker = start_with_config(
            pair.0,
            &format!(
                "leafnodes {{\n  listen: \"127.0.0.1:{leaf_port}\"\n  authorization {{ user: leaf, password: s3cret }}\n}}\n"
            ),
        )?;
        let leaf_broker = start_with_config(
            pair.1,
            &format!(
                "leafnodes {{\n  reconnect: 1\n  remotes [ {{ url: \"nats-leaf://leaf:s3cret@127.0.0.1:{leaf_port}\", deny_exports: [\"secret.>\"], deny_imports: [\"noisy.>\"] }} ]\n}}\n"
            ),
        )?;
        let hub = connect(&hub_broker.url()).await?;
        let leaf = connect(&leaf_broker.url()).await?;
        let mut up = subscribe(&hub, ">").await?;
        await_path(&leaf, "open", &mut up).await?;
        leaf.publish("secret.plans", "x".into()).await?;
        leaf.publish("open", "ok".into()).await?;
        flush(&leaf).await?;
        let m = next_msg(&mut up).await.context("step 8")?;
        ensure!(m.subject.as_str() == "open", "denied export crossed: {m:?}");

        let mut down = subscribe(&leaf, ">").await?;
        await_path(&hub, "fine", &mut down).await?;
        hub.publish("noisy.data", "x".into()).await?;
        hub.publish("fine", "ok".into()).await?;
        flush(&hub).await?;
        let m = next_msg(&mut down).await.context("step 9")?;
        ensure!(m.subject.as_str() == "fine", "denied import crossed: {m:?}");
        Ok(())
    })
    .await;
}

/// `/leafz` and `/varz` on both ends of a link, Tern's compared field by
/// field with nats-server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitoring_shows_the_link_like_nats_server() {
    use common::monitoring::{shape_diff, NO_SYSTEM_ACCOUNT};
    use tern_tests::http_get;

    async fn observe(kind: Kind) -> Result<[serde_json::Value; 4]> {
        let leaf_port = free_port();
        let (hub_http, leaf_http) = (free_port(), free_port());
        let hub = start_with_config(
            kind,
            &format!(
                "{NO_SYSTEM_ACCOUNT}http: {hub_http}\n{}",
                hub_config(leaf_port)
            ),
        )?;
        let leaf = start_with_config(
            kind,
            &format!(
                "{NO_SYSTEM_ACCOUNT}http: {leaf_http}\n{}",
                leaf_config(leaf_port, "")
            ),
        )?;
        let hub_client = connect(&hub.url()).await?;
        let leaf_client = connect(&leaf.url()).await?;
        let mut at_leaf = subscribe(&leaf_client, "mon.x").await?;
        await_path(&hub_client, "mon.x", &mut at_leaf).await?;
        let get = |port: u16, path: &str| -> Result<serde_json::Value> {
            let r = tokio::task::block_in_place(|| http_get(port, path))?;
            ensure!(r.status == 200, "GET {path}: {}", r.status);
            r.json()
        };
        Ok([
            get(hub_http, "/leafz?subs=1")?,
            get(leaf_http, "/leafz?subs=1")?,
            get(hub_http, "/varz")?,
            get(leaf_http, "/varz")?,
        ])
    }

    let ours = observe(Kind::Tern).await.expect("tern");
    let theirs = observe(Kind::NatsServer).await.expect("nats-server");
    for (side, at) in [("hub", 0), ("leaf", 1)] {
        let l = &ours[at];
        assert_eq!(l["leafnodes"], 1, "{side}: {l:#}");
        let link = &l["leafs"][0];
        assert_eq!(link["is_spoke"], at == 1, "{side}: {link:#}");
        assert_eq!(link["account"], "$G", "{side}: {link:#}");
        let diff = shape_diff(l, &theirs[at], &[], &[]);
        assert!(
            diff.is_empty(),
            "{side} /leafz differs from nats-server: {diff:?}\nours {l:#}\ntheirs {:#}",
            theirs[at]
        );
    }
    let hub_subs = ours[0]["leafs"][0]["subscriptions_list"].to_string();
    assert!(hub_subs.contains("mon.x"), "{hub_subs}");
    for (side, at) in [("hub", 2), ("leaf", 3)] {
        assert_eq!(ours[at]["leafnodes"], 1, "{side}");
        let diff = shape_diff(&ours[at]["leaf"], &theirs[at]["leaf"], &[], &[]);
        assert!(
            diff.is_empty(),
            "{side} /varz leaf differs: {diff:?}\nours {:#}\ntheirs {:#}",
            ours[at]["leaf"],
            theirs[at]["leaf"]
        );
    }
}

/// A leaf on a slow, long uplink (250 ms each way, 100 kbit/s), both
/// directions saturated for seconds while the ping interval is 500 ms:
/// the handshake completes, nothing is lost, and the link never flaps
/// (nats-server issues #5417 and #7615).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_long_link_stays_up_under_load() -> Result<()> {
    use tern_tests::slow_link::SlowLink;
    let leaf_port = free_port();
    let pings = "ping_interval: \"500ms\"\nping_max: 2\n";
    let hub = start_with_config(Kind::Tern, &format!("{pings}{}", hub_config(leaf_port)))?;
    let link = SlowLink::start(
        format!("127.0.0.1:{leaf_port}").parse()?,
        Duration::from_millis(250),
        12_500,
    )
    .await?;
    let leaf = start_with_config(
        Kind::Tern,
        &format!("{pings}{}", leaf_config(link.addr.port(), "")),
    )?;
    let hub_client = connect(&hub.url()).await?;
    let leaf_client = connect(&leaf.url()).await?;
    let mut up = subscribe(&hub_client, "bulk.up").await?;
    let mut down = subscribe(&leaf_client, "bulk.down").await?;
    await_path(&leaf_client, "bulk.up", &mut up).await?;
    await_path(&hub_client, "bulk.down", &mut down).await?;

    // About 40 KiB one way, then the other: over three seconds of link
    // time each, while the opposite direction is idle (so only the
    // PINGs stuck behind the data could say whether the peer lives).
    let chunk = vec![b'x'; 1000];
    for (name, from, sub) in [
        ("up", &leaf_client, &mut up),
        ("down", &hub_client, &mut down),
    ] {
        let subject = format!("bulk.{name}");
        for i in 0..40u32 {
            let mut payload = i.to_be_bytes().to_vec();
            payload.extend_from_slice(&chunk);
            from.publish(subject.clone(), payload.into()).await?;
        }
        flush(from).await?;
        for i in 0..40u32 {
            let m = tokio::time::timeout(Duration::from_secs(20), sub.next())
                .await
                .with_context(|| format!("{name}: message {i} not delivered"))?
                .context("subscription ended")?;
            ensure!(
                m.payload[..4] == i.to_be_bytes(),
                "{name}: out of order at {i}"
            );
        }
    }
    for (side, broker) in [("leaf", &leaf), ("hub", &hub)] {
        let log = broker.stderr();
        let created = log.matches("Leafnode connection created for").count();
        let closed = log.matches("Leafnode connection closed").count();
        ensure!(
            created == 1 && closed == 0,
            "the link flapped ({side}):\n{log}"
        );
    }
    Ok(())
}

/// A backlog that takes the link longer than the write deadline (10 s) to
/// drain, on a link that keeps moving (2 MB/s): the link stays up and
/// everything arrives, in order. A link is cut only when it stops taking
/// bytes, as with nats-server's `retry` write timeout for leaf links.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_longer_than_the_write_deadline_is_delivered() -> Result<()> {
    use tern_tests::slow_link::SlowLink;
    let leaf_port = free_port();
    let hub = start_with_config(Kind::Tern, &hub_config(leaf_port))?;
    let link = SlowLink::start(
        format!("127.0.0.1:{leaf_port}").parse()?,
        Duration::from_millis(5),
        2_000_000,
    )
    .await?;
    // Frequent timer wakes, so a deadline would be noticed at once.
    let pings = "ping_interval: \"1s\"\n";
    let leaf = start_with_config(
        Kind::Tern,
        &format!("{pings}{}", leaf_config(link.addr.port(), "")),
    )?;
    let hub_client = connect(&hub.url()).await?;
    let leaf_client = connect(&leaf.url()).await?;
    let mut up = subscribe(&hub_client, "bulk.up").await?;
    await_path(&leaf_client, "bulk.up", &mut up).await?;
    // 12 MiB: far more than socket buffers hold, and (the proxy's pacing
    // included) about 20 s of link time.
    let n = 192u32;
    let chunk = vec![b'x'; 64 * 1024];
    let started = std::time::Instant::now();
    for i in 0..n {
        let mut payload = i.to_be_bytes().to_vec();
        payload.extend_from_slice(&chunk);
        leaf_client.publish("bulk.up", payload.into()).await?;
    }
    flush(&leaf_client).await?;
    for i in 0..n {
        let m = tokio::time::timeout(Duration::from_secs(60), up.next())
            .await
            .with_context(|| format!("message {i} not delivered"))?
            .context("subscription ended")?;
        ensure!(m.payload[..4] == i.to_be_bytes(), "out of order at {i}");
    }
    let took = started.elapsed();
    let log = leaf.stderr();
    ensure!(
        log.matches("Leafnode connection closed").count() == 0,
        "the link was cut after {took:?}:\n{log}"
    );
    ensure!(
        took > Duration::from_secs(10),
        "the backlog drained in {took:?}: the test did not outlast the write deadline"
    );
    Ok(())
}

/// A remote that is not there yet: its first failed dial is an error line
/// naming the attempt, then every `connect_error_reports`-th (nats-server
/// would wait for the 3600th by default).
#[tokio::test]
async fn failed_dials_are_reported_every_connect_error_reports() {
    each_target(|kind| async move {
        let absent = free_port();
        let config = format!("connect_error_reports: 2\n{}", leaf_config(absent, ""));
        let leaf = start_with_config(kind, &config)?;
        let want = |n: u32| {
            format!("[ERR] Error trying to connect as leafnode to remote server \"127.0.0.1:{absent}\" (attempt {n}):")
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let log = leaf.stderr();
            if log.contains(&want(1)) && log.contains(&want(2)) {
                return Ok(());
            }
            ensure!(std::time::Instant::now() < deadline, "no report of attempts 1 and 2:\n{log}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

/// edge-configs/hub.* and iot-gateway-leaf.* as shipped, with only ports,
/// host and store paths rewritten for the test: the gateway links to the
/// hub with the shipped credentials and its deny lists hold. The `.conf`
/// hub also runs under nats-server (the file promises it does).
#[tokio::test]
async fn edge_configs_link_a_gateway_to_its_hub() {
    each_target(|hub_kind| async move {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../edge-configs");
        let exts: &[&str] = match hub_kind {
            Kind::Tern => &["conf", "toml"],
            Kind::NatsServer => &["conf"],
        };
        for ext in exts {
            let (hub_store, leaf_store) = (tempfile::tempdir()?, tempfile::tempdir()?);
            let leaf_port = free_port();
            let rewrite = |text: String, store: &tempfile::TempDir| {
                text.replace("0.0.0.0:7422", &format!("127.0.0.1:{leaf_port}"))
                    .replace("hub.example.com:7422", &format!("127.0.0.1:{leaf_port}"))
                    .replace("8222", &free_port().to_string())
                    .replace("/var/lib/tern", &store.path().display().to_string())
            };
            let read = |name: String| std::fs::read_to_string(root.join(name));
            let hub_text = rewrite(read(format!("hub.{ext}"))?, &hub_store);
            let leaf_text = rewrite(read(format!("iot-gateway-leaf.{ext}"))?, &leaf_store);
            let options = |text: String| tern_tests::BrokerOptions {
                config: Some(text),
                config_name: Some(format!("broker.{ext}")),
                ..Default::default()
            };
            let hub = Broker::start_with(hub_kind, options(hub_text))
                .with_context(|| format!("hub.{ext}"))?;
            let leaf = Broker::start_with(Kind::Tern, options(leaf_text))
                .with_context(|| format!("iot-gateway-leaf.{ext}"))?;
            let hub_client = connect(&hub.url()).await?;
            let site = connect(&leaf.url()).await?;
            let mut at_hub = subscribe(&hub_client, "site.>").await?;
            await_path(&site, "site.telemetry", &mut at_hub)
                .await
                .context(*ext)?;
            site.publish("site.internal.debug", "stays".into()).await?;
            site.publish("site.telemetry", "up".into()).await?;
            flush(&site).await?;
            let m = next_msg(&mut at_hub).await?;
            ensure!(m.subject.as_str() == "site.telemetry", "{ext}: {m:?}");
            let mut at_site = subscribe(&site, "fleet.>").await?;
            await_path(&hub_client, "fleet.cmd", &mut at_site)
                .await
                .context(*ext)?;
            hub_client.publish("fleet.debug.x", "noise".into()).await?;
            hub_client.publish("fleet.cmd", "reboot".into()).await?;
            flush(&hub_client).await?;
            let m = next_msg(&mut at_site).await?;
            ensure!(m.subject.as_str() == "fleet.cmd", "{ext}: {m:?}");
        }
        Ok(())
    })
    .await;
}

/// Two leaves of one hub reach each other through it: interest from one
/// leaf is passed on to the other, never back to its origin.
#[tokio::test]
async fn leaves_of_one_hub_reach_each_other() {
    each_pair(|pair| async move {
        let leaf_port = free_port();
        let hub = start_with_config(pair.0, &hub_config(leaf_port))?;
        let a = start_with_config(pair.1, &leaf_config(leaf_port, ""))?;
        let b = start_with_config(pair.1, &leaf_config(leaf_port, ""))?;
        let a = connect(&a.url()).await?;
        let b = connect(&b.url()).await?;
        let _hub = hub;
        let mut at_b = subscribe(&b, "east.west").await?;
        await_path(&a, "east.west", &mut at_b).await?;
        let mut at_a = queue_subscribe(&a, "jobs", "workers").await?;
        await_path(&b, "jobs", &mut at_a).await?;
        for i in 0..5 {
            b.publish("jobs", format!("j{i}").into()).await?;
        }
        flush(&b).await?;
        for _ in 0..5 {
            next_msg(&mut at_a).await?;
        }
        expect_no_msg(&mut at_a).await?;
        Ok(())
    })
    .await;
}

/// Links in WebSocket frames: a leaf dials `ws://` the hub's websocket port
/// (path `/leafnode`), every pairing of Tern and nats-server, with and
/// without permessage-deflate.
#[tokio::test]
async fn links_over_websocket() {
    each_pair(|pair| async move {
        for compression in [false, true] {
            let (leaf_port, ws_port) = (free_port(), free_port());
            let hub = start_with_config(
                pair.0,
                &format!(
                    "{}websocket {{\n  listen: \"127.0.0.1:{ws_port}\"\n  no_tls: true\n  compression: {compression}\n}}\n",
                    hub_config(leaf_port)
                ),
            )?;
            let leaf = start_with_config(
                pair.1,
                &format!(
                    "leafnodes {{\n  reconnect: 1\n  remotes [ {{ url: \"ws://127.0.0.1:{ws_port}\", ws_compression: {compression} }} ]\n}}\n"
                ),
            )?;
            let hub_client = connect(&hub.url()).await?;
            let leaf_client = connect(&leaf.url()).await?;
            let mut up = subscribe(&hub_client, "ws.up").await?;
            await_path(&leaf_client, "ws.up", &mut up)
                .await
                .with_context(|| format!("compression {compression}"))?;
            let big = vec![b'z'; 200_000];
            leaf_client.publish("ws.up", big.clone().into()).await?;
            flush(&leaf_client).await?;
            let m = next_msg(&mut up).await?;
            ensure!(m.payload.len() == big.len(), "compression {compression}: {} bytes", m.payload.len());

            let mut down = subscribe(&leaf_client, "ws.down").await?;
            await_path(&hub_client, "ws.down", &mut down).await?;
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("X-Via", "ws");
            hub_client
                .publish_with_headers("ws.down", headers, "hi".into())
                .await?;
            flush(&hub_client).await?;
            let m = next_msg(&mut down).await?;
            ensure!(m.headers.as_ref().and_then(|h| h.get("X-Via")).map(|v| v.as_str()) == Some("ws"), "{m:?}");
        }
        Ok(())
    })
    .await;
}
