//! Accounts: isolated subject spaces, stream and service exports/imports
//! (the seed guide's ORDERS/BILLING config), and configs nats-server
//! refuses. Every scenario runs against Tern and nats-server alike.

mod common;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use async_nats::ConnectOptions;
use common::{
    connect_with, each_target, expect_no_msg, expect_refused, flush, next_msg, round_trip,
    start_with_config, subscribe,
};
use tern_tests::{Broker, Kind};

/// The seed guide's accounts, plus a stream export and a user in `$G`.
const CONFIG: &str = r#"
authorization {
  users = [ { user: "global", password: "global" } ]
}
accounts {
  ORDERS: {
    users: [
      { user: "order-service", password: "order-secret" }
      { user: "order-audit", password: "audit-secret" }
    ]
    exports: [
      { service: "orders.*" }
      { stream: "events.>", accounts: [BILLING] }
    ]
  }
  BILLING: {
    users: [ { user: "billing-service", password: "billing-secret" } ]
    imports: [
      { service: { account: "ORDERS", subject: "orders.*" }, to: "billing.orders.*" }
      { stream: { account: "ORDERS", subject: "events.>" }, prefix: "orders" }
    ]
  }
  OTHER: {
    users: [ { user: "other", password: "other" } ]
  }
}
"#;

async fn user(b: &Broker, name: &str, pass: &str) -> Result<async_nats::Client> {
    connect_with(
        &b.url(),
        ConnectOptions::with_user_and_password(name.into(), pass.into()),
    )
    .await
    .with_context(|| format!("connect as {name}"))
}

