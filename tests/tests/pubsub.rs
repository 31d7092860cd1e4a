//! Core publish/subscribe: PUB, SUB, UNSUB (incl. auto-unsubscribe after N
//! messages), MSG framing, PING/PONG — exact bytes with a raw client, and
//! ordering, fan-out and large payloads with async-nats.

mod common;

use anyhow::ensure;
use bytes::Bytes;
use common::*;
use futures::StreamExt;
use tern_tests::Broker;

#[test]
fn msg_framing_is_exact() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut sub = raw(&b.addr(), CONNECT_PLAIN)?;
        sub.send(b"SUB foo 1\r\nSUB bar 22\r\n")?;
        sync(&mut sub)?;
        let mut publ = raw(&b.addr(), CONNECT_PLAIN)?;
        publ.send(b"PUB foo 5\r\nhello\r\nPUB bar reply.to 0\r\n\r\nPUB foo 4\r\na\r\nb\r\nPUB nobody 1\r\nx\r\n")?;
        ensure!(sync(&mut publ)? == "PONG\r\n");
        let got = sync(&mut sub)?;
        ensure!(
            got == "MSG foo 1 5\r\nhello\r\nMSG bar 22 reply.to 0\r\n\r\nMSG foo 1 4\r\na\r\nb\r\nPONG\r\n",
            "got {got:?}"
        );
        Ok(())
    });
}

#[test]
fn ping_pong() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        c.send(b"PING\r\nPING\r\n")?;
        let got = c.read_until_suffix(b"PONG\r\nPONG\r\n", WAIT)?;
        ensure!(
            got == b"PONG\r\nPONG\r\n",
            "got {:?}",
            String::from_utf8_lossy(&got)
        );
        // A PONG from the client needs no answer.
        c.send(b"PONG\r\n")?;
        ensure!(sync(&mut c)? == "PONG\r\n");
        Ok(())
    });
}

#[test]
fn one_msg_per_matching_subscription_on_a_connection() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        c.send(b"SUB foo 1\r\nSUB foo 2\r\nSUB foo q 3\r\nPUB foo 2\r\nhi\r\n")?;
        let got = sync(&mut c)?;
        let mut msgs: Vec<&str> = got
            .split("\r\n")
            .filter(|l| l.starts_with("MSG "))
            .collect();
        msgs.sort();
        ensure!(
            msgs == ["MSG foo 1 2", "MSG foo 2 2", "MSG foo 3 2"],
            "got {got:?}"
        );
        Ok(())
    });
}

#[test]
fn unsub_stops_delivery() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        c.send(b"SUB foo 1\r\nPUB foo 1\r\na\r\nUNSUB 1\r\nPUB foo 1\r\nb\r\n")?;
        let got = sync(&mut c)?;
        ensure!(got == "MSG foo 1 1\r\na\r\nPONG\r\n", "got {got:?}");
        // Unsubscribing an unknown sid is silently accepted.
        c.send(b"UNSUB 99\r\n")?;
        ensure!(sync(&mut c)? == "PONG\r\n");
        Ok(())
    });
}

