//! Stream `compression: s2`: accepted and reported as nats-server does, the
//! messages read back whole (by sequence, by subject, through a consumer,
//! after `kill -9`), byte counts as published, compression switched by an
//! update — against Tern and nats-server. That Tern's records really are
//! smaller is checked by the store's unit tests (`record.rs`).

mod common;

use anyhow::{ensure, Result};
use async_nats::jetstream;
use async_nats::Client;
use common::jetstream::*;
use common::{connect, each_target};
use serde_json::Value;

/// Readings per stream, stored first (sequences 1 to `READINGS`).
const READINGS: usize = 40;

/// A telemetry reading as edge devices send them: repetitive JSON.
fn reading(i: usize) -> String {
    let one = format!(r#"{{"device":"sensor-{i:04}","celsius":21.5,"humidity":40,"ok":true}}"#);
    format!("[{}]", vec![one; 24].join(","))
}

async fn create(client: &Client, name: &str, storage: &str, compression: &str) -> Result<Value> {
    let body = format!(
        r#"{{"name":"{name}","subjects":["{}.>"],"storage":"{storage}","compression":"{compression}"}}"#,
        name.to_lowercase()
    );
    request(client, &format!("$JS.API.STREAM.CREATE.{name}"), &body).await
}

/// Publishes the same messages into stream `name`: readings, a short one
/// and one with headers.
async fn fill(js: &jetstream::Context, name: &str) -> Result<()> {
    let prefix = name.to_lowercase();
    for i in 0..READINGS {
        js.publish(format!("{prefix}.r.{}", i % 4), reading(i).into())
            .await?
            .await?;
    }
    js.publish(format!("{prefix}.short"), "tiny".into())
        .await?
        .await?;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Unit", "celsius");
    js.publish_with_headers(format!("{prefix}.h"), headers, reading(0).into())
        .await?
        .await?;
    Ok(())
}

/// Checks every message of `name` reads back as published.
async fn check_contents(js: &jetstream::Context, name: &str) -> Result<()> {
    let stream = js.get_stream(name).await?;
    let prefix = name.to_lowercase();
    let last_seq = stream.cached_info().state.last_sequence;
    ensure!(
        last_seq == READINGS as u64 + 2,
        "{name}: last sequence {last_seq}"
    );
    for seq in 1..=last_seq {
        let m = stream.get_raw_message(seq).await?;
        let text = String::from_utf8_lossy(&m.payload).to_string();
        if m.subject.as_str() == format!("{prefix}.short") {
            ensure!(text == "tiny", "{name} seq {seq}: {text}");
        } else if m.subject.as_str() == format!("{prefix}.h") {
            ensure!(text == reading(0), "{name} seq {seq}");
            let unit = m.headers.get("Unit").map(|v| v.as_str().to_string());
            ensure!(
                unit.as_deref() == Some("celsius"),
                "{name} seq {seq}: {m:?}"
            );
        } else {
            let i = seq as usize - 1;
            ensure!(text == reading(i), "{name} seq {seq} is not reading {i}");
        }
    }
    let last = stream
        .get_last_raw_message_by_subject(&format!("{prefix}.r.1"))
        .await?;
    ensure!(last.payload.len() == reading(0).len(), "{name}: {last:?}");
    Ok(())
}

#[tokio::test]
async fn s2_streams_keep_every_message_whole() {
    each_target(|kind| async move {
        let dir = tempfile::tempdir()?;
        let store = dir.path().display().to_string();
        let broker = start_js(kind, &store)?;
        let client = connect(&broker.url()).await?;
        let v = create(&client, "BAD", "file", "zstd").await?;
        ensure!(err_code(&v) == 10025, "an unknown algorithm: {v}");
        for (name, storage, compression) in [
            ("Z", "file", "s2"),
            ("P", "file", "none"),
            ("M", "memory", "s2"),
        ] {
            let v = create(&client, name, storage, compression).await?;
            ensure!(err_code(&v) == 0, "{name}: {v}");
            ensure!(v["config"]["compression"] == compression, "{name}: {v}");
        }
        let js = jetstream::new(client.clone());
        for name in ["Z", "P", "M"] {
            fill(&js, name).await?;
            check_contents(&js, name).await?;
        }
        let info = |name: &'static str| {
            let client = client.clone();
            async move { request(&client, &format!("$JS.API.STREAM.INFO.{name}"), "").await }
        };
        let (z, plain) = (info("Z").await?, info("P").await?);
        ensure!(
            z["state"]["messages"] == plain["state"]["messages"]
                && z["state"]["bytes"] == plain["state"]["bytes"],
            "bytes count as published: {z} {plain}"
        );
        // A consumer gets the payloads as published.
        let consumer = js
            .get_stream("Z")
            .await?
            .create_consumer(jetstream::consumer::pull::Config {
                durable_name: Some("C".into()),
                ..Default::default()
            })
            .await?;
        let msgs = fetch(&consumer, 42).await?;
        ensure!(msgs.len() == 42, "{} messages", msgs.len());
        ensure!(msgs[3].payload == reading(3), "a fetched reading");

        drop(broker); // kill -9
        let broker = start_js(kind, &store)?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        check_contents(&js, "Z").await?;
        // Switched off and on by updates: old and new messages read back.
        for compression in ["none", "s2"] {
            let body =
                format!(r#"{{"name":"Z","subjects":["z.>"],"compression":"{compression}"}}"#);
            let v = request(&client, "$JS.API.STREAM.UPDATE.Z", &body).await?;
            ensure!(err_code(&v) == 0, "{v}");
            ensure!(v["config"]["compression"] == compression, "{v}");
        }
        let v = request(&client, "$JS.API.STREAM.INFO.Z", "").await?;
        ensure!(
            v["config"]["compression"] == "s2",
            "kept across a restart: {v}"
        );
        Ok(())
    })
    .await;
}
