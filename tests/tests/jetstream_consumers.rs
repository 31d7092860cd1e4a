//! JetStream consumers end to end with async-nats, against Tern and
//! nats-server: pull fetch/ack/info, redelivery (ack wait, NAK, TERM,
//! max_deliver), push consumers and the ordered consumer, deliver
//! policies, the API's error codes, pull request statuses, direct get,
//! and a durable consumer resuming from its ack floor after `kill -9`
//! (where Tern does more than nats-server: its confirmed acks are durable).

mod common;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use async_nats::jetstream::consumer::{self, pull, push, AckPolicy, DeliverPolicy};
use async_nats::jetstream::{self, stream, AckKind};
use async_nats::Client;
use bytes::Bytes;
use common::{connect, each_target, WAIT};
use futures::StreamExt;
use serde_json::Value;
use tern_tests::{Broker, BrokerOptions, Kind};

fn start_js(kind: Kind, store_dir: &str) -> Result<Broker> {
    Broker::start_with(
        kind,
        BrokerOptions {
            args: vec!["-js".into(), "-sd".into(), store_dir.into()],
            ..Default::default()
        },
    )
    .with_context(|| format!("start {} with JetStream", kind.name()))
}

async fn request(client: &Client, subject: &str, body: &str) -> Result<Value> {
    let msg = tokio::time::timeout(
        WAIT,
        client.request(subject.to_string(), Bytes::from(body.to_string())),
    )
    .await
    .with_context(|| format!("request {subject} timed out"))??;
    serde_json::from_slice(&msg.payload).with_context(|| {
        format!(
            "reply to {subject} is not JSON: {}",
            String::from_utf8_lossy(&msg.payload)
        )
    })
}

fn err_code(v: &Value) -> u64 {
    v["error"]["err_code"].as_u64().unwrap_or(0)
}

/// A stream `ORDERS` on `orders.>` holding `n` messages `m1..mn` on
/// `orders.<i % 3>`.
async fn orders(js: &jetstream::Context, n: usize) -> Result<stream::Stream> {
    let s = js
        .create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            allow_direct: true,
            ..Default::default()
        })
        .await?;
    for i in 1..=n {
        js.publish(format!("orders.{}", i % 3), format!("m{i}").into())
            .await?
            .await?;
    }
    Ok(s)
}

