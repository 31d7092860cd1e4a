//! Work-queue and interest retention (with nats-server's consumer rules for
//! work queues), and `/jsz` details plus Prometheus samples once consumers
//! exist — against Tern and nats-server.

mod common;

use anyhow::ensure;
use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::{self, stream};
use common::jetstream::*;
use common::{connect, each_target};
use tern_tests::Kind;

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
