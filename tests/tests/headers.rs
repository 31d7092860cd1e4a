//! Message headers: HPUB/HMSG framing, multi-value headers through
//! async-nats, and what a client that did not declare `headers:true` gets
//! (nats-server strips the headers and sends a plain MSG with the payload).

mod common;

use anyhow::ensure;
use async_nats::HeaderMap;
use bytes::Bytes;
use common::*;
use tern_tests::Broker;

const HDR_CONNECT: &str = r#"{"verbose":false,"pedantic":false,"headers":true}"#;

#[test]
fn hmsg_framing_is_exact() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut sub = raw(&b.addr(), HDR_CONNECT)?;
        sub.send(b"SUB foo 1\r\n")?;
        sync(&mut sub)?;
        let mut publ = raw(&b.addr(), HDR_CONNECT)?;
        publ.send(
            b"HPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n\
              HPUB foo reply.x 12 12\r\nNATS/1.0\r\n\r\n\r\n\
              HPUB foo 33 35\r\nNATS/1.0\r\nA: 1\r\nA: 2\r\nBb: x y\r\n\r\nhi\r\n",
        )?;
        ensure!(sync(&mut publ)? == "PONG\r\n");
        let got = sync(&mut sub)?;
        let want = "HMSG foo 1 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n\
                    HMSG foo 1 reply.x 12 12\r\nNATS/1.0\r\n\r\n\r\n\
                    HMSG foo 1 33 35\r\nNATS/1.0\r\nA: 1\r\nA: 2\r\nBb: x y\r\n\r\nhi\r\n\
                    PONG\r\n";
        ensure!(got == want, "got  {got:?}\nwant {want:?}");
        Ok(())
    });
}

#[test]
fn client_without_headers_gets_payload_only() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut plain = raw(&b.addr(), CONNECT_PLAIN)?;
        let mut off = raw(
            &b.addr(),
            r#"{"verbose":false,"pedantic":false,"headers":false}"#,
        )?;
        for c in [&mut plain, &mut off] {
            c.send(b"SUB foo 1\r\n")?;
            sync(c)?;
        }
        let mut publ = raw(&b.addr(), HDR_CONNECT)?;
        publ.send(b"HPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\nHPUB foo r 12 12\r\nNATS/1.0\r\n\r\n\r\n")?;
        ensure!(sync(&mut publ)? == "PONG\r\n");
        for (name, c) in [
            ("no headers field", &mut plain),
            ("headers:false", &mut off),
        ] {
            let got = sync(c)?;
            ensure!(
                got == "MSG foo 1 5\r\nhello\r\nMSG foo 1 r 0\r\n\r\nPONG\r\n",
                "{name}: got {got:?}"
            );
        }
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_value_headers_round_trip() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let client = connect(&b.url()).await?;
        ensure!(
            client.server_info().headers,
            "INFO does not advertise headers"
        );
        let mut sub = subscribe(&client, "hdr").await?;

        let mut headers = HeaderMap::new();
        headers.insert("Content-Type", "application/json");
        headers.append("X-Multi", "one");
        headers.append("X-Multi", "two");
        headers.append("X-Multi", "three");
        headers.insert("X-Empty-Payload", "yes");
        client
            .publish_with_headers("hdr", headers.clone(), Bytes::from(r#"{"a":1}"#))
            .await?;
        client
            .publish_with_headers("hdr", headers, Bytes::new())
            .await?;
        flush(&client).await?;

        for expected_payload in [&br#"{"a":1}"#[..], b""] {
            let m = next_msg(&mut sub).await?;
            ensure!(m.payload == expected_payload, "payload {:?}", m.payload);
            let h = m
                .headers
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("headers missing"))?;
            ensure!(m.status.is_none(), "status {:?}", m.status);
            ensure!(
                h.get("Content-Type").map(|v| v.as_str()) == Some("application/json"),
                "Content-Type {:?}",
                h.get("Content-Type")
            );
            let multi: Vec<&str> = h.get_all("X-Multi").map(|v| v.as_str()).collect();
            ensure!(multi == ["one", "two", "three"], "X-Multi {multi:?}");
        }
        Ok(())
    })
    .await;
}

/// Headers given to a request arrive at the responder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_on_request() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let client = connect(&b.url()).await?;
        let mut sub = subscribe(&client, "svc.h").await?;
        let mut headers = HeaderMap::new();
        headers.insert("Trace-Id", "abc123");
        let request = async_nats::Request::new()
            .headers(headers)
            .payload(Bytes::from("q"))
            .timeout(Some(std::time::Duration::from_secs(5)));
        let c2 = client.clone();
        let req = tokio::spawn(async move { c2.send_request("svc.h", request).await });
        let m = next_msg(&mut sub).await?;
        let trace = m
            .headers
            .as_ref()
            .and_then(|h| h.get("Trace-Id"))
            .map(|v| v.as_str().to_string());
        ensure!(trace.as_deref() == Some("abc123"), "Trace-Id {trace:?}");
        let mut reply_headers = HeaderMap::new();
        reply_headers.insert("Answered-By", "test");
        client
            .publish_with_headers(m.reply.clone().unwrap(), reply_headers, Bytes::from("a"))
            .await?;
        let resp = req.await??;
        ensure!(resp.payload == "a");
        let by = resp
            .headers
            .as_ref()
            .and_then(|h| h.get("Answered-By"))
            .map(|v| v.as_str().to_string());
        ensure!(by.as_deref() == Some("test"), "Answered-By {by:?}");
        Ok(())
    })
    .await;
}

/// The header block is passed through verbatim, even when it is not a
/// well-formed `NATS/1.0` block.
#[test]
fn header_block_passed_through_verbatim() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), HDR_CONNECT)?;
        c.send(b"SUB foo 1\r\nHPUB foo 2 5\r\nab345\r\n")?;
        let got = sync(&mut c)?;
        ensure!(got == "HMSG foo 1 2 5\r\nab345\r\nPONG\r\n", "got {got:?}");
        Ok(())
    });
}

/// `HPUB` with a header size of 0 is delivered as a plain `MSG`.
#[test]
fn hpub_with_empty_header_block_is_a_plain_message() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), HDR_CONNECT)?;
        c.send(b"SUB foo 1\r\nHPUB foo 0 3\r\n345\r\n")?;
        let got = sync(&mut c)?;
        ensure!(got == "MSG foo 1 3\r\n345\r\nPONG\r\n", "got {got:?}");
        Ok(())
    });
}
