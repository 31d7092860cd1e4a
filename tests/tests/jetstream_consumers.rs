//! JetStream consumers end to end with async-nats, against Tern and
//! nats-server: pull fetch/ack/info, redelivery (ack wait, NAK with and
//! without delay, TERM, max_deliver), +NXT, max_ack_pending, headers only,
//! push consumers (deliver groups, flow control, heartbeats) and the
//! ordered consumer, deliver policies, inactive ephemerals, the API's error
//! codes, pull request statuses, and a durable consumer resuming from its
//! ack floor after `kill -9` (where Tern does more than nats-server: its
//! confirmed acks are durable).

mod common;

use std::time::Duration;

use anyhow::{ensure, Context};
use async_nats::jetstream::consumer::{self, pull, push, AckPolicy, DeliverPolicy};
use async_nats::jetstream::{self, AckKind};
use common::jetstream::*;
use common::{connect, each_target, WAIT};
use futures::StreamExt;
use tern_tests::Kind;

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
                let got = ask(&client, subject, body, Duration::from_millis(700), true).await?;
                anyhow::Ok(show(&got))
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
async fn ack_kinds_limits_and_headers_only() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        orders(&js, 5).await?;
        let quiet = Duration::from_millis(400);
        create_raw(
            &client,
            "ORDERS",
            "limited",
            r#"{"ack_policy":"explicit","max_ack_pending":2,"ack_wait":30000000000}"#,
        )
        .await?;
        let inbox = client.new_inbox();
        let mut sub = client.subscribe(inbox.clone()).await?;
        let next = "$JS.API.CONSUMER.MSG.NEXT.ORDERS.limited";
        client
            .publish_with_reply(
                next,
                inbox.clone(),
                r#"{"batch":5,"expires":300000000}"#.into(),
            )
            .await?;
        // Only two may be unacknowledged at once.
        let got = collect(&mut sub, 3, Duration::from_secs(2)).await;
        ensure!(
            show(&got) == ["m1", "m2", "408 Request Timeout"],
            "{:?}",
            show(&got)
        );

        // -NAK with a delay: not before it has passed.
        let m1 = got[0].reply.clone().context("ack subject")?;
        client
            .publish(m1.clone(), r#"-NAK {"delay": 600000000}"#.into())
            .await?;
        // +NXT acks m2 and asks for the next message on its own reply.
        let m2 = got[1].reply.clone().context("ack subject")?;
        let inbox2 = client.new_inbox();
        let mut sub2 = client.subscribe(inbox2.clone()).await?;
        client.publish_with_reply(m2, inbox2, "+NXT".into()).await?;
        let got = collect(&mut sub2, 1, Duration::from_secs(2)).await;
        ensure!(show(&got) == ["m3"], "{:?}", show(&got));
        let m3 = got[0].reply.clone().context("ack subject")?;
        client.publish(m3, "+ACK".into()).await?;
        // m1 waits out its delay: the next message is a new one.
        client
            .publish_with_reply(next, inbox.clone(), r#"{"batch":1,"no_wait":true}"#.into())
            .await?;
        let got = collect(&mut sub, 1, quiet).await;
        ensure!(
            show(&got) == ["m4"],
            "before the NAK delay: {:?}",
            show(&got)
        );
        let m4 = got[0].reply.clone().context("ack subject")?;
        client.publish(m4, "+ACK".into()).await?;
        tokio::time::sleep(Duration::from_millis(700)).await;
        client
            .publish_with_reply(
                next,
                inbox.clone(),
                r#"{"batch":1,"expires":1000000000}"#.into(),
            )
            .await?;
        let got = collect(&mut sub, 1, Duration::from_secs(2)).await;
        ensure!(
            show(&got) == ["m1"],
            "after the NAK delay: {:?}",
            show(&got)
        );

        // headers_only: the headers and the payload's size, no payload.
        create_raw(&client, "ORDERS", "heads", r#"{"headers_only":true}"#).await?;
        client
            .publish_with_reply(
                "$JS.API.CONSUMER.MSG.NEXT.ORDERS.heads",
                inbox.clone(),
                "1".into(),
            )
            .await?;
        let got = collect(&mut sub, 1, Duration::from_secs(2)).await;
        let m = got.first().context("headers-only message")?;
        let size = m.headers.as_ref().and_then(|h| h.get("Nats-Msg-Size"));
        ensure!(
            m.payload.is_empty() && size.map(|v| v.as_str()) == Some("2"),
            "{m:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn inactive_ephemeral_goes_and_push_groups_share() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        orders(&js, 6).await?;
        let v = request(
            &client,
            "$JS.API.CONSUMER.CREATE.ORDERS",
            r#"{"stream_name":"ORDERS","config":{"inactive_threshold":300000000}}"#,
        )
        .await?;
        let name = v["name"].as_str().context("ephemeral name")?.to_string();
        ensure!(v["config"]["inactive_threshold"] == 300_000_000, "{v}");
        // Both brokers sweep inactive consumers on a timer, so poll: on a
        // loaded CI machine nats-server has taken over 1.2 s for a 300 ms
        // threshold. INFO requests do not count as activity.
        let info = format!("$JS.API.CONSUMER.INFO.ORDERS.{name}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let v = request(&client, &info, "").await?;
            if err_code(&v) == 10014 {
                break;
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "inactive ephemeral still there: {v}"
            );
        }

        // A push consumer with a deliver group: each message to one member.
        let mut a = client.queue_subscribe("grp.deliver", "g".into()).await?;
        let mut b = client.queue_subscribe("grp.deliver", "g".into()).await?;
        create_raw(
            &client,
            "ORDERS",
            "grouped",
            r#"{"deliver_subject":"grp.deliver","deliver_group":"g","ack_policy":"none"}"#,
        )
        .await?;
        let quiet = Duration::from_millis(500);
        let (ga, gb) = tokio::join!(collect(&mut a, 6, quiet), collect(&mut b, 6, quiet));
        let mut all: Vec<String> = show(&ga).into_iter().chain(show(&gb)).collect();
        all.sort();
        ensure!(all == ["m1", "m2", "m3", "m4", "m5", "m6"], "{all:?}");
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
        if kind == Kind::NatsServer {
            // nats-server writes consumer state in the background: the
            // deliveries and acks just before a `kill -9` can be lost (some
            // or all of them, run to run), and those messages come back.
            return Ok(());
        }
        ensure!(info.num_pending == 3, "{info:?}");
        ensure!(info.delivered.stream_sequence == 3, "{info:?}");
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
