//! Server limits from a config file (nats-server `.conf` syntax):
//! max_payload, max_control_line, max_connections, max_subscriptions,
//! max_sub_tokens, and the stale-connection check (ping_interval /
//! ping_max); `disable_sublist_cache` changes nothing a client sees.

mod common;

use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use bytes::Bytes;
use common::*;
use tern_tests::RawClient;

#[test]
fn max_payload_violation_closes_the_connection() {
    each_target_blocking(|kind| {
        let b = start_with_config(kind, "max_payload: 1024\n")?;
        let mut c = raw(
            &b.addr(),
            r#"{"verbose":false,"pedantic":false,"headers":true}"#,
        )?;
        let info = info_json(&c.info)?;
        ensure!(
            info["max_payload"] == 1024,
            "INFO max_payload is {}",
            info["max_payload"]
        );

        // Exactly max_payload is fine.
        let body = "x".repeat(1024);
        c.send(format!("SUB big 1\r\nPUB big 1024\r\n{body}\r\n").as_bytes())?;
        let got = sync(&mut c)?;
        ensure!(
            got == format!("MSG big 1 1024\r\n{body}\r\nPONG\r\n"),
            "1024-byte publish: got {} bytes",
            got.len()
        );

        // One byte more: -ERR and close, before the payload is even read.
        c.send(b"PUB big 1025\r\n")?;
        let got = c.read_to_close(Duration::from_secs(3))?;
        ensure!(
            got == b"-ERR 'Maximum Payload Violation'\r\n",
            "PUB 1025: got {:?}",
            String::from_utf8_lossy(&got)
        );

        // For HPUB the total (headers + payload) counts.
        let mut c = raw(
            &b.addr(),
            r#"{"verbose":false,"pedantic":false,"headers":true}"#,
        )?;
        c.send(b"HPUB big 12 1025\r\n")?;
        let got = c.read_to_close(Duration::from_secs(3))?;
        ensure!(
            got == b"-ERR 'Maximum Payload Violation'\r\n",
            "HPUB 12 1025: got {:?}",
            String::from_utf8_lossy(&got)
        );
        Ok(())
    });
}

/// async-nats learns max_payload from INFO and refuses bigger publishes
/// itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_nats_sees_max_payload() {
    each_target(|kind| async move {
        let b = start_with_config(kind, "max_payload: 1024\n")?;
        let client = connect(&b.url()).await?;
        ensure!(
            client.server_info().max_payload == 1024,
            "max_payload {}",
            client.server_info().max_payload
        );
        let mut sub = subscribe(&client, "p").await?;
        client.publish("p", Bytes::from(vec![1u8; 1024])).await?;
        ensure!(
            client
                .publish("p", Bytes::from(vec![1u8; 1025]))
                .await
                .is_err(),
            "1025-byte publish accepted"
        );
        flush(&client).await?;
        let m = next_msg(&mut sub).await?;
        ensure!(m.payload.len() == 1024);
        expect_no_msg(&mut sub).await
    })
    .await;
}

#[test]
fn configured_max_control_line() {
    each_target_blocking(|kind| {
        let b = start_with_config(kind, "max_control_line: 256\n")?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        let ok = format!("PUB {} 1\r\nx\r\n", "a".repeat(200));
        c.send(ok.as_bytes())?;
        ensure!(sync(&mut c)? == "PONG\r\n");
        let too_long = format!("PUB {} 1\r\nx\r\n", "a".repeat(300));
        c.send(too_long.as_bytes())?;
        let got = c.read_to_close(Duration::from_secs(3))?;
        ensure!(
            got == b"-ERR 'maximum control line exceeded'\r\n",
            "got {:?}",
            String::from_utf8_lossy(&got)
        );
        Ok(())
    });
}

#[test]
fn max_connections() {
    each_target_blocking(|kind| {
        let b = start_with_config(kind, "max_connections: 2\n")?;
        // The harness's readiness probe may still count against the limit
        // for a moment after it hung up, so the first two retry until admitted.
        let mut first = admitted(&b.addr())?;
        let mut second = admitted(&b.addr())?;
        // The third gets INFO, then the error, then EOF.
        let mut third = RawClient::connect(&b.addr()).context("third connection: no INFO")?;
        let got = third.read_to_close(Duration::from_secs(3))?;
        ensure!(
            got == b"-ERR 'maximum connections exceeded'\r\n",
            "third connection got {:?}",
            String::from_utf8_lossy(&got)
        );
        // The first two are unaffected.
        ensure!(sync(&mut first)? == "PONG\r\n");
        ensure!(sync(&mut second)? == "PONG\r\n");
        // Once one leaves, a new client may connect.
        drop(first);
        admitted(&b.addr()).context("no room after a client left")?;
        Ok(())
    });
}