#[test]
fn unsub_with_max_delivers_exactly_n() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        c.send(b"SUB foo 1\r\nUNSUB 1 3\r\n")?;
        for i in 0..10 {
            c.send(format!("PUB foo 1\r\n{i}\r\n").as_bytes())?;
        }
        let got = sync(&mut c)?;
        ensure!(
            got == "MSG foo 1 1\r\n0\r\nMSG foo 1 1\r\n1\r\nMSG foo 1 1\r\n2\r\nPONG\r\n",
            "got {got:?}"
        );
        // The subscription is gone for good.
        c.send(b"PUB foo 1\r\nz\r\n")?;
        ensure!(sync(&mut c)? == "PONG\r\n");

        // A max already reached when UNSUB arrives removes it at once.
        c.send(
            b"SUB bar 2\r\nPUB bar 1\r\na\r\nPUB bar 1\r\nb\r\nUNSUB 2 1\r\nPUB bar 1\r\nc\r\n",
        )?;
        let got = sync(&mut c)?;
        ensure!(
            got == "MSG bar 2 1\r\na\r\nMSG bar 2 1\r\nb\r\nPONG\r\n",
            "got {got:?}"
        );

        // `UNSUB <sid> 0` unsubscribes immediately.
        c.send(b"SUB baz 3\r\nUNSUB 3 0\r\nPUB baz 1\r\na\r\n")?;
        ensure!(sync(&mut c)? == "PONG\r\n");
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_unsubscribe_after_n() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let client = connect(&b.url()).await?;
        let mut sub = subscribe(&client, "auto").await?;
        sub.unsubscribe_after(5).await?;
        flush(&client).await?;
        let publisher = connect(&b.url()).await?;
        for i in 0..20 {
            publisher
                .publish("auto", Bytes::from(format!("{i}")))
                .await?;
        }
        flush(&publisher).await?;
        let mut got = Vec::new();
        while let Ok(Some(m)) = tokio::time::timeout(WAIT, sub.next()).await {
            got.push(String::from_utf8(m.payload.to_vec())?);
        }
        ensure!(got == ["0", "1", "2", "3", "4"], "got {got:?}");
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_messages_arrive_in_order() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let sub_client = connect(&b.url()).await?;
        let mut sub = subscribe(&sub_client, "seq").await?;
        let publisher = connect(&b.url()).await?;
        const N: u32 = 20_000;
        for i in 0..N {
            publisher
                .publish("seq", Bytes::from(i.to_be_bytes().to_vec()))
                .await?;
        }
        flush(&publisher).await?;
        for i in 0..N {
            let m = next_msg(&mut sub).await?;
            let got = u32::from_be_bytes(m.payload[..].try_into()?);
            ensure!(got == i, "message {i} arrived as {got}");
        }
        expect_no_msg(&mut sub).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_to_every_subscriber() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let mut subs = Vec::new();
        for _ in 0..5 {
            let c = connect(&b.url()).await?;
            let s = subscribe(&c, "fan.out").await?;
            subs.push((c, s));
        }
        let publisher = connect(&b.url()).await?;
        for i in 0..100 {
            publisher
                .publish("fan.out", Bytes::from(format!("{i}")))
                .await?;
        }
        flush(&publisher).await?;
        for (n, (_c, s)) in subs.iter_mut().enumerate() {
            for i in 0..100 {
                let m = next_msg(s).await?;
                ensure!(
                    m.payload == format!("{i}"),
                    "subscriber {n}: message {i} was {:?}",
                    m.payload
                );
            }
            expect_no_msg(s).await?;
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn largest_payload_round_trips() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let client = connect(&b.url()).await?;
        let max = client.server_info().max_payload;
        ensure!(max == 1024 * 1024, "default max_payload is {max}");
        let mut sub = subscribe(&client, "big").await?;
        let payload: Vec<u8> = (0..max).map(|i| (i % 251) as u8).collect();
        client.publish("big", Bytes::from(payload.clone())).await?;
        client.publish("empty", Bytes::new()).await?;
        flush(&client).await?;
        let m = next_msg(&mut sub).await?;
        ensure!(m.payload.len() == max, "got {} bytes", m.payload.len());
        ensure!(m.payload[..] == payload[..], "payload corrupted");
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_subject_and_empty_payload() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let client = connect(&b.url()).await?;
        let mut sub = subscribe(&client, "with.reply").await?;
        client
            .publish_with_reply("with.reply", "answer.here", Bytes::new())
            .await?;
        flush(&client).await?;
        let m = next_msg(&mut sub).await?;
        ensure!(m.subject.as_str() == "with.reply");
        ensure!(
            m.reply.as_deref() == Some("answer.here"),
            "reply {:?}",
            m.reply
        );
        ensure!(m.payload.is_empty());
        ensure!(m.headers.is_none(), "headers {:?}", m.headers);
        Ok(())
    })
    .await;
}

/// The parser copes with every op split at every byte: the same session
/// written one byte per write gives the same replies.
#[test]
fn ops_split_at_every_byte() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(
            &b.addr(),
            r#"{"verbose":false,"pedantic":false,"headers":true}"#,
        )?;
        let session: &[u8] = b"SUB foo 1\r\nSUB bar q 2\r\nPUB foo 5\r\nhello\r\nPUB bar r.x 4\r\na\r\nb\r\n\
            HPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nworld\r\nUNSUB 1\r\nPUB foo 1\r\nz\r\nPING\r\n";
        for byte in session {
            c.send(std::slice::from_ref(byte))?;
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        let got = c.read_until_suffix(b"PONG\r\n", WAIT)?;
        let want = "MSG foo 1 5\r\nhello\r\nMSG bar 2 r.x 4\r\na\r\nb\r\n\
                    HMSG foo 1 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nworld\r\nPONG\r\n";
        ensure!(
            got == want.as_bytes(),
            "got {:?}",
            String::from_utf8_lossy(&got)
        );
        Ok(())
    });
}

