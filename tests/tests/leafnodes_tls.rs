//! Leaf links over TLS, every (hub, leaf) pairing of Tern and nats-server
//! with the same configuration and certificates (made by the test): the
//! leafnode port's `tls {}` with a remote's `tls {}`, mutual TLS, the
//! handshake first on both sides, a hub whose INFO requires TLS followed by
//! a remote without a block (trusting the system's roots, here
//! `SSL_CERT_FILE`), a hub certificate from an unknown CA, and leaves over
//! `wss://` on the hub's websocket port.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use common::leaf::{await_path, each_pair};
use common::{connect, expect_no_msg, flush, next_msg, subscribe};
use tern_tests::certs::{in_temp_dir as pki, text as p, TestPki};
use tern_tests::{free_port, Broker, BrokerOptions, Kind};

/// The hub's certificate block, with `extra` keys.
fn server_tls(pki: &TestPki, extra: &str) -> String {
    format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\" {extra} }}",
        p(&pki.server_cert),
        p(&pki.server_key)
    )
}

fn hub(kind: Kind, leaf_port: u16, tls: &str) -> Result<Broker> {
    start(
        kind,
        &format!("leafnodes {{\n  listen: \"127.0.0.1:{leaf_port}\"\n  {tls}\n}}\n"),
        &[],
    )
}

/// A remote on `tls://` to the leafnode `port`, trusting `ca`, with
/// `extra` keys in its `tls {}`.
fn tls_remote(port: u16, ca: &Path, extra: &str) -> String {
    format!(
        "url: \"tls://127.0.0.1:{port}\", tls {{ ca_file: \"{}\"{extra} }}",
        p(ca)
    )
}

/// A leaf with one remote: `remote` is the inside of its `{ }`.
fn leaf(kind: Kind, remote: &str, env: &[(&str, String)]) -> Result<Broker> {
    start(
        kind,
        &format!("leafnodes {{\n  reconnect: 1\n  remotes [ {{ {remote} }} ]\n}}\n"),
        env,
    )
}

fn start(kind: Kind, config: &str, env: &[(&str, String)]) -> Result<Broker> {
    Broker::start_with(
        kind,
        BrokerOptions {
            config: Some(config.to_string()),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ..Default::default()
        },
    )
    .with_context(|| format!("start {} with:\n{config}", kind.name()))
}

/// Messages and a request cross the link both ways.
async fn both_ways(hub: &Broker, leaf: &Broker) -> Result<()> {
    let hub_client = connect(&hub.url()).await?;
    let leaf_client = connect(&leaf.url()).await?;
    let mut down = subscribe(&leaf_client, "tls.down").await?;
    await_path(&hub_client, "tls.down", &mut down)
        .await
        .with_context(|| format!("hub log:\n{}\nleaf log:\n{}", hub.stderr(), leaf.stderr()))?;
    let big = vec![b'x'; 300_000];
    hub_client.publish("tls.down", big.clone().into()).await?;
    flush(&hub_client).await?;
    let m = next_msg(&mut down).await?;
    ensure!(
        m.payload.len() == big.len(),
        "{} bytes arrived",
        m.payload.len()
    );

    let mut up = subscribe(&hub_client, "tls.up").await?;
    await_path(&leaf_client, "tls.up", &mut up).await?;
    for i in 0..100 {
        leaf_client.publish("tls.up", format!("{i}").into()).await?;
    }
    flush(&leaf_client).await?;
    for i in 0..100 {
        let m = next_msg(&mut up).await?;
        ensure!(m.payload == format!("{i}").as_bytes(), "message {i}: {m:?}");
    }
    Ok(())
}