/// Connect (CONNECT + PING/PONG), retrying while the server still refuses
/// for lack of room.
fn admitted(addr: &str) -> anyhow::Result<RawClient> {
    let deadline = Instant::now() + WAIT;
    loop {
        match raw(addr, CONNECT_PLAIN) {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[test]
fn max_subscriptions() {
    each_target_blocking(|kind| {
        let b = start_with_config(kind, "max_subscriptions: 2\n")?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        c.send(b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n")?;
        let got = sync(&mut c)?;
        ensure!(
            got == "-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n",
            "got {got:?}"
        );
        // Still open; the first two work, the third does not exist.
        c.send(b"PUB a 1\r\n1\r\nPUB b 1\r\n2\r\nPUB c 1\r\n3\r\n")?;
        let got = sync(&mut c)?;
        ensure!(
            got == "MSG a 1 1\r\n1\r\nMSG b 2 1\r\n2\r\nPONG\r\n",
            "got {got:?}"
        );
        // Unsubscribing frees a slot.
        c.send(b"UNSUB 1\r\nSUB c 3\r\nPUB c 1\r\n3\r\n")?;
        let got = sync(&mut c)?;
        ensure!(got == "MSG c 3 1\r\n3\r\nPONG\r\n", "got {got:?}");
        // The limit is per connection.
        let mut other = raw(&b.addr(), CONNECT_PLAIN)?;
        other.send(b"SUB a 1\r\nSUB b 2\r\n")?;
        ensure!(sync(&mut other)? == "PONG\r\n");
        Ok(())
    });
}

#[test]
fn max_sub_tokens() {
    each_target_blocking(|kind| {
        let b = start_with_config(kind, "max_sub_tokens: 3\ndisable_sublist_cache: true\n")?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        c.send(b"SUB a.b.c 1\r\nSUB a.b.c.d 2\r\nSUB a.*.> 3\r\n")?;
        let got = sync(&mut c)?;
        ensure!(
            got == "-ERR 'Permissions Violation for Subscription to \"a.b.c.d\", too many tokens'\r\nPONG\r\n",
            "got {got:?}"
        );
        // Still open; the others work, uncached publish after publish.
        for _ in 0..2 {
            c.send(b"PUB a.b.c 1\r\n1\r\nPUB a.b.c.d 1\r\n2\r\n")?;
            let got = sync(&mut c)?;
            ensure!(
                got == "MSG a.b.c 3 1\r\n1\r\nMSG a.b.c 1 1\r\n1\r\nMSG a.b.c.d 3 1\r\n2\r\nPONG\r\n",
                "got {got:?}"
            );
        }
        let log = b.stderr();
        ensure!(
            log.contains("Subscription Violation Too Many Tokens - Subject \"a.b.c.d\", SID 2"),
            "{log}"
        );
        Ok(())
    });
}

/// A client that never answers PING: after ping_max unanswered PINGs the
/// server sends `-ERR 'Stale Connection'` and closes.
#[test]
fn stale_connection() {
    each_target_blocking(|kind| {
        let b = start_with_config(kind, "ping_interval: \"250ms\"\nping_max: 1\n")?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        let started = Instant::now();
        let got = c.read_to_close(Duration::from_secs(5))?;
        let took = started.elapsed();
        ensure!(
            got == b"PING\r\n-ERR 'Stale Connection'\r\n",
            "got {:?}",
            String::from_utf8_lossy(&got)
        );
        ensure!(
            took < Duration::from_secs(3),
            "stale after {took:?} with a 250ms ping interval"
        );
        Ok(())
    });
}

/// A client that answers the server's PINGs stays connected.
#[test]
fn answered_pings_keep_the_connection() {
    each_target_blocking(|kind| {
        let b = start_with_config(kind, "ping_interval: \"250ms\"\nping_max: 1\n")?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        let started = Instant::now();
        let mut pings = 0;
        while started.elapsed() < Duration::from_millis(1500) {
            let line = c.line().context("waiting for PING")?;
            ensure!(line == "PING", "got {line:?}");
            pings += 1;
            c.send(b"PONG\r\n")?;
        }
        ensure!(pings >= 2, "only {pings} PINGs in 1.5s");
        ensure!(sync(&mut c)?.ends_with("PONG\r\n"));
        Ok(())
    });
}
