//! The example plugins (plugins/), loaded by a real Tern broker, change what
//! real async-nats clients see: device subjects rewritten per site, clients
//! confined to their tenant's subjects, stream messages filtered and
//! redacted. Tern only: nats-server has no plugins.

mod common;

use anyhow::{ensure, Result};
use async_nats::jetstream::{self, stream};
use async_nats::ConnectOptions;
use bytes::Bytes;
use common::plugins::{plugin_entry, plugins_config};
use common::*;
use tern_tests::Kind;

#[tokio::test]
async fn iot_rewriter_moves_device_messages_under_their_site() -> Result<()> {
    let entry = plugin_entry(
        "iot-rewriter",
        r#"subjects: ["devices.>"], config: { site: hq, sites: { d1: north } }"#,
    )?;
    let broker = start_with_config(Kind::Tern, &plugins_config(&[entry], ""))?;
    let client = connect(&broker.url()).await?;
    let mut sites = subscribe(&client, "site.>").await?;
    let mut devices = subscribe(&client, "devices.>").await?;
    let mut other = subscribe(&client, "other.>").await?;

    client
        .publish("devices.d1.telemetry", Bytes::from("21.5"))
        .await?;
    client
        .publish("devices.d7.status", Bytes::from("ok"))
        .await?;
    client.publish("other.thing", Bytes::from("x")).await?;
    flush(&client).await?;

    let m = next_msg(&mut sites).await?;
    ensure!(
        m.subject.as_str() == "site.north.telemetry.d1" && m.payload == "21.5",
        "{m:?}"
    );
    let m = next_msg(&mut sites).await?;
    ensure!(m.subject.as_str() == "site.hq.status.d7", "{m:?}");
    let m = next_msg(&mut other).await?;
    ensure!(
        m.subject.as_str() == "other.thing",
        "unbound subjects pass: {m:?}"
    );
    expect_no_msg(&mut devices).await?;

    // Request/reply through a rewritten subject: the reply subject is kept.
    let mut responder = subscribe(&client, "site.north.cmd.d1").await?;
    let requester = connect(&broker.url()).await?;
    let req = tokio::spawn(async move {
        requester
            .request("devices.d1.cmd", Bytes::from("reboot"))
            .await
    });
    let m = next_msg(&mut responder).await?;
    ensure!(m.payload == "reboot");
    let reply = m
        .reply
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no reply subject"))?;
    client.publish(reply, Bytes::from("done")).await?;
    let answer = tokio::time::timeout(WAIT, req).await???;
    ensure!(answer.payload == "done", "{answer:?}");
    Ok(())
}

fn tenant_config(native_users: bool) -> Result<String> {
    let entry = plugin_entry(
        "tenant-authorizer",
        "config: { tenants: { alice: acme, bob: globex }, admins: [ops] }",
    )?;
    let auth = if native_users {
        r#"authorization { users = [
  { user: alice, password: a-pass }
  { user: bob, password: b-pass }
  { user: eve, password: e-pass }
  { user: ops, password: o-pass }
] }"#
    } else {
        ""
    };
    Ok(plugins_config(&[entry], auth))
}