/// Wait until `broker`'s log has a line containing `needle` (any case).
fn wait_log(broker: &Broker, needle: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let needle = needle.to_lowercase();
    while !broker.stderr().to_lowercase().contains(&needle) {
        if Instant::now() > deadline {
            bail!(
                "{} never logged {needle:?}; log:\n{}",
                broker.kind.name(),
                broker.stderr()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// No path across the link: interest on the hub never reaches the leaf.
async fn not_linked(hub: &Broker, leaf: &Broker) -> Result<()> {
    let hub_client = connect(&hub.url()).await?;
    let leaf_client = connect(&leaf.url()).await?;
    let mut at_hub = subscribe(&hub_client, "never").await?;
    for _ in 0..5 {
        leaf_client.publish("never", "x".into()).await?;
    }
    flush(&leaf_client).await?;
    expect_no_msg(&mut at_hub).await
}

#[tokio::test]
async fn links_over_tls_with_the_hub_ca_trusted() {
    each_pair(|(hub_kind, leaf_kind)| async move {
        let (_dir, pki) = pki();
        let port = free_port();
        let hub = hub(hub_kind, port, &server_tls(&pki, ""))?;
        let remote = tls_remote(port, &pki.ca, "");
        let leaf = leaf(leaf_kind, &remote, &[])?;
        both_ways(&hub, &leaf).await?;
        // The hub's INFO on the leafnode port says TLS is required.
        let mut raw = std::net::TcpStream::connect(("127.0.0.1", port))?;
        raw.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(&mut raw), &mut line)?;
        let info = common::info_json(&line)?;
        ensure!(info["tls_required"] == true, "{line}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn mutual_tls_admits_only_a_leaf_with_a_known_certificate() {
    each_pair(|(hub_kind, leaf_kind)| async move {
        let (_dir, pki) = pki();
        let port = free_port();
        let verify = format!(", ca_file: \"{}\", verify: true", p(&pki.ca));
        let hub = hub(hub_kind, port, &server_tls(&pki, &verify))?;
        let client_cert = format!(
            ", cert_file: \"{}\", key_file: \"{}\"",
            p(&pki.client_cert),
            p(&pki.client_key)
        );
        let with_cert = tls_remote(port, &pki.ca, &client_cert);
        let good = leaf(leaf_kind, &with_cert, &[])?;
        both_ways(&hub, &good).await?;
        drop(good);
        let without = tls_remote(port, &pki.ca, "");
        let refused = leaf(leaf_kind, &without, &[])?;
        wait_log(&hub, "leafnode handshake error")?;
        not_linked(&hub, &refused).await
    })
    .await;
}

#[tokio::test]
async fn the_handshake_first_on_both_sides() {
    each_pair(|(hub_kind, leaf_kind)| async move {
        let (_dir, pki) = pki();
        let port = free_port();
        let hub = hub(hub_kind, port, &server_tls(&pki, ", handshake_first: true"))?;
        let remote = tls_remote(port, &pki.ca, ", handshake_first: true");
        let leaf = leaf(leaf_kind, &remote, &[])?;
        both_ways(&hub, &leaf).await
    })
    .await;
}

#[tokio::test]
async fn a_hub_requiring_tls_is_followed_by_a_remote_without_a_block() {
    each_pair(|(hub_kind, leaf_kind)| async move {
        let (_dir, pki) = pki();
        let port = free_port();
        let hub = hub(hub_kind, port, &server_tls(&pki, ""))?;
        // No tls block and a plain URL: the INFO's tls_required decides,
        // and the system's roots (here the test CA) verify the hub.
        let remote = format!("url: \"nats-leaf://127.0.0.1:{port}\"");
        let leaf = leaf(leaf_kind, &remote, &[("SSL_CERT_FILE", p(&pki.ca))])?;
        both_ways(&hub, &leaf).await
    })
    .await;
}

#[tokio::test]
async fn a_hub_certificate_from_an_unknown_ca_is_refused() {
    each_pair(|(hub_kind, leaf_kind)| async move {
        let (_dir, pki) = pki();
        let port = free_port();
        let hub = hub(hub_kind, port, &server_tls(&pki, ""))?;
        let remote = tls_remote(port, &pki.other_ca, "");
        let leaf = leaf(leaf_kind, &remote, &[])?;
        // Go: "x509: certificate signed by unknown authority"; rustls:
        // "invalid peer certificate: UnknownIssuer".
        wait_log(&leaf, "certificate")?;
        not_linked(&hub, &leaf).await
    })
    .await;
}

#[tokio::test]
async fn leaves_link_over_wss_to_the_websocket_port() {
    each_pair(|(hub_kind, leaf_kind)| async move {
        let (_dir, pki) = pki();
        let (leaf_port, ws_port) = (free_port(), free_port());
        let hub = start(
            hub_kind,
            &format!(
                "leafnodes {{ listen: \"127.0.0.1:{leaf_port}\" }}\nwebsocket {{\n  listen: \"127.0.0.1:{ws_port}\"\n  {}\n}}\n",
                server_tls(&pki, "")
            ),
            &[],
        )?;
        let remote = format!(
            "url: \"wss://127.0.0.1:{ws_port}\", tls {{ ca_file: \"{}\" }}",
            p(&pki.ca)
        );
        let leaf = leaf(leaf_kind, &remote, &[])?;
        both_ways(&hub, &leaf).await
    })
    .await;
}

/// Tern takes `tls://` to mean TLS: against a hub without TLS it does not
/// link (nats-server's leaf would send its CONNECT, credentials included,
/// in the clear, since only a `tls {}` block or the hub's INFO turns TLS
/// on there).
#[tokio::test]
async fn a_tls_url_never_links_in_the_clear() {
    for hub_kind in Kind::targets() {
        let port = free_port();
        let hub = hub(hub_kind, port, "").expect("hub");
        let leaf = leaf(
            Kind::Tern,
            &format!("url: \"tls://u:secret@127.0.0.1:{port}\""),
            &[],
        )
        .expect("leaf");
        wait_log(&leaf, "TLS leafnode handshake").expect("handshake attempted");
        not_linked(&hub, &leaf)
            .await
            .unwrap_or_else(|e| panic!("{} hub: {e:#}", hub_kind.name()));
    }
}

/// edge-configs/hub-tls.* and iot-gateway-leaf-tls.* as shipped, with the
/// certificate paths pointed at the test's and ports and host rewritten:
/// the gateway links with its certificate and credentials. The `.conf` hub
/// also runs under nats-server.
#[tokio::test]
async fn edge_configs_link_a_gateway_over_tls() {
    common::each_target(|hub_kind| async move {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../edge-configs");
        let exts: &[&str] = match hub_kind {
            Kind::Tern => &["conf", "toml"],
            Kind::NatsServer => &["conf"],
        };
        let (_dir, pki) = pki();
        for ext in exts {
            let port = free_port();
            let rewrite = |text: String| {
                text.replace("0.0.0.0:7422", &format!("127.0.0.1:{port}"))
                    .replace("hub.example.com:7422", &format!("127.0.0.1:{port}"))
                    .replace("8222", &free_port().to_string())
                    .replace("/etc/tern/certs/hub-key.pem", &p(&pki.server_key))
                    .replace("/etc/tern/certs/hub.pem", &p(&pki.server_cert))
                    .replace("/etc/tern/certs/gateway-key.pem", &p(&pki.client_key))
                    .replace("/etc/tern/certs/gateway.pem", &p(&pki.client_cert))
                    .replace("/etc/tern/certs/fleet-ca.pem", &p(&pki.ca))
            };
            let read = |name: String| std::fs::read_to_string(root.join(name));
            let options = |text: String| BrokerOptions {
                config: Some(text),
                config_name: Some(format!("broker.{ext}")),
                ..Default::default()
            };
            let hub =
                Broker::start_with(hub_kind, options(rewrite(read(format!("hub-tls.{ext}"))?)))
                    .with_context(|| format!("hub-tls.{ext}"))?;
            let gateway = Broker::start_with(
                Kind::Tern,
                options(rewrite(read(format!("iot-gateway-leaf-tls.{ext}"))?)),
            )
            .with_context(|| format!("iot-gateway-leaf-tls.{ext}"))?;
            both_ways(&hub, &gateway).await.context(*ext)?;
        }
        Ok(())
    })
    .await;
}
