//! Request/reply: async-nats `request` against a responder, no-responders
//! (status 503 sent to clients that asked for it), timeouts, and the exact
//! bytes of the no-responders HMSG.

mod common;

use std::time::Duration;

use anyhow::{bail, ensure};
use async_nats::{ConnectOptions, RequestErrorKind};
use bytes::Bytes;
use common::*;
use futures::StreamExt;
use tern_tests::Broker;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_gets_reply() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let server = connect(&b.url()).await?;
        let mut reqs = subscribe(&server, "math.double").await?;
        let responder = tokio::spawn(async move {
            while let Some(m) = reqs.next().await {
                let n: i64 = std::str::from_utf8(&m.payload)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0);
                if let Some(reply) = m.reply {
                    let _ = server
                        .publish(reply, Bytes::from((n * 2).to_string()))
                        .await;
                    let _ = server.flush().await;
                }
            }
        });
        let client = connect(&b.url()).await?;
        for n in [0i64, 1, 21, -4, 1000] {
            let resp = client
                .request("math.double", Bytes::from(n.to_string()))
                .await?;
            ensure!(
                resp.payload == (n * 2).to_string(),
                "{n} doubled is {:?}",
                resp.payload
            );
        }
        responder.abort();
        Ok(())
    })
    .await;
}

/// A responder in a queue group (the usual service shape) answers; the
/// request is not reported as having no responders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_group_responder_answers() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let server = connect(&b.url()).await?;
        let mut reqs = queue_subscribe(&server, "svc.echo", "workers").await?;
        let responder = tokio::spawn(async move {
            while let Some(m) = reqs.next().await {
                if let Some(reply) = m.reply {
                    let _ = server.publish(reply, m.payload).await;
                    let _ = server.flush().await;
                }
            }
        });
        let client = connect(&b.url()).await?;
        for i in 0..3 {
            let resp = tokio::time::timeout(
                Duration::from_secs(5),
                client.request("svc.echo", Bytes::from(format!("r{i}"))),
            )
            .await??;
            ensure!(resp.payload == format!("r{i}"), "{resp:?}");
        }
        responder.abort();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_responders_error() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let client = connect(&b.url()).await?;
        let started = std::time::Instant::now();
        match client.request("nobody.home", Bytes::from("?")).await {
            Ok(m) => bail!("expected no responders, got a reply {:?}", m),
            Err(e) => ensure!(
                e.kind() == RequestErrorKind::NoResponders,
                "expected NoResponders, got {e:?}"
            ),
        }
        // Answered at once, not after the request timeout.
        ensure!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_times_out_when_responder_is_silent() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let silent = connect(&b.url()).await?;
        let _sub = subscribe(&silent, "silent").await?;
        let client = connect_with(
            &b.url(),
            ConnectOptions::new().request_timeout(Some(Duration::from_millis(300))),
        )
        .await?;
        match client.request("silent", Bytes::from("?")).await {
            Ok(m) => bail!("expected a timeout, got {:?}", m),
            Err(e) => ensure!(
                e.kind() == RequestErrorKind::TimedOut,
                "expected TimedOut, got {e:?}"
            ),
        }
        Ok(())
    })
    .await;
}

/// The exact no-responders message: an HMSG to the reply subject with the
/// status line `NATS/1.0 503` (nats-server also names the subject in a
/// `Nats-Subject` header).
#[test]
fn raw_no_responders_bytes() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(
            &b.addr(),
            r#"{"headers":true,"no_responders":true,"verbose":false}"#,
        )?;
        c.send(b"SUB _INBOX.x 1\r\nPUB nobody _INBOX.x 0\r\n\r\n")?;
        let got = sync(&mut c)?;
        let want =
            "HMSG _INBOX.x 1 38 38\r\nNATS/1.0 503\r\nNats-Subject: nobody\r\n\r\n\r\nPONG\r\n";
        ensure!(got == want, "got  {got:?}\nwant {want:?}");

        // With a payload, and via HPUB with a different sid: the same shape.
        c.send(b"SUB _INBOX.y 7\r\nHPUB nobody.else _INBOX.y 12 17\r\nNATS/1.0\r\n\r\nhello\r\n")?;
        let got = sync(&mut c)?;
        let want = "HMSG _INBOX.y 7 43 43\r\nNATS/1.0 503\r\nNats-Subject: nobody.else\r\n\r\n\r\nPONG\r\n";
        ensure!(got == want, "got  {got:?}\nwant {want:?}");

        // No reply subject, no status message.
        c.send(b"PUB nobody 0\r\n\r\n")?;
        ensure!(sync(&mut c)? == "PONG\r\n");
        Ok(())
    });
}

/// Clients that did not ask for no_responders get nothing back.
#[test]
fn raw_no_status_without_no_responders() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(
            &b.addr(),
            r#"{"headers":true,"no_responders":false,"verbose":false}"#,
        )?;
        c.send(b"SUB _INBOX.x 1\r\nPUB nobody _INBOX.x 0\r\n\r\n")?;
        let got = sync(&mut c)?;
        ensure!(got == "PONG\r\n", "got {got:?}");
        let mut c = raw(&b.addr(), r#"{"headers":true,"verbose":false}"#)?;
        c.send(b"SUB _INBOX.x 1\r\nPUB nobody _INBOX.x 0\r\n\r\n")?;
        let got = sync(&mut c)?;
        ensure!(got == "PONG\r\n", "got {got:?}");
        Ok(())
    });
}

/// A reply to a request is delivered like any message: the responder
/// publishes to the reply subject the requester subscribed to.
#[test]
fn raw_request_reply_round_trip() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut responder = raw(&b.addr(), CONNECT_PLAIN)?;
        responder.send(b"SUB svc.echo 1\r\n")?;
        sync(&mut responder)?;
        let mut requester = raw(
            &b.addr(),
            r#"{"headers":true,"no_responders":true,"verbose":false,"pedantic":false}"#,
        )?;
        requester.send(b"SUB _INBOX.r.* 9\r\nPUB svc.echo _INBOX.r.1 4\r\nping\r\n")?;
        sync(&mut requester)?;
        let got = sync(&mut responder)?;
        ensure!(
            got == "MSG svc.echo 1 _INBOX.r.1 4\r\nping\r\nPONG\r\n",
            "responder got {got:?}"
        );
        responder.send(b"PUB _INBOX.r.1 4\r\npong\r\n")?;
        sync(&mut responder)?;
        let got = sync(&mut requester)?;
        ensure!(
            got == "MSG _INBOX.r.1 9 4\r\npong\r\nPONG\r\n",
            "requester got {got:?}"
        );
        Ok(())
    });
}