fn connect_as(addr: &str, user: &str, pass: &str) -> Result<tern_tests::RawClient> {
    raw(
        addr,
        &format!(r#"{{"verbose":false,"pedantic":false,"user":"{user}","pass":"{pass}"}}"#),
    )
}

#[test]
fn tenant_authorizer_confines_users_to_their_tenant() -> Result<()> {
    let broker = start_with_config(Kind::Tern, &tenant_config(true)?)?;
    let addr = broker.addr();
    let info = info_json(&tern_tests::RawClient::connect(&addr)?.info)?;
    ensure!(info["auth_required"] == true, "{info}");

    let mut ops = connect_as(&addr, "ops", "o-pass")?;
    ops.send(b"SUB > 1\r\n")?;
    sync(&mut ops)?;

    let mut alice = connect_as(&addr, "alice", "a-pass")?;
    alice.send(b"PUB acme.orders 1\r\na\r\nPUB globex.orders 1\r\nb\r\nSUB globex.> 2\r\n")?;
    let got = sync(&mut alice)?;
    ensure!(
        got == "-ERR 'Permissions Violation for Publish to \"globex.orders\"'\r\n\
                -ERR 'Permissions Violation for Subscription to \"globex.>\"'\r\n\
                PONG\r\n",
        "alice got {got:?}"
    );
    let got = sync(&mut ops)?;
    ensure!(
        got == "MSG acme.orders 1 1\r\na\r\nPONG\r\n",
        "ops (an admin, unrestricted) saw {got:?}"
    );

    // eve has a valid password but no tenant: the authorizer refuses her.
    let mut eve = tern_tests::RawClient::connect(&addr)?;
    eve.send(b"CONNECT {\"verbose\":false,\"user\":\"eve\",\"pass\":\"e-pass\"}\r\nPING\r\n")?;
    let got = String::from_utf8_lossy(&eve.read_to_close(WAIT)?).into_owned();
    ensure!(
        got == "-ERR 'Authorization Violation'\r\n",
        "eve got {got:?}"
    );
    ensure!(
        broker.stderr().contains(
            "authorizer tenant-authorizer denied the connection: no tenant for user Some(\"eve\")"
        ),
        "{}",
        broker.stderr()
    );
    // A wrong password is still refused by the broker itself.
    let mut wrong = tern_tests::RawClient::connect(&addr)?;
    wrong.send(b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"nope\"}\r\nPING\r\n")?;
    let got = String::from_utf8_lossy(&wrong.read_to_close(WAIT)?).into_owned();
    ensure!(
        got == "-ERR 'Authorization Violation'\r\n",
        "wrong password got {got:?}"
    );
    Ok(())
}

#[tokio::test]
async fn tenant_authorizer_alone_decides_who_connects() -> Result<()> {
    let broker = start_with_config(Kind::Tern, &tenant_config(false)?)?;
    let bob = ConnectOptions::new().user_and_password("bob".into(), "".into());
    let client = connect_with(&broker.url(), bob).await?;
    let mut sub = subscribe(&client, "globex.>").await?;
    client.publish("globex.news", Bytes::from("hi")).await?;
    flush(&client).await?;
    ensure!(next_msg(&mut sub).await?.payload == "hi");

    let nobody = ConnectOptions::new().connection_timeout(WAIT);
    let refused = tokio::time::timeout(WAIT * 2, nobody.connect(broker.url())).await?;
    match refused {
        Ok(_) => anyhow::bail!("a client without a tenant was let in"),
        Err(e) => ensure!(
            e.kind() == async_nats::ConnectErrorKind::AuthorizationViolation,
            "{e:?}"
        ),
    }
    Ok(())
}

#[tokio::test]
async fn json_filter_drops_and_redacts_on_stream_ingest() -> Result<()> {
    let entry = plugin_entry(
        "json-filter",
        r#"streams: [SENSORS], config: { field: "reading.temp", op: lt, value: "-40", redact: [owner] }"#,
    )?;
    let config = plugins_config(&[entry], "jetstream { store_dir: store }");
    let broker = start_with_config(Kind::Tern, &config)?;
    let client = connect(&broker.url()).await?;
    let js = jetstream::new(client.clone());
    let s = js
        .create_stream(stream::Config {
            name: "SENSORS".into(),
            subjects: vec!["sensors.>".into()],
            ..Default::default()
        })
        .await?;
    // A second stream the filter is not attached to.
    let mut raw_stream = js
        .create_stream(stream::Config {
            name: "RAW".into(),
            subjects: vec!["raw.>".into()],
            ..Default::default()
        })
        .await?;

    let ack = js
        .publish(
            "sensors.a",
            Bytes::from(r#"{"reading":{"temp":21},"owner":"ann"}"#),
        )
        .await?
        .await?;
    ensure!(ack.sequence == 1, "{ack:?}");
    let dropped = js
        .publish("sensors.a", Bytes::from(r#"{"reading":{"temp":-55}}"#))
        .await?
        .await;
    let err = match dropped {
        Ok(ack) => anyhow::bail!("the filter should have dropped it: {ack:?}"),
        Err(e) => e.to_string(),
    };
    ensure!(
        err.contains("dropped by stream filter plugin json-filter"),
        "{err}"
    );
    js.publish("sensors.b", Bytes::from("not json"))
        .await?
        .await?;
    js.publish("raw.a", Bytes::from(r#"{"owner":"ann"}"#))
        .await?
        .await?;

    let mut s = s;
    let info = s.info().await?;
    ensure!(info.state.messages == 2, "{:?}", info.state);
    let m = s.get_raw_message(1).await?;
    let doc: serde_json::Value = serde_json::from_slice(&m.payload)?;
    ensure!(
        doc["owner"] == "[redacted]" && doc["reading"]["temp"] == 21,
        "{doc}"
    );
    ensure!(s.get_raw_message(2).await?.payload == "not json");
    let m = raw_stream.get_raw_message(1).await?;
    ensure!(m.payload == r#"{"owner":"ann"}"#, "untouched stream: {m:?}");
    ensure!(raw_stream.info().await?.state.messages == 1);
    Ok(())
}

/// The config snippets in edge-configs/ load all three example plugins
/// (`tern -t` compiles each, as a start would, without writing a cache).
#[test]
fn edge_config_snippets_load_their_plugins() -> Result<()> {
    // The snippets point at target/plugins/ relative to themselves.
    tern_tests::plugin_component("iot-rewriter")?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for name in ["plugins.conf", "plugins.toml"] {
        let out = std::process::Command::new(tern_tests::tern_binary()?)
            .args(["-t", "-c"])
            .arg(root.join("edge-configs").join(name))
            .output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        ensure!(
            out.status.success(),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in [
            "plugin iot (subject-transform) loads",
            "plugin tenants (authorizer) loads",
            "plugin telemetry-filter (stream-filter) loads",
        ] {
            ensure!(stdout.contains(line), "{name}: no {line:?} in {stdout}");
        }
    }
    Ok(())
}