#[tokio::test]
async fn accounts_do_not_see_each_others_messages() {
    each_target(|kind| async move {
        let b = start_with_config(kind, CONFIG)?;
        let orders = user(&b, "order-service", "order-secret").await?;
        let audit = user(&b, "order-audit", "audit-secret").await?;
        let other = user(&b, "other", "other").await?;
        let global = user(&b, "global", "global").await?;
        let mut same_account = subscribe(&audit, "greet").await?;
        let mut other_account = subscribe(&other, "greet").await?;
        let mut global_account = subscribe(&global, "greet").await?;
        round_trip(&audit).await?;
        round_trip(&other).await?;
        round_trip(&global).await?;
        orders.publish("greet", "hello".into()).await?;
        flush(&orders).await?;
        let got = next_msg(&mut same_account)
            .await
            .context("the publisher's own account")?;
        ensure!(&got.payload[..] == b"hello", "payload {:?}", got.payload);
        expect_no_msg(&mut other_account).await?;
        expect_no_msg(&mut global_account).await?;
        // A request to a subject only another account serves: nobody here.
        let mut svc = subscribe(&other, "svc").await?;
        round_trip(&other).await?;
        let err = orders.request("svc", "x".into()).await;
        ensure!(err.is_err(), "a request crossed accounts without an import");
        expect_no_msg(&mut svc).await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn service_import_maps_requests_and_routes_replies_back() {
    each_target(|kind| async move {
        let b = start_with_config(kind, CONFIG)?;
        let orders = user(&b, "order-service", "order-secret").await?;
        let billing = user(&b, "billing-service", "billing-secret").await?;
        let mut requests = subscribe(&orders, "orders.*").await?;
        round_trip(&orders).await?;
        let responder = tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..3 {
                let msg = next_msg(&mut requests).await?;
                seen.push(msg.subject.to_string());
                let reply = msg.reply.context("request without reply subject")?;
                let answer = format!("paid {}", String::from_utf8_lossy(&msg.payload));
                orders.publish(reply, answer.into()).await?;
            }
            flush(&orders).await?;
            anyhow::Ok(seen)
        });
        for n in 0..3 {
            let reply = tokio::time::timeout(
                Duration::from_secs(5),
                billing.request(format!("billing.orders.{n}"), n.to_string().into()),
            )
            .await
            .context("request timed out")?
            .context("request failed")?;
            ensure!(
                reply.payload == format!("paid {n}").as_bytes(),
                "reply {:?}",
                reply.payload
            );
        }
        let seen = responder.await??;
        ensure!(
            seen == ["orders.0", "orders.1", "orders.2"],
            "the service saw {seen:?}"
        );
        // The exporter's own subject is not the importer's.
        let err = billing.request("orders.9", "x".into()).await;
        ensure!(err.is_err(), "orders.9 answered in BILLING");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn service_import_without_a_responder_is_no_responders() {
    each_target(|kind| async move {
        let b = start_with_config(kind, CONFIG)?;
        let billing = user(&b, "billing-service", "billing-secret").await?;
        let err = tokio::time::timeout(
            Duration::from_secs(5),
            billing.request("billing.orders.1", "x".into()),
        )
        .await
        .context("no answer at all")?;
        match err {
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
            other => anyhow::bail!("expected no responders, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn stream_import_delivers_with_the_prefix() {
    each_target(|kind| async move {
        let b = start_with_config(kind, CONFIG)?;
        let orders = user(&b, "order-service", "order-secret").await?;
        let billing = user(&b, "billing-service", "billing-secret").await?;
        let other = user(&b, "other", "other").await?;
        let mut imported = subscribe(&billing, "orders.events.>").await?;
        let mut unprefixed = subscribe(&billing, "events.>").await?;
        let mut not_imported = subscribe(&other, "events.>").await?;
        round_trip(&billing).await?;
        round_trip(&other).await?;
        orders.publish("events.created", "order 1".into()).await?;
        flush(&orders).await?;
        let got = next_msg(&mut imported)
            .await
            .context("the importer, with the prefix")?;
        ensure!(
            got.subject.as_str() == "orders.events.created",
            "subject {}",
            got.subject
        );
        ensure!(&got.payload[..] == b"order 1");
        expect_no_msg(&mut unprefixed).await?;
        expect_no_msg(&mut not_imported).await?;
        // Publishing the prefixed subject in BILLING does not flow back.
        let mut in_orders = subscribe(&orders, "orders.>").await?;
        round_trip(&orders).await?;
        billing
            .publish("orders.events.created", "back".into())
            .await?;
        flush(&billing).await?;
        expect_no_msg(&mut in_orders).await?;
        Ok(())
    })
    .await;
}

#[test]
fn broken_account_configs_are_refused_with_nats_servers_reasons() {
    let cases = [
        (
            "accounts { A { users = [{user: a, password: a}] }, B { imports = [{service: {account: A, subject: \"x.*\"}}] } }",
            "service import not authorized",
        ),
        (
            "accounts { A { exports = [{stream: \"x.>\", accounts: [C]}] }, B { imports = [{stream: {account: A, subject: \"x.>\"}}] } }",
            "account not defined for stream export",
        ),
        (
            "accounts { A { users = [{user: a, password: a}] }, B { imports = [{stream: {account: Z, subject: \"x\"}}] } }",
            "account not defined for stream import",
        ),
        ("accounts { $G { } }", "Reserved Account"),
        (
            "accounts { A { users = [{user: u, password: a}] }, B { users = [{user: u, password: b}] } }",
            "Duplicate user",
        ),
        (
            "accounts { A { exports = [{stream: \"x.>\", response: stream}] } }",
            "response directive on non-service",
        ),
    ];
    expect_refused(&cases);
}

/// JetStream serves the account that enables it; streams live under the
/// account's name in the store, as in nats-server's layout.
#[tokio::test]
async fn jetstream_serves_the_account_that_enables_it() {
    each_target(|kind| async move {
        let store = tempfile::tempdir()?;
        let config = format!(
            "jetstream {{ store_dir: {:?} }}\naccounts {{\n  JS {{ users = [{{user: js, password: js}}], jetstream: enabled }}\n  NOJS {{ users = [{{user: nojs, password: nojs}}] }}\n}}\n",
            store.path().display().to_string()
        );
        let b = start_with_config(kind, &config)?;
        let js_client = user(&b, "js", "js").await?;
        let js = async_nats::jetstream::new(js_client.clone());
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .context("create a stream in the JetStream account")?;
        let ack = js.publish("orders.1", "one".into()).await?.await?;
        ensure!(ack.sequence == 1, "ack {ack:?}");
        let dir = store.path().join("jetstream").join("JS").join("streams").join("ORDERS");
        ensure!(dir.is_dir(), "no {}", dir.display());

        // The other account has no JetStream: it is told so, sees no
        // stream, and its publishes are not stored.
        let other = user(&b, "nojs", "nojs").await?;
        for (subject, kind) in [
            ("$JS.API.INFO", "account_info_response"),
            ("$JS.API.STREAM.NAMES", "stream_names_response"),
            ("$JS.API.STREAM.CREATE.X", "stream_create_response"),
        ] {
            let msg = tokio::time::timeout(
                Duration::from_secs(5),
                other.request(subject, "{}".into()),
            )
            .await
            .with_context(|| format!("{subject}: no answer"))??;
            let v: serde_json::Value = serde_json::from_slice(&msg.payload)?;
            ensure!(
                v["error"]["err_code"] == 10039
                    && v["error"]["code"] == 503
                    && v["type"] == format!("io.nats.jetstream.api.v1.{kind}"),
                "NOJS {subject}: {v}"
            );
        }
        let next = other
            .request("$JS.API.CONSUMER.MSG.NEXT.ORDERS.C", "{}".into())
            .await;
        ensure!(
            matches!(&next, Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders),
            "NOJS pull: {next:?}"
        );
        other.publish("orders.2", "two".into()).await?;
        round_trip(&other).await?;
        let mut stream = js.get_stream("ORDERS").await?;
        let info = stream.info().await?;
        ensure!(info.state.messages == 1, "{:?}", info.state);
        Ok(())
    })
    .await;
}

/// A reload takes new users of existing accounts; the accounts themselves
/// (and their imports) stay as they were started.
#[tokio::test]
async fn reload_adds_users_to_an_account() {
    each_target(|kind| async move {
        let b = start_with_config(kind, CONFIG)?;
        let added = CONFIG.replace(
            r#"{ user: "other", password: "other" }"#,
            r#"{ user: "other", password: "other" }, { user: "late", password: "late" }"#,
        );
        std::fs::write(b.dir().join("broker.conf"), added)?;
        b.signal(libc::SIGHUP)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let late = loop {
            match user(&b, "late", "late").await {
                Ok(c) => break c,
                Err(e) if std::time::Instant::now() > deadline => {
                    return Err(e.context(format!("stderr:\n{}", b.stderr())))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        // The new user is in OTHER: it sees OTHER's messages only.
        let other = user(&b, "other", "other").await?;
        let orders = user(&b, "order-service", "order-secret").await?;
        let mut sub = subscribe(&late, "news").await?;
        round_trip(&late).await?;
        orders.publish("news", "not for OTHER".into()).await?;
        round_trip(&orders).await?;
        other.publish("news", "for OTHER".into()).await?;
        round_trip(&other).await?;
        let got = next_msg(&mut sub).await?;
        ensure!(&got.payload[..] == b"for OTHER", "{:?}", got.payload);
        expect_no_msg(&mut sub).await?;
        Ok(())
    })
    .await;
}

/// The monitoring documents that show accounts, with nats-server's fields
/// and types, and the values a test can know.
#[tokio::test]
async fn monitoring_shows_the_accounts() -> Result<()> {
    let mut docs = Vec::new();
    for kind in Kind::targets() {
        let http = tern_tests::free_port();
        let b = Broker::start_with(
            kind,
            tern_tests::BrokerOptions {
                config: Some(CONFIG.to_string()),
                args: vec!["-m".into(), http.to_string()],
                ..Default::default()
            },
        )?;
        let orders = user(&b, "order-service", "order-secret").await?;
        let _requests = subscribe(&orders, "orders.*").await?;
        round_trip(&orders).await?;
        let billing = user(&b, "billing-service", "billing-secret").await?;
        round_trip(&billing).await?;
        let mut got = Vec::new();
        for path in [
            "/connz?auth=1",
            "/connz?acc=BILLING",
            "/accountz",
            "/accountz?acc=ORDERS",
            "/accountz?acc=BILLING",
            "/subsz?acc=ORDERS&subs=1",
            "/accstatz",
        ] {
            let r = tern_tests::http_get(http, path)?;
            ensure!(r.status == 200, "[{}] {path}: {}", kind.name(), r.status);
            got.push((path, r.json()?));
        }
        let [connz, billing_connz, accountz, orders_detail, billing_detail, subsz, accstatz] =
            &got.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>()[..]
        else {
            anyhow::bail!("seven documents");
        };
        let accounts: Vec<&str> = connz["connections"]
            .as_array()
            .context("connections")?
            .iter()
            .filter_map(|c| c["account"].as_str())
            .collect();
        ensure!(
            accounts.contains(&"ORDERS") && accounts.contains(&"BILLING"),
            "[{}] connz accounts {accounts:?}",
            kind.name()
        );
        ensure!(billing_connz["num_connections"] == 1, "{billing_connz}");
        let names = accountz["accounts"].as_array().context("accounts")?;
        for want in ["$G", "$SYS", "ORDERS", "BILLING", "OTHER"] {
            ensure!(
                names.iter().any(|n| n == want),
                "[{}] {want} not in {names:?}",
                kind.name()
            );
        }
        ensure!(orders_detail["account_detail"]["client_connections"] == 1);
        let exports = orders_detail["account_detail"]["exports"]
            .as_array()
            .context("ORDERS exports")?;
        ensure!(exports.iter().any(|e| e["subject"] == "orders.*"
            && e["type"] == "service"
            && e["response_type"] == "Singleton"));
        let imports = billing_detail["account_detail"]["imports"]
            .as_array()
            .context("BILLING imports")?;
        ensure!(imports
            .iter()
            .any(|i| i["subject"] == "events.>" && i["local_subject"] == "orders.events.>"));
        ensure!(imports
            .iter()
            .any(|i| i["subject"] == "orders.*" && i["to"] == "billing.orders.*"));
        let subs = subsz["subscriptions_list"].as_array().context("subs")?;
        ensure!(
            subs.iter()
                .any(|s| s["subject"] == "orders.*" && s["account"] == "ORDERS"),
            "[{}] {subsz}",
            kind.name()
        );
        let statz = accstatz["account_statz"].as_array().context("statz")?;
        ensure!(statz
            .iter()
            .any(|a| a["acc"] == "ORDERS" && a["conns"] == 1));
        docs.push(got);
    }
    if let [ours, theirs] = &docs[..] {
        // nats-server gives every account imports of its own system
        // services (`$SYS.REQ.ACCOUNT.*`), which Tern does not have: an
        // account without imports of its own has none in Tern.
        common::monitoring::same_shapes(ours, theirs, &["system_account", "imports"], &[])?;
    }
    Ok(())
}
