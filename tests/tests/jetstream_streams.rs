//! JetStream streams end to end with async-nats's `jetstream` API, against
//! Tern (`-js -sd <dir>`) and nats-server: create, info, names, list,
//! publish with acks, get and delete messages, purge, delete, limits,
//! dedupe by `Nats-Msg-Id`, expected-sequence headers, API error codes,
//! and a restart (after `kill -9`) that keeps streams and acked messages.

mod common;

use anyhow::{ensure, Context};
use async_nats::jetstream::{self, stream};
use async_nats::HeaderMap;
use bytes::Bytes;
use common::jetstream::{err_code, request, start_js};
use common::{connect, each_target, WAIT};
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use tern_tests::{Broker, BrokerOptions, Kind};

#[tokio::test]
async fn create_publish_get_purge_delete() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        let mut s = js
            .create_stream(stream::Config {
                name: "ORDERS".into(),
                subjects: vec!["orders.>".into()],
                ..Default::default()
            })
            .await?;
        let info = s.info().await?;
        ensure!(info.state.messages == 0, "new stream has messages");
        ensure!(info.config.subjects == ["orders.>"]);
        ensure!(info.config.max_messages == -1, "max_msgs default");

        for (i, subj) in ["orders.a", "orders.b", "orders.a"].iter().enumerate() {
            let ack = js.publish(*subj, format!("m{i}").into()).await?.await?;
            ensure!(
                ack.stream == "ORDERS" && ack.sequence == i as u64 + 1,
                "{ack:?}"
            );
            ensure!(!ack.duplicate);
        }
        let info = s.info().await?.clone();
        ensure!(info.state.messages == 3, "{:?}", info.state);
        ensure!(info.state.first_sequence == 1 && info.state.last_sequence == 3);
        ensure!(info.state.subjects_count == 2, "{:?}", info.state);

        let m = s.get_raw_message(2).await?;
        ensure!(
            m.subject.as_str() == "orders.b" && m.payload == "m1",
            "{m:?}"
        );
        let m = s.get_last_raw_message_by_subject("orders.a").await?;
        ensure!(m.sequence == 3 && m.payload == "m2", "{m:?}");

        let names: Vec<String> = js.stream_names().try_collect().await?;
        ensure!(names == ["ORDERS"], "{names:?}");
        let list: Vec<stream::Info> = js.streams().try_collect().await?;
        ensure!(list.len() == 1 && list[0].state.messages == 3);

        ensure!(s.delete_message(2).await?, "delete_message");
        ensure!(
            s.get_raw_message(2).await.is_err(),
            "deleted message still there"
        );
        let v = request(&client, "$JS.API.STREAM.MSG.GET.ORDERS", r#"{"seq":2}"#).await?;
        ensure!(err_code(&v) == 10037, "{v}");

        let purged = s.purge().await?;
        ensure!(purged.purged == 2 && purged.success, "{purged:?}");
        let info = s.info().await?;
        ensure!(
            info.state.messages == 0 && info.state.first_sequence == 4,
            "{:?}",
            info.state
        );

        ensure!(js.delete_stream("ORDERS").await?.success);
        let names: Vec<String> = js.stream_names().try_collect().await?;
        ensure!(names.is_empty(), "{names:?}");
        let account = js.query_account().await?;
        ensure!(account.streams == 0, "{account:?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn limits_and_discard() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        let mut old = js
            .create_stream(stream::Config {
                name: "OLD".into(),
                subjects: vec!["old.*".into()],
                max_messages: 3,
                ..Default::default()
            })
            .await?;
        for i in 0..5 {
            js.publish("old.x", format!("{i}").into()).await?.await?;
        }
        let st = old.info().await?.state.clone();
        ensure!(
            st.messages == 3 && st.first_sequence == 3 && st.last_sequence == 5,
            "{st:?}"
        );

        js.create_stream(stream::Config {
            name: "NEW".into(),
            subjects: vec!["new.*".into()],
            max_messages: 2,
            discard: stream::DiscardPolicy::New,
            storage: stream::StorageType::Memory,
            ..Default::default()
        })
        .await?;
        for _ in 0..2 {
            js.publish("new.x", "x".into()).await?.await?;
        }
        // A third message is refused, with nats-server's error in the ack.
        let v = request(&client, "new.x", "x").await?;
        ensure!(err_code(&v) == 10077, "{v}");
        ensure!(
            v["error"]["description"] == "maximum messages exceeded",
            "{v}"
        );

        js.create_stream(stream::Config {
            name: "SMALL".into(),
            subjects: vec!["small".into()],
            max_message_size: 4,
            ..Default::default()
        })
        .await?;
        let v = request(&client, "small", "too big").await?;
        ensure!(err_code(&v) == 10054, "{v}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn dedupe_and_expected_headers() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        let mut s = js
            .create_stream(stream::Config {
                name: "D".into(),
                subjects: vec!["d.>".into()],
                ..Default::default()
            })
            .await?;
        let mut h = HeaderMap::new();
        h.insert("Nats-Msg-Id", "one");
        let first = js
            .publish_with_headers("d.a", h.clone(), "1".into())
            .await?
            .await?;
        let again = js.publish_with_headers("d.a", h, "1".into()).await?.await?;
        ensure!(!first.duplicate && again.duplicate, "{first:?} {again:?}");
        ensure!(again.sequence == first.sequence);
        ensure!(s.info().await?.state.messages == 1);

        let mut h = HeaderMap::new();
        h.insert("Nats-Expected-Last-Sequence", "7");
        let err = js
            .publish_with_headers("d.b", h, "x".into())
            .await?
            .await
            .expect_err("wrong expected last sequence accepted");
        ensure!(err.to_string().contains("wrong last sequence"), "{err}");
        let mut h = HeaderMap::new();
        h.insert("Nats-Expected-Last-Sequence", "1");
        let ack = js.publish_with_headers("d.b", h, "x".into()).await?.await?;
        ensure!(ack.sequence == 2);
        let mut h = HeaderMap::new();
        h.insert("Nats-Expected-Last-Msg-Id", "one");
        let err = js
            .publish_with_headers("d.c", h, "x".into())
            .await?
            .await
            .expect_err("the last message had no id");
        ensure!(err.to_string().contains("wrong last msg ID"), "{err}");
        let mut h = HeaderMap::new();
        h.insert("Nats-Msg-Id", "two");
        js.publish_with_headers("d.c", h, "x".into()).await?.await?;
        let mut h = HeaderMap::new();
        h.insert("Nats-Expected-Last-Msg-Id", "two");
        let ack = js.publish_with_headers("d.c", h, "x".into()).await?.await?;
        ensure!(ack.sequence == 4, "{ack:?}");
        let mut h = HeaderMap::new();
        h.insert("Nats-Expected-Stream", "OTHER");
        let err = js
            .publish_with_headers("d.c", h, "x".into())
            .await?
            .await
            .expect_err("wrong expected stream accepted");
        ensure!(
            err.to_string().contains("expected stream does not match"),
            "{err}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn api_error_codes_match_nats_server() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let v = request(&client, "$JS.API.STREAM.INFO.NOPE", "").await?;
        ensure!(err_code(&v) == 10059 && v["error"]["code"] == 404, "{v}");
        ensure!(
            v["type"] == "io.nats.jetstream.api.v1.stream_info_response",
            "{v}"
        );
        let v = request(&client, "$JS.API.STREAM.DELETE.NOPE", "").await?;
        ensure!(err_code(&v) == 10059, "{v}");
        let v = request(&client, "$JS.API.STREAM.CREATE.X", "{not json").await?;
        ensure!(err_code(&v) == 10025, "{v}");
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.A",
            r#"{"name":"A","subjects":["a.*"]}"#,
        )
        .await?;
        ensure!(v["did_create"] == true, "{v}");
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.B",
            r#"{"name":"B","subjects":["a.b"]}"#,
        )
        .await?;
        ensure!(err_code(&v) == 10065, "{v}");
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.C",
            r#"{"name":"D","subjects":["c"]}"#,
        )
        .await?;
        ensure!(err_code(&v) == 10056, "{v}");
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.A",
            r#"{"name":"A","subjects":["a.*"],"max_msgs":5}"#,
        )
        .await?;
        ensure!(err_code(&v) == 10058, "{v}");
        let v = request(&client, "$JS.API.STREAM.MSG.GET.A", r#"{"seq":9}"#).await?;
        ensure!(err_code(&v) == 10037, "{v}");
        let v = request(&client, "$JS.API.INFO", "").await?;
        ensure!(v["streams"] == 1 && v["limits"]["max_streams"] == -1, "{v}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn update_changes_limits_and_subjects() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        let config = stream::Config {
            name: "U".into(),
            subjects: vec!["u.a".into()],
            ..Default::default()
        };
        js.create_stream(config.clone()).await?;
        for _ in 0..4 {
            js.publish("u.a", "x".into()).await?.await?;
        }
        let info = js
            .update_stream(stream::Config {
                subjects: vec!["u.a".into(), "u.b".into()],
                max_messages: 2,
                ..config
            })
            .await?;
        ensure!(info.state.messages == 2, "{:?}", info.state);
        let ack = js.publish("u.b", "y".into()).await?.await?;
        ensure!(ack.sequence == 5, "{ack:?}");
        let v = request(
            &client,
            "$JS.API.STREAM.UPDATE.U",
            r#"{"name":"U","subjects":["u.a"],"storage":"memory"}"#,
        )
        .await?;
        ensure!(err_code(&v) != 0, "storage type change accepted: {v}");
        let v = request(&client, "$JS.API.STREAM.UPDATE.NOPE", r#"{"name":"NOPE"}"#).await?;
        ensure!(err_code(&v) == 10059, "{v}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn restart_recovers_streams_and_acked_messages() {
    each_target(|kind| async move {
        let dir = tempfile::tempdir()?;
        let store = dir.path().to_string_lossy().into_owned();
        {
            let broker = start_js(kind, &store)?;
            let client = connect(&broker.url()).await?;
            let js = jetstream::new(client);
            js.create_stream(stream::Config {
                name: "KEEP".into(),
                subjects: vec!["keep.>".into()],
                max_messages: 100,
                ..Default::default()
            })
            .await?;
            for i in 1..=19u64 {
                let ack = js.publish("keep.x", format!("{i}").into()).await?.await?;
                ensure!(ack.sequence == i);
            }
            let mut h = HeaderMap::new();
            h.insert("Nats-Msg-Id", "before");
            let ack = js
                .publish_with_headers("keep.x", h, "20".into())
                .await?
                .await?;
            ensure!(ack.sequence == 20);
            // Dropping the broker kills it with SIGKILL.
        }
        let broker = start_js(kind, &store)?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client);
        let mut s = js.get_stream("KEEP").await?;
        let info = s.info().await?.clone();
        ensure!(
            info.state.messages == 20 && info.state.last_sequence == 20,
            "{:?}",
            info.state
        );
        ensure!(info.config.max_messages == 100);
        let m = s.get_raw_message(20).await?;
        ensure!(m.payload == "20", "{m:?}");
        let ack = js.publish("keep.y", "next".into()).await?.await?;
        ensure!(ack.sequence == 21, "{ack:?}");
        // The dedupe window outlives the restart.
        let mut h = HeaderMap::new();
        h.insert("Nats-Msg-Id", "before");
        let dup = js
            .publish_with_headers("keep.z", h, "again".into())
            .await?
            .await?;
        ensure!(dup.duplicate && dup.sequence == 20, "{dup:?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn unimplemented_api_is_an_error_reply_on_tern() {
    if !Kind::targets().contains(&Kind::Tern) {
        return;
    }
    let broker = start_js(Kind::Tern, "store").expect("start tern");
    let client = connect(&broker.url()).await.expect("connect");
    let v = request(&client, "$JS.API.STREAM.SNAPSHOT.X", "")
        .await
        .expect("an answer");
    assert!(v["error"]["description"]
        .as_str()
        .is_some_and(|d| d.contains("not implemented")));
}

#[tokio::test]
async fn server_max_file_store_is_enforced() {
    each_target(|kind| async move {
        let broker = common::start_with_config(
            kind,
            "jetstream {\n  store_dir: store\n  max_file_store: 4KB\n}\n",
        )?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        js.create_stream(stream::Config {
            name: "F".into(),
            subjects: vec!["f".into()],
            ..Default::default()
        })
        .await?;
        let payload = "x".repeat(500);
        let mut refused = None;
        for i in 0..20 {
            let v = request(&client, "f", &payload).await?;
            if err_code(&v) != 0 {
                refused = Some((i, v));
                break;
            }
        }
        let (i, v) = refused.context("20 x 500 bytes fit in 4KB")?;
        ensure!(i >= 4, "refused too early ({i}): {v}");
        ensure!(err_code(&v) == 10023 && v["error"]["code"] == 503, "{v}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn jsz_reports_streams_and_messages() {
    each_target(|kind| async move {
        let http = tern_tests::free_port().to_string();
        let broker = Broker::start_with(
            kind,
            BrokerOptions {
                args: vec![
                    "-js".into(),
                    "-sd".into(),
                    "store".into(),
                    "-m".into(),
                    http.clone(),
                ],
                ..Default::default()
            },
        )?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client);
        js.create_stream(stream::Config {
            name: "J".into(),
            subjects: vec!["j".into()],
            ..Default::default()
        })
        .await?;
        for _ in 0..3 {
            js.publish("j", "abc".into()).await?.await?;
        }
        let port: u16 = http.parse()?;
        let jsz = tokio::task::spawn_blocking(move || tern_tests::http_get(port, "/jsz"))
            .await??
            .json()?;
        ensure!(jsz["streams"] == 1 && jsz["messages"] == 3, "{jsz:#}");
        ensure!(
            jsz["disabled"].is_null() || jsz["disabled"] == false,
            "{jsz:#}"
        );
        ensure!(
            jsz["config"]["store_dir"]
                .as_str()
                .is_some_and(|d| d.ends_with("store/jetstream")),
            "{jsz:#}"
        );
        ensure!(jsz["bytes"].as_u64().is_some_and(|b| b > 9), "{jsz:#}");
        let varz = tokio::task::spawn_blocking(move || tern_tests::http_get(port, "/varz"))
            .await??
            .json()?;
        ensure!(
            varz["jetstream"]["config"]["store_dir"] == jsz["config"]["store_dir"],
            "{varz:#}"
        );
        ensure!(
            varz["jetstream"]["stats"]["storage"].as_u64() > Some(0),
            "{varz:#}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn pipelined_publishes_are_acked_in_order() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client);
        let mut s = js
            .create_stream(stream::Config {
                name: "P".into(),
                subjects: vec!["p.*".into()],
                ..Default::default()
            })
            .await?;
        let mut pending = Vec::new();
        for i in 0..500 {
            pending.push(
                js.publish(format!("p.{}", i % 7), format!("{i}").into())
                    .await?,
            );
        }
        for (i, ack) in pending.into_iter().enumerate() {
            let ack = ack.await?;
            ensure!(ack.sequence == i as u64 + 1, "ack {i}: {ack:?}");
        }
        let st = s.info().await?.state.clone();
        ensure!(st.messages == 500 && st.subjects_count == 7, "{st:?}");
        let m = s.get_raw_message(500).await?;
        ensure!(m.payload == "499" && m.subject.as_str() == "p.2", "{m:?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn per_message_ttl() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.T",
            r#"{"name":"T","subjects":["t.>"],"allow_msg_ttl":true}"#,
        )
        .await?;
        ensure!(err_code(&v) == 0, "{v}");
        let js = jetstream::new(client.clone());
        let publish = |ttl: &'static str, subject: &'static str| {
            let client = client.clone();
            async move {
                let mut h = HeaderMap::new();
                h.insert("Nats-TTL", ttl);
                let msg = tokio::time::timeout(
                    WAIT,
                    client.request_with_headers(subject, h, Bytes::from_static(b"x")),
                )
                .await??;
                anyhow::Ok(serde_json::from_slice::<Value>(&msg.payload)?)
            }
        };
        ensure!(err_code(&publish("1s", "t.short").await?) == 0);
        ensure!(err_code(&publish("1h", "t.long").await?) == 0);
        ensure!(err_code(&publish("soon", "t.bad").await?) == 10165);
        js.publish("t.plain", "y".into()).await?.await?;
        let mut s = js.get_stream("T").await?;
        ensure!(s.info().await?.state.messages == 3);
        tokio::time::sleep(std::time::Duration::from_millis(1800)).await;
        let state = s.info().await?.state.clone();
        ensure!(
            state.messages == 2 && state.first_sequence == 2,
            "{state:?}"
        );

        js.create_stream(stream::Config {
            name: "NOTTL".into(),
            subjects: vec!["n".into()],
            ..Default::default()
        })
        .await?;
        ensure!(err_code(&publish("1s", "n").await?) == 10166);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn subject_transform_and_republish() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let create = |body: &'static str| {
            let client = client.clone();
            async move {
                let name = serde_json::from_str::<Value>(body)?["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                request(&client, &format!("$JS.API.STREAM.CREATE.{name}"), body).await
            }
        };
        let v = create(
            r#"{"name":"T","subjects":["in.>"],"subject_transform":{"src":"in.*.>","dest":"stored.{{wildcard(1)}}.>"}}"#,
        )
        .await?;
        ensure!(err_code(&v) == 0, "{v}");
        let v = create(
            r#"{"name":"R","subjects":["r.>"],"republish":{"src":"r.>","dest":"out.>"}}"#,
        )
        .await?;
        ensure!(err_code(&v) == 0, "{v}");
        ensure!(v["config"]["republish"]["src"] == "r.>", "{v}");
        let v = create(r#"{"name":"C","subjects":["c.>"],"republish":{"dest":"c.x"}}"#).await?;
        ensure!(err_code(&v) == 10052, "cycle: {v}");

        let js = jetstream::new(client.clone());
        js.publish("in.a.b", "t".into()).await?.await?;
        let t = js.get_stream("T").await?;
        let m = t.get_raw_message(1).await?;
        ensure!(m.subject.as_str() == "stored.a.b", "{m:?}");

        let mut out = client.subscribe("out.>").await?;
        js.publish("r.x", "one".into()).await?.await?;
        js.publish("r.x", "two".into()).await?.await?;
        for (payload, seq, last) in [("one", "1", "0"), ("two", "2", "1")] {
            let m = tokio::time::timeout(WAIT, out.next())
                .await?
                .context("republished message")?;
            let h = m.headers.clone().unwrap_or_default();
            let get = |k: &str| h.get(k).map(|v| v.as_str().to_string()).unwrap_or_default();
            ensure!(m.subject.as_str() == "out.x" && m.payload == payload, "{m:?}");
            ensure!(get("Nats-Stream") == "R" && get("Nats-Subject") == "r.x", "{m:?}");
            ensure!(get("Nats-Sequence") == seq && get("Nats-Last-Sequence") == last, "{m:?}");
        }
        Ok(())
    })
    .await;
}

/// `max_age` removes messages on its own, without new publishes to trigger
/// it — also when the stream was empty before.
#[tokio::test]
async fn max_age_expires_an_idle_stream() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.AGE",
            r#"{"name":"AGE","subjects":["age"],"max_age":1000000000,"duplicate_window":500000000}"#,
        )
        .await?;
        ensure!(err_code(&v) == 0, "{v}");
        let js = jetstream::new(client.clone());
        js.publish("age", "old".into()).await?.await?;
        tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
        let v = request(&client, "$JS.API.STREAM.INFO.AGE", "").await?;
        ensure!(v["state"]["messages"] == 0, "{v}");
        Ok(())
    })
    .await;
}
