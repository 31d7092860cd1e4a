//! What the clients' KV and object-store layers need, end to end with
//! async-nats against Tern and nats-server: KV put/get/update/create/
//! delete/purge/history/keys/watch, objects put/get/list/delete across
//! chunks, and `DIRECT.GET` in all its forms.

mod common;

use std::time::Duration;

use anyhow::{ensure, Context};
use async_nats::jetstream::{self};
use common::jetstream::*;
use common::{connect, each_target, WAIT};
use futures::{StreamExt, TryStreamExt};

/// A direct-get answer: `subject@seq stream payload`, or the status with
/// the batch's pending count.
fn describe(m: &async_nats::Message) -> String {
    let h = |k: &str| {
        m.headers
            .as_ref()
            .and_then(|h| h.get(k))
            .map(|v| v.as_str().to_string())
            .unwrap_or_default()
    };
    if m.status.is_some() {
        format!("{} pending={}", status_of(m), h("Nats-Num-Pending"))
    } else {
        format!(
            "{}@{} {} {}",
            h("Nats-Subject"),
            h("Nats-Sequence"),
            h("Nats-Stream"),
            String::from_utf8_lossy(&m.payload)
        )
    }
}

#[tokio::test]
async fn direct_get() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        orders(&js, 5).await?;
        let get = |subject: String, body: &'static str| {
            let client = client.clone();
            async move {
                let got = ask(&client, &subject, body, Duration::from_millis(500), false).await?;
                anyhow::Ok(got.iter().map(describe).collect::<Vec<_>>())
            }
        };
        let d = "$JS.API.DIRECT.GET.ORDERS".to_string();
        ensure!(get(d.clone(), r#"{"seq":2}"#).await? == ["orders.2@2 ORDERS m2"]);
        ensure!(
            get(d.clone(), r#"{"last_by_subj":"orders.1"}"#).await? == ["orders.1@4 ORDERS m4"]
        );
        ensure!(
            get(d.clone(), r#"{"seq":2,"next_by_subj":"orders.1"}"#).await?
                == ["orders.1@4 ORDERS m4"]
        );
        ensure!(get(d.clone(), r#"{"seq":99}"#).await? == ["404 Message Not Found pending="]);
        ensure!(get(d.clone(), "").await? == ["408 Empty Request pending="]);
        let got = get(d.clone(), r#"{"seq":3,"batch":2}"#).await?;
        ensure!(
            got == [
                "orders.0@3 ORDERS m3",
                "orders.1@4 ORDERS m4",
                "204 EOB pending=1"
            ],
            "{got:?}"
        );
        let got = get(d.clone(), r#"{"multi_last":["orders.1","orders.2"]}"#).await?;
        ensure!(
            got == [
                "orders.1@4 ORDERS m4",
                "orders.2@5 ORDERS m5",
                "204 EOB pending=0"
            ],
            "{got:?}"
        );
        let got = get(d.clone(), r#"{"multi_last":["orders.*"],"up_to_seq":3}"#).await?;
        ensure!(
            got == [
                "orders.1@1 ORDERS m1",
                "orders.2@2 ORDERS m2",
                "orders.0@3 ORDERS m3",
                "204 EOB pending=0"
            ],
            "{got:?}"
        );
        let got = get(format!("{d}.orders.2"), "").await?;
        ensure!(got == ["orders.2@5 ORDERS m5"], "{got:?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn key_value_bucket_end_to_end() {
    use async_nats::jetstream::kv;
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let js = jetstream::new(connect(&broker.url()).await?);
        let bucket = js
            .create_key_value(kv::Config {
                bucket: "config".into(),
                history: 5,
                ..Default::default()
            })
            .await?;
        let mut watch = bucket.watch_all().await?;
        let r1 = bucket.put("site.name", "edge-1".into()).await?;
        let r2 = bucket.put("site.zone", "north".into()).await?;
        ensure!((r1, r2) == (1, 2), "revisions {r1} {r2}");
        ensure!(bucket.get("site.name").await?.as_deref() == Some(&b"edge-1"[..]));
        ensure!(bucket.get("missing").await?.is_none());
        let r3 = bucket.update("site.name", "edge-2".into(), r1).await?;
        ensure!(r3 == 3);
        ensure!(
            bucket
                .update("site.name", "stale".into(), r1)
                .await
                .is_err(),
            "update with a stale revision must fail"
        );
        ensure!(bucket.create("site.zone", "x".into()).await.is_err());
        let entry = bucket.entry("site.name").await?.context("entry")?;
        ensure!(entry.revision == 3 && entry.value == "edge-2", "{entry:?}");

        let mut keys: Vec<String> = bucket.keys().await?.try_collect_vec().await?;
        keys.sort();
        ensure!(keys == ["site.name", "site.zone"], "{keys:?}");

        bucket.delete("site.zone").await?;
        ensure!(bucket.get("site.zone").await?.is_none());
        let history: Vec<kv::Entry> = bucket.history("site.name").await?.try_collect_vec().await?;
        let values: Vec<_> = history.iter().map(|e| e.value.clone()).collect();
        ensure!(values == ["edge-1", "edge-2"], "{values:?}");
        bucket.purge("site.name").await?;
        ensure!(bucket.get("site.name").await?.is_none());
        let keys: Vec<String> = bucket.keys().await?.try_collect_vec().await?;
        ensure!(keys.is_empty(), "{keys:?}");

        let mut seen = Vec::new();
        while seen.len() < 5 {
            let e = tokio::time::timeout(WAIT, watch.next())
                .await?
                .context("watch ended")??;
            seen.push(format!("{:?} {} r{}", e.operation, e.key, e.revision));
        }
        ensure!(
            seen == [
                "Put site.name r1",
                "Put site.zone r2",
                "Put site.name r3",
                "Delete site.zone r4",
                "Purge site.name r5"
            ],
            "{seen:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn object_store_end_to_end() {
    use async_nats::jetstream::object_store;
    use tokio::io::AsyncReadExt;
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let js = jetstream::new(connect(&broker.url()).await?);
        let bucket = js
            .create_object_store(object_store::Config {
                bucket: "files".into(),
                ..Default::default()
            })
            .await?;
        // Several chunks (128 KiB each by default) and a small object.
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let info = bucket.put("firmware.bin", &mut big.as_slice()).await?;
        ensure!(info.size == big.len() && info.chunks == 3, "{info:?}");
        bucket.put("notes.txt", &mut &b"hello"[..]).await?;

        let mut obj = bucket.get("firmware.bin").await?;
        let mut back = Vec::new();
        obj.read_to_end(&mut back).await?;
        ensure!(back == big, "read back {} bytes", back.len());

        let mut names = Vec::new();
        let mut list = bucket.list().await?;
        while let Some(o) = tokio::time::timeout(WAIT, list.next()).await? {
            names.push(o.map_err(|e| anyhow::anyhow!("{e}"))?.name);
        }
        names.sort();
        ensure!(names == ["firmware.bin", "notes.txt"], "{names:?}");

        bucket.delete("notes.txt").await?;
        ensure!(
            bucket.get("notes.txt").await.is_err(),
            "deleted object still readable"
        );
        ensure!(bucket.info("firmware.bin").await?.size == big.len());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn subject_delete_markers_when_age_empties_a_subject() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.M",
            r#"{"name":"M","subjects":["m.>"],"max_age":1000000000,"subject_delete_marker_ttl":1000000000,"duplicate_window":500000000}"#,
        )
        .await?;
        ensure!(err_code(&v) == 0, "{v}");
        ensure!(v["config"]["allow_msg_ttl"] == true, "{v}");
        ensure!(v["config"]["allow_rollup_hdrs"] == true, "{v}");
        let js = jetstream::new(client.clone());
        js.publish("m.a", "a".into()).await?.await?;
        let mut watch = client.subscribe("watch.m").await?;
        create_raw(
            &client,
            "M",
            "w",
            r#"{"deliver_subject":"watch.m","deliver_policy":"new","ack_policy":"none"}"#,
        )
        .await?;
        // After max_age the message goes and a marker takes its place.
        let got = collect(&mut watch, 1, Duration::from_secs(4)).await;
        let m = got.first().context("a marker")?;
        let h = m.headers.clone().unwrap_or_default();
        ensure!(m.subject.as_str() == "m.a" && m.payload.is_empty(), "{m:?}");
        ensure!(
            h.get("Nats-Marker-Reason").map(|v| v.as_str()) == Some("MaxAge"),
            "{m:?}"
        );
        ensure!(h.get("Nats-TTL").is_some(), "{m:?}");
        // The marker expires in turn, leaving nothing (and no new marker).
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let v = request(&client, "$JS.API.STREAM.INFO.M", "").await?;
        ensure!(v["state"]["messages"] == 0, "{v}");
        Ok(())
    })
    .await;
}

/// A purge of a wildcard key (`Nats-Rollup: sub` on `$KV.B.hello.*`, as
/// KV clients send it) rolls up every key it matches.
#[tokio::test]
async fn purge_of_a_wildcard_key_rolls_up_every_matching_key() {
    use async_nats::jetstream::kv;
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        let bucket = js
            .create_key_value(kv::Config {
                bucket: "B".into(),
                ..Default::default()
            })
            .await?;
        for i in 0..100 {
            bucket.put(format!("hello.{i}"), "v".into()).await?;
        }
        bucket.put("other.a", "v".into()).await?;
        bucket.put("other.b", "v".into()).await?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("KV-Operation", "PURGE");
        headers.insert("Nats-Rollup", "sub");
        js.publish_with_headers("$KV.B.hello.*", headers, "".into())
            .await?
            .await?;
        let info = js.get_stream("KV_B").await?.cached_info().state.clone();
        let mut keys: Vec<String> = bucket.keys().await?.try_collect().await?;
        keys.sort();
        ensure!(
            info.messages == 3 && keys == ["other.a", "other.b"],
            "{} messages, keys {keys:?}",
            info.messages
        );
        Ok(())
    })
    .await;
}
