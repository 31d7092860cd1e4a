//! Subject wildcards: `*` matches exactly one token, `>` one or more trailing
//! tokens (so `foo.>` does not match `foo`), checked as a full matrix of
//! patterns × subjects, and over many subjects with async-nats.

mod common;

use std::collections::BTreeSet;

use anyhow::{ensure, Result};
use bytes::Bytes;
use common::*;
use futures::{FutureExt, StreamExt};
use tern_tests::Broker;

const PATTERNS: &[&str] = &[
    "foo",
    "foo.bar",
    "foo.*",
    "foo.>",
    "*.bar",
    "*",
    "*.*",
    "*.>",
    ">",
    "foo.*.baz",
    "foo.*.>",
    "*.bar.*",
    "foo.bar.baz",
];

const SUBJECTS: &[&str] = &[
    "foo",
    "bar",
    "foo.bar",
    "foo.baz",
    "a.bar",
    "foo.bar.baz",
    "foo.x.baz",
    "foo.x.y",
    "x.bar.y",
    "a.b.c.d.e",
    "foo.bar.baz.qux",
];

/// (pattern, subject) pairs that must match; everything else must not.
const MATCHES: &[(&str, &[&str])] = &[
    ("foo", &["foo"]),
    ("foo.bar", &["foo.bar"]),
    ("foo.*", &["foo.bar", "foo.baz"]),
    (
        "foo.>",
        &[
            "foo.bar",
            "foo.baz",
            "foo.bar.baz",
            "foo.x.baz",
            "foo.x.y",
            "foo.bar.baz.qux",
        ],
    ),
    ("*.bar", &["foo.bar", "a.bar"]),
    ("*", &["foo", "bar"]),
    ("*.*", &["foo.bar", "foo.baz", "a.bar"]),
    (
        "*.>",
        &[
            "foo.bar",
            "foo.baz",
            "a.bar",
            "foo.bar.baz",
            "foo.x.baz",
            "foo.x.y",
            "x.bar.y",
            "a.b.c.d.e",
            "foo.bar.baz.qux",
        ],
    ),
    (">", SUBJECTS),
    ("foo.*.baz", &["foo.bar.baz", "foo.x.baz"]),
    (
        "foo.*.>",
        &["foo.bar.baz", "foo.x.baz", "foo.x.y", "foo.bar.baz.qux"],
    ),
    ("*.bar.*", &["foo.bar.baz", "x.bar.y"]),
    ("foo.bar.baz", &["foo.bar.baz"]),
];

#[test]
fn wildcard_matrix() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut sub = raw(&b.addr(), CONNECT_PLAIN)?;
        for (sid, p) in PATTERNS.iter().enumerate() {
            sub.send(format!("SUB {p} {sid}\r\n").as_bytes())?;
        }
        ensure!(sync(&mut sub)? == "PONG\r\n");
        let mut publ = raw(&b.addr(), CONNECT_PLAIN)?;
        for s in SUBJECTS {
            publ.send(format!("PUB {s} {}\r\n{s}\r\n", s.len()).as_bytes())?;
        }
        ensure!(sync(&mut publ)? == "PONG\r\n");
        let got_text = sync(&mut sub)?;

        let mut got = BTreeSet::new();
        let mut lines = got_text.split("\r\n");
        while let Some(line) = lines.next() {
            if let Some(rest) = line.strip_prefix("MSG ") {
                let parts: Vec<&str> = rest.split(' ').collect();
                ensure!(parts.len() == 3, "bad MSG line {line:?}");
                let payload = lines.next().unwrap_or_default();
                ensure!(payload == parts[0], "payload {payload:?} on {}", parts[0]);
                let sid: usize = parts[1].parse()?;
                got.insert((PATTERNS[sid].to_string(), parts[0].to_string()));
            }
        }
        let mut want = BTreeSet::new();
        for (p, subjects) in MATCHES {
            for s in *subjects {
                want.insert((p.to_string(), s.to_string()));
            }
        }
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        ensure!(
            missing.is_empty() && extra.is_empty(),
            "missing (pattern, subject): {missing:?}\nunexpected: {extra:?}"
        );
        Ok(())
    });
}

#[test]
fn full_wildcard_does_not_match_bare_prefix() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        c.send(b"SUB orders.> 1\r\nPUB orders 1\r\na\r\nPUB orders.new 1\r\nb\r\nPUB ordersx.new 1\r\nc\r\n")?;
        let got = sync(&mut c)?;
        ensure!(got == "MSG orders.new 1 1\r\nb\r\nPONG\r\n", "got {got:?}");
        Ok(())
    });
}

/// A token containing `*` or `>` amid other characters is a literal.
#[test]
fn wildcard_characters_inside_tokens_are_literals() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        c.send(b"SUB foo.*bar 1\r\nSUB a>.b 2\r\nPUB foo.xbar 1\r\na\r\nPUB foo.*bar 1\r\nb\r\nPUB a>.b 1\r\nc\r\n")?;
        let got = sync(&mut c)?;
        ensure!(
            got == "MSG foo.*bar 1 1\r\nb\r\nMSG a>.b 2 1\r\nc\r\nPONG\r\n",
            "got {got:?}"
        );
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_subjects() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let client = connect(&b.url()).await?;
        let mut temp = subscribe(&client, "sensors.*.temp").await?;
        let mut all = subscribe(&client, "sensors.>").await?;
        let mut one = subscribe(&client, "sensors.s7.temp").await?;
        // 500 literal subscriptions, one per subject.
        let mut literal = Vec::new();
        for i in 0..500 {
            literal.push(subscribe_nosync(&client, &format!("sensors.s{i}.humidity")).await?);
        }
        flush(&client).await?;

        let publisher = connect(&b.url()).await?;
        for i in 0..500 {
            publisher
                .publish(format!("sensors.s{i}.temp"), Bytes::from("t"))
                .await?;
            publisher
                .publish(format!("sensors.s{i}.humidity"), Bytes::from("h"))
                .await?;
        }
        publisher.publish("sensors", Bytes::from("bare")).await?;
        publisher
            .publish("sensors.s1.temp.extra", Bytes::from("x"))
            .await?;
        flush(&publisher).await?;

        for i in 0..500 {
            let m = next_msg(&mut temp).await?;
            ensure!(
                m.subject.as_str() == format!("sensors.s{i}.temp"),
                "got {}",
                m.subject
            );
        }
        expect_no_msg(&mut temp).await?;
        let mut n = 0;
        while n < 1001 {
            let m = next_msg(&mut all).await?;
            ensure!(
                m.subject.as_str() != "sensors",
                "sensors.> matched the bare prefix"
            );
            n += 1;
        }
        expect_no_msg(&mut all).await?;
        let m = next_msg(&mut one).await?;
        ensure!(m.subject.as_str() == "sensors.s7.temp");
        expect_no_msg(&mut one).await?;
        for (i, s) in literal.iter_mut().enumerate() {
            let m = next_msg(s).await?;
            ensure!(
                m.subject.as_str() == format!("sensors.s{i}.humidity"),
                "got {}",
                m.subject
            );
            ensure!(m.payload == "h");
        }
        tokio::time::sleep(QUIET).await;
        for s in literal.iter_mut() {
            if let Some(Some(m)) = s.next().now_or_never() {
                anyhow::bail!("extra message on {}", m.subject);
            }
        }
        Ok(())
    })
    .await;
}

async fn subscribe_nosync(
    client: &async_nats::Client,
    subject: &str,
) -> Result<async_nats::Subscriber> {
    Ok(client.subscribe(subject.to_string()).await?)
}