async fn fetch(c: &consumer::Consumer<pull::Config>, n: usize) -> Result<Vec<jetstream::Message>> {
    let mut batch = c
        .fetch()
        .max_messages(n)
        .expires(Duration::from_millis(500))
        .messages()
        .await?;
    let mut out = Vec::new();
    while let Some(m) = tokio::time::timeout(WAIT, batch.next()).await? {
        out.push(m.map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    Ok(out)
}

fn payloads(msgs: &[jetstream::Message]) -> Vec<String> {
    msgs.iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect()
}

#[tokio::test]
async fn pull_fetch_ack_and_info() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let js = jetstream::new(connect(&broker.url()).await?);
        let s = orders(&js, 10).await?;
        let mut c = s
            .create_consumer(pull::Config {
                durable_name: Some("worker".into()),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            })
            .await?;
        let info = c.info().await?.clone();
        ensure!(
            info.num_pending == 10 && info.num_ack_pending == 0,
            "{info:?}"
        );
        ensure!(info.config.max_ack_pending == 1000, "{:?}", info.config);
        ensure!(info.config.ack_wait == Duration::from_secs(30));

        let first = fetch(&c, 4).await?;
        ensure!(
            payloads(&first) == ["m1", "m2", "m3", "m4"],
            "{:?}",
            payloads(&first)
        );
        ensure!(first[0].subject.as_str() == "orders.1");
        let meta = first[3].info().map_err(|e| anyhow::anyhow!("{e}"))?;
        ensure!(
            meta.stream == "ORDERS" && meta.consumer == "worker" && meta.stream_sequence == 4,
            "{meta:?}"
        );
        ensure!(meta.consumer_sequence == 4 && meta.delivered == 1 && meta.pending == 6);
        let info = c.info().await?.clone();
        ensure!(
            info.num_ack_pending == 4 && info.num_pending == 6,
            "{info:?}"
        );
        ensure!(info.delivered.stream_sequence == 4 && info.ack_floor.stream_sequence == 0);

        for m in &first[..2] {
            m.double_ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let info = c.info().await?.clone();
        ensure!(info.ack_floor.stream_sequence == 2, "{:?}", info.ack_floor);
        ensure!(info.num_ack_pending == 2);

        let rest = fetch(&c, 100).await?;
        ensure!(rest.len() == 6, "{:?}", payloads(&rest));
        for m in first[2..].iter().chain(&rest) {
            m.double_ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let info = c.info().await?.clone();
        ensure!(
            info.num_ack_pending == 0 && info.num_pending == 0,
            "{info:?}"
        );
        ensure!(info.ack_floor.stream_sequence == 10 && info.ack_floor.consumer_sequence == 10);
        ensure!(fetch(&c, 5).await?.is_empty());

        js.publish("orders.x", "late".into()).await?.await?;
        let late = fetch(&c, 5).await?;
        ensure!(payloads(&late) == ["late"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn redelivery_nak_term_and_max_deliver() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let js = jetstream::new(connect(&broker.url()).await?);
        let s = orders(&js, 3).await?;
        let mut c = s
            .create_consumer(pull::Config {
                durable_name: Some("retry".into()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_millis(300),
                max_deliver: 2,
                ..Default::default()
            })
            .await?;
        let got = fetch(&c, 3).await?;
        ensure!(got.len() == 3);
        got[0]
            .ack_with(AckKind::Nak(None))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        got[1]
            .ack_with(AckKind::Term)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        // m3 is left to time out.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let again = fetch(&c, 10).await?;
        ensure!(payloads(&again) == ["m1", "m3"], "{:?}", payloads(&again));
        let meta = again[0].info().map_err(|e| anyhow::anyhow!("{e}"))?;
        ensure!(meta.delivered == 2, "{meta:?}");
        let info = c.info().await?.clone();
        ensure!(info.num_redelivered == 2, "{info:?}");
        // Both are at max_deliver: after another ack wait they are dropped.
        tokio::time::sleep(Duration::from_millis(500)).await;
        ensure!(fetch(&c, 10).await?.is_empty());
        let info = c.info().await?.clone();
        ensure!(info.num_ack_pending == 0, "{info:?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn push_consumer_and_ordered_consumer() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        let s = orders(&js, 5).await?;
        let c = s
            .create_consumer(push::Config {
                durable_name: Some("pusher".into()),
                deliver_subject: "deliver.here".into(),
                ack_policy: AckPolicy::Explicit,
                idle_heartbeat: Duration::from_millis(200),
                flow_control: true,
                ..Default::default()
            })
            .await?;
        let mut msgs = c.messages().await?;
        let mut got = Vec::new();
        while got.len() < 5 {
            let m = tokio::time::timeout(WAIT, msgs.next())
                .await?
                .context("push stream ended")?
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            m.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            got.push(String::from_utf8_lossy(&m.payload).into_owned());
        }
        ensure!(got == ["m1", "m2", "m3", "m4", "m5"], "{got:?}");

        let ordered = s
            .create_consumer(push::OrderedConfig {
                deliver_subject: client.new_inbox(),
                filter_subject: "orders.1".into(),
                ..Default::default()
            })
            .await?;
        let mut msgs = ordered.messages().await?;
        let mut got = Vec::new();
        while got.len() < 2 {
            let m = tokio::time::timeout(WAIT, msgs.next())
                .await?
                .context("ordered stream ended")?
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            got.push(String::from_utf8_lossy(&m.payload).into_owned());
        }
        ensure!(got == ["m1", "m4"], "{got:?}");
        js.publish("orders.1", "m6".into()).await?.await?;
        let m = tokio::time::timeout(WAIT, msgs.next())
            .await?
            .context("ordered stream ended")?
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        ensure!(m.payload == "m6");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn deliver_policies() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let js = jetstream::new(connect(&broker.url()).await?);
        let s = orders(&js, 6).await?;
        let make = |name: &str, policy: DeliverPolicy, filter: &str| pull::Config {
            durable_name: Some(name.into()),
            deliver_policy: policy,
            filter_subject: filter.into(),
            ack_policy: AckPolicy::None,
            ..Default::default()
        };
        let cases = [
            (
                "all",
                DeliverPolicy::All,
                "",
                vec!["m1", "m2", "m3", "m4", "m5", "m6"],
            ),
            ("last", DeliverPolicy::Last, "", vec!["m6"]),
            ("lastf", DeliverPolicy::Last, "orders.1", vec!["m4"]),
            ("new", DeliverPolicy::New, "", vec![]),
            (
                "seq",
                DeliverPolicy::ByStartSequence { start_sequence: 5 },
                "",
                vec!["m5", "m6"],
            ),
            (
                "lps",
                DeliverPolicy::LastPerSubject,
                "orders.*",
                vec!["m4", "m5", "m6"],
            ),
            ("filtered", DeliverPolicy::All, "orders.2", vec!["m2", "m5"]),
        ];
        for (name, policy, filter, want) in cases {
            let c = s.create_consumer(make(name, policy, filter)).await?;
            let got = fetch(&c, 10).await?;
            ensure!(payloads(&got) == want, "{name}: {:?}", payloads(&got));
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn consumer_api_errors_names_and_list() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        orders(&js, 1).await?;
        let cases = [
            ("$JS.API.CONSUMER.CREATE.NOPE", r#"{"stream_name":"NOPE","config":{}}"#, 10059),
            ("$JS.API.CONSUMER.CREATE.ORDERS", r#"{"stream_name":"OTHER","config":{}}"#, 10056),
            ("$JS.API.CONSUMER.CREATE.ORDERS", "{nope", 10025),
            (
                "$JS.API.CONSUMER.CREATE.ORDERS.c.orders.x",
                r#"{"stream_name":"ORDERS","config":{"filter_subject":"orders.y"}}"#,
                10131,
            ),
            (
                "$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.d",
                r#"{"stream_name":"ORDERS","config":{"durable_name":"e"}}"#,
                10017,
            ),
            (
                "$JS.API.CONSUMER.CREATE.ORDERS",
                r#"{"stream_name":"ORDERS","config":{"durable_name":"x"}}"#,
                10020,
            ),
            (
                "$JS.API.CONSUMER.CREATE.ORDERS.c",
                r#"{"stream_name":"ORDERS","config":{"deliver_subject":"orders.loop"}}"#,
                10081,
            ),
            (
                "$JS.API.CONSUMER.CREATE.ORDERS.c",
                r#"{"stream_name":"ORDERS","config":{"idle_heartbeat":1000000000}}"#,
                10088,
            ),
            (
                "$JS.API.CONSUMER.CREATE.ORDERS.c",
                r#"{"stream_name":"ORDERS","config":{},"action":"update"}"#,
                10149,
            ),
            ("$JS.API.CONSUMER.INFO.ORDERS.missing", "", 10014),
            ("$JS.API.CONSUMER.DELETE.ORDERS.missing", "", 10014),
            ("$JS.API.CONSUMER.INFO.NOPE.x", "", 10059),
        ];
        for (subject, body, code) in cases {
            let v = request(&client, subject, body).await?;
            ensure!(err_code(&v) == code, "{subject} {body}: {v}");
        }
        let create = r#"{"stream_name":"ORDERS","config":{"ack_policy":"explicit"},"action":"create"}"#;
        let v = request(&client, "$JS.API.CONSUMER.CREATE.ORDERS.a", create).await?;
        ensure!(v["name"] == "a" && v["config"]["name"] == "a", "{v}");
        ensure!(v["type"] == "io.nats.jetstream.api.v1.consumer_create_response");
        // A different config under the same name is refused. (The same one
        // again is accepted by Tern; nats-server 2.15 refuses it too, as its
        // stored copy carries metadata the request lacks.)
        let other = r#"{"stream_name":"ORDERS","config":{"ack_policy":"explicit","max_deliver":3},"action":"create"}"#;
        let v = request(&client, "$JS.API.CONSUMER.CREATE.ORDERS.a", other).await?;
        ensure!(err_code(&v) == 10148, "{v}");
        let v = request(
            &client,
            "$JS.API.CONSUMER.CREATE.ORDERS.a",
            r#"{"stream_name":"ORDERS","config":{"ack_policy":"all"}}"#,
        )
        .await?;
        ensure!(err_code(&v) == 10012, "{v}");
        request(
            &client,
            "$JS.API.CONSUMER.CREATE.ORDERS.b",
            r#"{"stream_name":"ORDERS","config":{}}"#,
        )
        .await?;
        let names = request(&client, "$JS.API.CONSUMER.NAMES.ORDERS", "").await?;
        ensure!(names["consumers"] == serde_json::json!(["a", "b"]), "{names}");
        ensure!(names["total"] == 2);
        let list = request(&client, "$JS.API.CONSUMER.LIST.ORDERS", "").await?;
        ensure!(list["consumers"][1]["name"] == "b", "{list}");
        let info = request(&client, "$JS.API.STREAM.INFO.ORDERS", "").await?;
        ensure!(info["state"]["consumer_count"] == 2, "{info}");
        let del = request(&client, "$JS.API.CONSUMER.DELETE.ORDERS.a", "").await?;
        ensure!(del["success"] == true, "{del}");
        let names = request(&client, "$JS.API.CONSUMER.NAMES.ORDERS", "").await?;
        ensure!(names["consumers"] == serde_json::json!(["b"]), "{names}");
        Ok(())
    })
    .await;
}

/// The status line of a headers-only reply (`408 Request Timeout`).
fn status_of(m: &async_nats::Message) -> String {
    match (&m.status, &m.description) {
        (Some(s), Some(d)) => format!("{} {d}", s.as_u16()),
        (Some(s), None) => s.as_u16().to_string(),
        _ => "none".into(),
    }
}

#[tokio::test]
async fn pull_request_statuses() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        orders(&js, 2).await?;
        for (name, config) in [
            (
                "p",
                r#"{"ack_policy":"explicit","max_batch":10,"max_bytes":1000}"#,
            ),
            ("push", r#"{"deliver_subject":"somewhere"}"#),
        ] {
            let body = format!(r#"{{"stream_name":"ORDERS","config":{config}}}"#);
            let v = request(
                &client,
                &format!("$JS.API.CONSUMER.CREATE.ORDERS.{name}"),
                &body,
            )
            .await?;
            ensure!(err_code(&v) == 0, "{v}");
        }
        let next = "$JS.API.CONSUMER.MSG.NEXT.ORDERS.p";
        let ask = |subject: &'static str, body: &'static str| {
            let client = client.clone();
            async move {
                let inbox = client.new_inbox();
                let mut sub = client.subscribe(inbox.clone()).await?;
                client
                    .publish_with_reply(subject, inbox, Bytes::from_static(body.as_bytes()))
                    .await?;
                let mut out = Vec::new();
                while let Ok(Some(m)) =
                    tokio::time::timeout(Duration::from_millis(700), sub.next()).await
                {
                    let done = m.status.is_some();
                    out.push(if done {
                        status_of(&m)
                    } else {
                        String::from_utf8_lossy(&m.payload).into_owned()
                    });
                    if done {
                        break;
                    }
                }
                anyhow::Ok(out)
            }
        };
        ensure!(ask(next, r#"{"batch":20}"#).await? == ["409 Exceeded MaxRequestBatch of 10"]);
        ensure!(
            ask(next, r#"{"batch":1,"max_bytes":5000}"#).await?
                == ["409 Exceeded MaxRequestMaxBytes of 1000"]
        );
        ensure!(ask(next, "{bad")
            .await?
            .first()
            .is_some_and(|s| s.starts_with("400 Bad Request")));
        ensure!(
            ask("$JS.API.CONSUMER.MSG.NEXT.ORDERS.push", "").await?
                == ["409 Consumer is push based"]
        );
        let got = ask(next, r#"{"batch":5,"no_wait":true}"#).await?;
        ensure!(got == ["m1", "m2", "404 No Messages"], "{got:?}");
        ensure!(ask(next, r#"{"batch":5,"no_wait":true}"#).await? == ["404 No Messages"]);
        let got = ask(next, r#"{"batch":5,"expires":200000000}"#).await?;
        ensure!(got == ["408 Request Timeout"], "{got:?}");
        let got = ask("$JS.API.CONSUMER.MSG.NEXT.ORDERS.none", "").await?;
        ensure!(got == ["503"], "no consumer: {got:?}");
        Ok(())
    })
    .await;
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
                let inbox = client.new_inbox();
                let mut sub = client.subscribe(inbox.clone()).await?;
                client
                    .publish_with_reply(subject, inbox, Bytes::from_static(body.as_bytes()))
                    .await?;
                let mut out = Vec::new();
                while let Ok(Some(m)) =
                    tokio::time::timeout(Duration::from_millis(500), sub.next()).await
                {
                    let h = |k: &str| {
                        m.headers
                            .as_ref()
                            .and_then(|h| h.get(k))
                            .map(|v| v.as_str().to_string())
                            .unwrap_or_default()
                    };
                    out.push(if m.status.is_some() {
                        format!("{} pending={}", status_of(&m), h("Nats-Num-Pending"))
                    } else {
                        format!(
                            "{}@{} {} {}",
                            h("Nats-Subject"),
                            h("Nats-Sequence"),
                            h("Nats-Stream"),
                            String::from_utf8_lossy(&m.payload)
                        )
                    });
                }
                anyhow::Ok(out)
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
        let got = get(format!("{d}.orders.2"), "").await?;
        ensure!(got == ["orders.2@5 ORDERS m5"], "{got:?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn durable_consumer_resumes_after_kill() {
    each_target(|kind| async move {
        let dir = tempfile::tempdir()?;
        let store = dir.path().to_string_lossy().into_owned();
        {
            let broker = start_js(kind, &store)?;
            let js = jetstream::new(connect(&broker.url()).await?);
            let s = orders(&js, 6).await?;
            let c = s
                .create_consumer(pull::Config {
                    durable_name: Some("keep".into()),
                    ack_policy: AckPolicy::Explicit,
                    ..Default::default()
                })
                .await?;
            let got = fetch(&c, 3).await?;
            for m in &got {
                m.double_ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            // Dropping the broker kills it with SIGKILL.
        }
        let broker = start_js(kind, &store)?;
        let js = jetstream::new(connect(&broker.url()).await?);
        let s = js.get_stream("ORDERS").await?;
        let mut c: consumer::Consumer<pull::Config> = s
            .get_consumer("keep")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let info = c.info().await?.clone();
        ensure!(info.num_pending == 3, "{info:?}");
        ensure!(info.delivered.stream_sequence == 3, "{info:?}");
        if kind == Kind::NatsServer {
            // nats-server writes consumer state in the background: acks
            // confirmed just before a `kill -9` can be lost (here all
            // three were), and those messages come back after ack_wait.
            return Ok(());
        }
        // Tern confirms an ack (`AckSync`) only once its state is on disk.
        ensure!(info.ack_floor.stream_sequence == 3, "{info:?}");
        ensure!(info.num_ack_pending == 0, "{info:?}");
        let rest = fetch(&c, 10).await?;
        ensure!(
            payloads(&rest) == ["m4", "m5", "m6"],
            "{:?}",
            payloads(&rest)
        );
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

/// `try_collect` for the KV listings, whose errors are not `anyhow`'s.
trait CollectVec<T> {
    async fn try_collect_vec(self) -> Result<Vec<T>>;
}

impl<S, T, E> CollectVec<T> for S
where
    S: futures::Stream<Item = Result<T, E>> + Unpin,
    E: std::fmt::Display,
{
    async fn try_collect_vec(mut self) -> Result<Vec<T>> {
        let mut out = Vec::new();
        while let Some(item) = tokio::time::timeout(WAIT, self.next()).await? {
            out.push(item.map_err(|e| anyhow::anyhow!("{e}"))?);
        }
        Ok(out)
    }
}

#[tokio::test]
async fn work_queue_and_interest_retention() {
    use async_nats::jetstream::stream::RetentionPolicy;
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());

        // Work queue: each message goes once, and leaves when acknowledged.
        let mut wq = js
            .create_stream(stream::Config {
                name: "JOBS".into(),
                subjects: vec!["jobs.>".into()],
                retention: RetentionPolicy::WorkQueue,
                ..Default::default()
            })
            .await?;
        for i in 1..=4 {
            js.publish(format!("jobs.{}", i % 2), format!("j{i}").into())
                .await?
                .await?;
        }
        let rules = [
            (r#"{"ack_policy":"none"}"#, 10084),
            (r#"{"ack_policy":"explicit","deliver_policy":"new"}"#, 10101),
        ];
        for (config, code) in rules {
            let body = format!(r#"{{"stream_name":"JOBS","config":{config}}}"#);
            let v = request(&client, "$JS.API.CONSUMER.CREATE.JOBS.bad", &body).await?;
            ensure!(err_code(&v) == code, "{config}: {v}");
        }
        let even = wq
            .create_consumer(pull::Config {
                durable_name: Some("even".into()),
                filter_subject: "jobs.0".into(),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            })
            .await?;
        for (config, code) in [
            (r#"{"ack_policy":"explicit"}"#, 10099),
            (
                r#"{"ack_policy":"explicit","filter_subject":"jobs.*"}"#,
                10100,
            ),
        ] {
            let body = format!(r#"{{"stream_name":"JOBS","config":{config}}}"#);
            let v = request(&client, "$JS.API.CONSUMER.CREATE.JOBS.bad", &body).await?;
            ensure!(err_code(&v) == code, "{config}: {v}");
        }
        let got = fetch(&even, 10).await?;
        ensure!(payloads(&got) == ["j2", "j4"], "{:?}", payloads(&got));
        for m in &got {
            m.double_ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let state = wq.info().await?.state.clone();
        ensure!(state.messages == 2, "{state:?}");

        // Interest: kept until every consumer acknowledged; not kept at all
        // while nobody is interested.
        let mut ev = js
            .create_stream(stream::Config {
                name: "EVENTS".into(),
                subjects: vec!["events.>".into()],
                retention: RetentionPolicy::Interest,
                ..Default::default()
            })
            .await?;
        let ack = js.publish("events.early", "lost".into()).await?.await?;
        ensure!(ack.sequence == 1, "{ack:?}");
        ensure!(ev.info().await?.state.messages == 0);
        let mut consumers = Vec::new();
        for name in ["a", "b"] {
            consumers.push(
                ev.create_consumer(pull::Config {
                    durable_name: Some(name.into()),
                    ack_policy: AckPolicy::Explicit,
                    ..Default::default()
                })
                .await?,
            );
        }
        js.publish("events.x", "kept".into()).await?.await?;
        ensure!(ev.info().await?.state.messages == 1);
        let got = fetch(&consumers[0], 1).await?;
        got[0]
            .double_ack()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        ensure!(ev.info().await?.state.messages == 1, "b has not acked yet");
        let got = fetch(&consumers[1], 1).await?;
        ensure!(payloads(&got) == ["kept"]);
        got[0]
            .double_ack()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let state = ev.info().await?.state.clone();
        ensure!(state.messages == 0 && state.last_sequence == 2, "{state:?}");

        // Deleting a consumer lets go of what only it still needed.
        js.publish("events.y", "pending".into()).await?.await?;
        let got = fetch(&consumers[0], 1).await?;
        got[0]
            .double_ack()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        ensure!(ev.info().await?.state.messages == 1);
        ev.delete_consumer("b").await?;
        ensure!(ev.info().await?.state.messages == 0);
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

/// `/jsz` with every detail, and `/metrics`, after the same workload on
/// both brokers: the same nesting, names and types, and the counters.
#[tokio::test]
async fn jsz_details_and_metrics_report_consumers() {
    use common::monitoring::{shape_diff, Monitored};
    let mut seen = Vec::new();
    for kind in Kind::targets() {
        let m = Monitored::start_with(kind, &["-js", "-sd", "store"]).expect("start");
        let js = jetstream::new(connect(&m.broker.url()).await.expect("connect"));
        let s = orders(&js, 3).await.expect("stream");
        let c = s
            .create_consumer(pull::Config {
                durable_name: Some("d".into()),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .expect("consumer");
        assert_eq!(fetch(&c, 1).await.expect("fetch").len(), 1);
        let jsz = m
            .wait_for(
                "/jsz?accounts=true&streams=true&consumers=true&config=true",
                |v| {
                    v["account_details"][0]["stream_detail"][0]["consumer_detail"][0]["num_pending"]
                        == 2
                },
            )
            .expect("jsz");
        assert_eq!(jsz["consumers"], 1, "{jsz:#}");
        let stream = &jsz["account_details"][0]["stream_detail"][0];
        assert_eq!(stream["state"]["messages"], 3, "{jsz:#}");
        let consumer = &stream["consumer_detail"][0];
        assert_eq!(consumer["num_ack_pending"], 1, "{jsz:#}");
        assert_eq!(consumer["config"]["ack_policy"], "explicit", "{jsz:#}");
        let plain = m.json("/jsz?accounts=true").expect("jsz");
        assert!(
            plain["account_details"][0].get("stream_detail").is_none(),
            "{plain:#}"
        );
        let port = m.http;
        let metrics = tokio::task::spawn_blocking(move || tern_tests::http_get(port, "/metrics"))
            .await
            .expect("join")
            .expect("metrics");
        if kind == Kind::Tern {
            let body = metrics.body;
            assert!(
                body.contains("nats_jetstream_stream_messages{stream_name=\"ORDERS\"} 3"),
                "{body}"
            );
            assert!(
                body.contains(
                    "nats_jetstream_consumer_num_pending{stream_name=\"ORDERS\",consumer_name=\"d\"} 2"
                ),
                "{body}"
            );
        }
        seen.push(jsz);
    }
    if let [tern, nats] = &seen[..] {
        // nats-server adds clustering and versioning extras Tern has no
        // counterpart for.
        let allowed = [
            "limits",
            "sync_interval",
            "strict",
            "metadata",
            "last_active",
            "consumer_limits",
            "meta_cluster",
        ];
        let diff = shape_diff(tern, nats, &allowed, &[]);
        assert!(diff.is_empty(), "{diff:#?}");
    }
}
