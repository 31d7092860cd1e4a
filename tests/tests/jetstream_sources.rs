//! `sources`: a stream copying other streams of the same server, filtered,
//! with nats-server's `Nats-Stream-Source` header, resuming after `kill -9`
//! without copying anything twice; a mirror answering direct gets for its
//! origin (`mirror_direct`) — against Tern and nats-server.

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

#[tokio::test]
async fn mirror_keeps_the_origins_sequences() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.O",
            r#"{"name":"O","subjects":["o.>"]}"#,
        )
        .await?;
        ensure!(err_code(&v) == 0, "{v}");
        let js = jetstream::new(client.clone());
        for i in 1..=4 {
            js.publish(format!("o.{i}"), format!("m{i}").into())
                .await?
                .await?;
        }
        let v = request(&client, "$JS.API.STREAM.MSG.DELETE.O", r#"{"seq":2}"#).await?;
        ensure!(v["success"] == true, "{v}");
        let refused = request(
            &client,
            "$JS.API.STREAM.CREATE.BAD",
            r#"{"name":"BAD","subjects":["bad"],"mirror":{"name":"O"}}"#,
        )
        .await?;
        ensure!(err_code(&refused) == 10034, "{refused}");
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.M",
            r#"{"name":"M","mirror":{"name":"O"}}"#,
        )
        .await?;
        ensure!(err_code(&v) == 0, "{v}");
        let info = wait_for_messages(&client, "M", 3).await?;
        ensure!(info["mirror"]["name"] == "O", "{info}");
        ensure!(
            info["state"]["first_seq"] == 1 && info["state"]["last_seq"] == 4,
            "{info}"
        );
        js.publish("o.5", "m5".into()).await?.await?;
        wait_for_messages(&client, "M", 4).await?;
        let m = js.get_stream("M").await?.get_raw_message(5).await?;
        ensure!(m.subject.as_str() == "o.5" && m.payload == "m5", "{m:?}");
        let v = request(
            &client,
            "$JS.API.STREAM.UPDATE.M",
            r#"{"name":"M","mirror":{"name":"O","filter_subject":"o.1"}}"#,
        )
        .await?;
        ensure!(err_code(&v) == 10055, "{v}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_direct_mirror_answers_direct_gets_for_its_origin() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.LONE",
            r#"{"name":"LONE","subjects":["lone"],"mirror_direct":true}"#,
        )
        .await?;
        ensure!(err_code(&v) == 10052, "{v}");
        ensure!(
            v["error"]["description"] == "stream has no mirror but does have mirror direct",
            "{v}"
        );
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.O",
            r#"{"name":"O","subjects":["o.>"],"allow_direct":true}"#,
        )
        .await?;
        ensure!(err_code(&v) == 0, "{v}");
        let js = jetstream::new(client.clone());
        for i in 1..=5 {
            js.publish(format!("o.{i}"), format!("m{i}").into())
                .await?
                .await?;
        }
        // A pedantic request that disagrees with the origin is refused; a
        // plain one follows the origin's allow_direct.
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.M",
            r#"{"name":"M","mirror":{"name":"O"},"pedantic":true}"#,
        )
        .await?;
        ensure!(err_code(&v) == 10157, "{v}");
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.M",
            r#"{"name":"M","mirror":{"name":"O"}}"#,
        )
        .await?;
        ensure!(err_code(&v) == 0, "{v}");
        ensure!(v["config"]["mirror_direct"] == true, "inherited: {v}");
        wait_for_messages(&client, "M", 5).await?;
        // With the origin gone, the mirror answers for it.
        let v = request(&client, "$JS.API.STREAM.DELETE.O", "").await?;
        ensure!(v["success"] == true, "{v}");
        let mut answer = None;
        for _ in 0..100 {
            let m = client
                .request("$JS.API.DIRECT.GET.O", r#"{"seq":3}"#.into())
                .await;
            if let Ok(m) = m {
                if m.payload == "m3" {
                    answer = Some(m);
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let Some(m) = answer else {
            bail!("the mirror never answered a direct get for O")
        };
        let header = |name: &str| {
            m.headers
                .as_ref()
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_string())
        };
        ensure!(header("Nats-Stream").as_deref() == Some("M"), "{m:?}");
        ensure!(header("Nats-Subject").as_deref() == Some("o.3"), "{m:?}");
        let last = client
            .request("$JS.API.DIRECT.GET.O.o.5", "".into())
            .await?;
        ensure!(last.payload == "m5", "{last:?}");
        Ok(())
    })
    .await;
}
