//! `sources`: a stream copying other streams of the same server, filtered,
//! with nats-server's `Nats-Stream-Source` header, resuming after `kill -9`
//! without copying anything twice — against Tern and nats-server.

mod common;

use std::time::Duration;

use anyhow::{bail, ensure, Result};
use async_nats::jetstream;
use async_nats::Client;
use common::jetstream::*;
use common::{connect, each_target};
use serde_json::Value;

/// Stream info of `stream` once it holds `n` messages.
async fn wait_for_messages(client: &Client, stream: &str, n: u64) -> Result<Value> {
    for _ in 0..100 {
        let v = request(client, &format!("$JS.API.STREAM.INFO.{stream}"), "").await?;
        if v["state"]["messages"] == n {
            return Ok(v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{stream} never reached {n} messages")
}

#[tokio::test]
async fn sources_copy_other_streams_and_resume_after_kill() {
    each_target(|kind| async move {
        let dir = tempfile::tempdir()?;
        let store = dir.path().display().to_string();
        let broker = start_js(kind, &store)?;
        let client = connect(&broker.url()).await?;
        for (name, subjects) in [("A", "a.>"), ("B", "b.>")] {
            let body = format!(r#"{{"name":"{name}","subjects":["{subjects}"]}}"#);
            let v = request(&client, &format!("$JS.API.STREAM.CREATE.{name}"), &body).await?;
            ensure!(err_code(&v) == 0, "{v}");
        }
        let js = jetstream::new(client.clone());
        js.publish("a.1", "a1".into()).await?.await?;
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.ALL",
            r#"{"name":"ALL","sources":[{"name":"A"},{"name":"B","filter_subject":"b.x"}]}"#,
        )
        .await?;
        ensure!(err_code(&v) == 0, "{v}");
        ensure!(
            v["config"]["subjects"].is_null(),
            "no subjects of its own: {v}"
        );
        js.publish("b.x", "bx".into()).await?.await?;
        js.publish("b.y", "by".into()).await?.await?;
        js.publish("a.2", "a2".into()).await?.await?;
        let info = wait_for_messages(&client, "ALL", 3).await?;
        ensure!(
            info["sources"].as_array().map(Vec::len) == Some(2),
            "{info}"
        );
        let s = js.get_stream("ALL").await?;
        let mut got = Vec::new();
        for seq in 1..=3 {
            let m = s.get_raw_message(seq).await?;
            let source = m
                .headers
                .get("Nats-Stream-Source")
                .map(|v| v.as_str().to_string())
                .unwrap_or_default();
            ensure!(!source.is_empty(), "no Nats-Stream-Source on {m:?}");
            got.push(format!(
                "{}={}",
                m.subject,
                String::from_utf8_lossy(&m.payload)
            ));
        }
        got.sort();
        ensure!(got == ["a.1=a1", "a.2=a2", "b.x=bx"], "{got:?}");
        drop(broker); // kill -9

        let broker = start_js(kind, &store)?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        js.publish("a.3", "a3".into()).await?.await?;
        wait_for_messages(&client, "ALL", 4).await?;
        // Nothing copied twice after the restart.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let v = request(&client, "$JS.API.STREAM.INFO.ALL", "").await?;
        ensure!(v["state"]["messages"] == 4, "{v}");
        Ok(())
    })
    .await;
}