/// Thousands of ops in one write are all processed, in order.
#[test]
fn pipelined_batch_in_one_write() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        let mut batch = b"SUB n 1\r\n".to_vec();
        let mut want = String::new();
        for i in 0..5000 {
            let p = i.to_string();
            batch.extend_from_slice(format!("PUB n {}\r\n{p}\r\n", p.len()).as_bytes());
            want.push_str(&format!("MSG n 1 {}\r\n{p}\r\n", p.len()));
        }
        batch.extend_from_slice(b"PING\r\n");
        want.push_str("PONG\r\n");
        c.send(&batch)?;
        let got = c.read_until_suffix(b"PONG\r\n", WAIT)?;
        ensure!(
            got == want.as_bytes(),
            "replies differ (got {} bytes, want {})",
            got.len(),
            want.len()
        );
        Ok(())
    });
}

/// A sid is an opaque token, echoed back as given.
#[test]
fn sids_are_opaque() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        c.send(b"SUB a sid-with-letters\r\nSUB b 99999999999999999999999\r\nPUB a 1\r\nx\r\nPUB b 1\r\ny\r\n")?;
        let got = sync(&mut c)?;
        ensure!(
            got == "MSG a sid-with-letters 1\r\nx\r\nMSG b 99999999999999999999999 1\r\ny\r\nPONG\r\n",
            "got {got:?}"
        );
        c.send(b"UNSUB sid-with-letters\r\nPUB a 1\r\nx\r\n")?;
        ensure!(sync(&mut c)? == "PONG\r\n");
        Ok(())
    });
}

/// A SUB reusing a sid that is still active is ignored.
#[test]
fn duplicate_sid_is_ignored() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        c.send(b"SUB foo 1\r\nSUB bar 1\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\nPUB bar 1\r\ny\r\n")?;
        let got = sync(&mut c)?;
        ensure!(got == "MSG foo 1 1\r\nx\r\nPONG\r\n", "got {got:?}");
        // One UNSUB removes it.
        c.send(b"UNSUB 1\r\nPUB foo 1\r\nx\r\n")?;
        ensure!(sync(&mut c)? == "PONG\r\n");
        Ok(())
    });
}

/// Subjects are bytes: UTF-8 works, even in pedantic mode; payloads are
/// passed through untouched, CRLF and invalid UTF-8 included.
#[test]
fn utf8_subjects_and_binary_payloads() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        for connect in [CONNECT_PLAIN, r#"{"verbose":false,"pedantic":true}"#] {
            let mut c = raw(&b.addr(), connect)?;
            c.send("SUB héllo.✓ 1\r\nPUB héllo.✓ 1\r\nx\r\n".as_bytes())?;
            c.send(b"PING\r\n")?;
            let want = "MSG héllo.✓ 1 1\r\nx\r\nPONG\r\n";
            let got = c.read_until_suffix(b"PONG\r\n", WAIT)?;
            ensure!(
                got == want.as_bytes(),
                "{connect}: got {:?}",
                String::from_utf8_lossy(&got)
            );
        }
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        c.send(b"SUB bin 1\r\nPUB bin 10\r\n\x00\x01\r\n\xff\xfe\r\n\r\n\r\nPING\r\n")?;
        let got = c.read_until_suffix(b"PONG\r\n", WAIT)?;
        ensure!(
            got == b"MSG bin 1 10\r\n\x00\x01\r\n\xff\xfe\r\n\r\n\r\nPONG\r\n",
            "got {got:?}"
        );
        Ok(())
    });
}

/// Auto-unsubscribe counts deliveries to that subscription, whatever
/// subject they matched, and works for queue subscriptions too.
#[test]
fn unsub_max_on_wildcard_and_queue_subscriptions() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        c.send(b"SUB foo.* 1\r\nUNSUB 1 2\r\nPUB foo.a 1\r\na\r\nPUB foo.b 1\r\nb\r\nPUB foo.c 1\r\nc\r\n")?;
        let got = sync(&mut c)?;
        ensure!(
            got == "MSG foo.a 1 1\r\na\r\nMSG foo.b 1 1\r\nb\r\nPONG\r\n",
            "got {got:?}"
        );
        c.send(b"SUB q g 2\r\nUNSUB 2 2\r\nPUB q 1\r\na\r\nPUB q 1\r\nb\r\nPUB q 1\r\nc\r\n")?;
        let got = sync(&mut c)?;
        ensure!(
            got == "MSG q 2 1\r\na\r\nMSG q 2 1\r\nb\r\nPONG\r\n",
            "got {got:?}"
        );
        Ok(())
    });
}
