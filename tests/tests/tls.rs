//! TLS on the client port, against Tern and nats-server with the same
//! configuration and the same certificates (made by the test): TLS
//! required and used or not, a client that trusts another CA, an expired
//! server certificate, mutual TLS with a known, an unknown and no client
//! certificate, `handshake_first`, `allow_non_tls`, the `--tls` flags, and
//! files that cannot be loaded.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use async_nats::ConnectOptions;
use common::{check_config, connect_with, each_target, flush, subscribe, WAIT};
use futures::StreamExt;
use tern_tests::certs::{in_temp_dir as pki, text as p, TestPki};
use tern_tests::{Broker, BrokerOptions, Kind, RawClient};

fn tls_block(pki: &TestPki, extra: &str) -> String {
    format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  {extra}\n}}\n",
        p(&pki.server_cert),
        p(&pki.server_key)
    )
}

/// Start with `config`; with `info_first: false` (handshake first) there
/// is no INFO to wait for, so the port is polled instead.
fn start(kind: Kind, config: &str, info_first: bool) -> Result<Broker> {
    let broker = Broker::start_with(
        kind,
        BrokerOptions {
            config: Some(config.to_string()),
            no_wait: !info_first,
            ..Default::default()
        },
    )
    .with_context(|| format!("start {} with:\n{config}", kind.name()))?;
    if !info_first {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(broker.addr()).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "{} did not listen; stderr:\n{}",
                    kind.name(),
                    broker.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    Ok(broker)
}

fn trusting(pki: &TestPki) -> ConnectOptions {
    ConnectOptions::new()
        .require_tls(true)
        .add_root_certificates(pki.ca.clone())
}

/// A message makes the round trip over the connection.
async fn round_trip(client: &async_nats::Client) -> Result<()> {
    let mut sub = subscribe(client, "tls.check").await?;
    client.publish("tls.check", "over tls".into()).await?;
    flush(client).await?;
    let msg = tokio::time::timeout(WAIT, sub.next())
        .await
        .context("no message")?
        .context("subscription ended")?;
    if msg.payload.as_ref() != b"over tls" {
        bail!("wrong payload {:?}", msg.payload);
    }
    Ok(())
}

async fn refused(url: &str, opts: ConnectOptions) -> Result<String> {
    let opts = opts.max_reconnects(0);
    let result = tokio::time::timeout(
        WAIT,
        opts.connection_timeout(Duration::from_secs(2)).connect(url),
    )
    .await;
    match result {
        Ok(Ok(_)) => bail!("connected, expected a refusal"),
        Ok(Err(e)) => Ok(e.to_string()),
        Err(_) => Ok("timed out".to_string()),
    }
}

#[tokio::test]
async fn tls_required_clients_connect_with_the_ca_and_info_says_so() {
    let (_dir, pki) = pki();
    each_target(move |kind| {
        let pki = pki.clone();
        async move {
            let http = tern_tests::free_port();
            let config = format!("{}http_port: {http}\n", tls_block(&pki, ""));
            let b = start(kind, &config, true)?;
            let info = RawClient::connect(&b.addr())?.info;
            if !info.contains("\"tls_required\":true") {
                bail!("INFO without tls_required: {info}");
            }
            if info.contains("tls_available") || info.contains("tls_verify") {
                bail!("INFO offers more than required TLS: {info}");
            }
            let client = connect_with(&b.url(), trusting(&pki)).await?;
            round_trip(&client).await?;
            // /connz names the version and suite, as nats-server does.
            let connz = tern_tests::http_get(http, "/connz")?.json()?;
            let conn = &connz["connections"][0];
            if conn["tls_version"] != "1.3"
                || !conn["tls_cipher_suite"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("TLS_AES_"))
            {
                bail!("connz without TLS details: {conn}");
            }
            // The URL scheme alone asks for TLS too.
            let url = format!("tls://127.0.0.1:{}", b.port);
            let client = connect_with(
                &url,
                ConnectOptions::new().add_root_certificates(pki.ca.clone()),
            )
            .await?;
            round_trip(&client).await
        }
    })
    .await;
}

#[test]
fn a_plaintext_client_on_a_tls_port_gets_nothing_and_is_closed() {
    let (_dir, pki) = pki();
    common::each_target_blocking(move |kind| {
        let b = start(kind, &tls_block(&pki, ""), true)?;
        let mut raw = RawClient::connect(&b.addr())?;
        raw.send(b"CONNECT {\"verbose\":false}\r\nPING\r\nSUB x 1\r\n")?;
        let rest = raw.read_to_close(Duration::from_secs(5))?;
        if rest.windows(4).any(|w| w == b"PONG") {
            bail!(
                "a plaintext client was answered: {:?}",
                String::from_utf8_lossy(&rest)
            );
        }
        Ok(())
    });
}

#[tokio::test]
async fn untrusted_or_expired_server_certificates_are_refused_by_the_client() {
    let (_dir, pki) = pki();
    each_target(move |kind| {
        let pki = pki.clone();
        async move {
            let b = start(kind, &tls_block(&pki, ""), true)?;
            let other = ConnectOptions::new()
                .require_tls(true)
                .add_root_certificates(pki.other_ca.clone());
            refused(&b.url(), other).await?;
            let expired = format!(
                "tls {{ cert_file: \"{}\", key_file: \"{}\" }}",
                p(&pki.expired_cert),
                p(&pki.expired_key)
            );
            let old = start(kind, &expired, true)?;
            refused(&old.url(), trusting(&pki)).await?;
            // The servers themselves carry on serving trusting clients.
            let client = connect_with(&b.url(), trusting(&pki)).await?;
            round_trip(&client).await
        }
    })
    .await;
}

#[tokio::test]
async fn verify_needs_a_client_certificate_from_the_ca() {
    let (_dir, pki) = pki();
    each_target(move |kind| {
        let pki = pki.clone();
        async move {
            let extra = format!("ca_file: \"{}\"\n  verify: true", p(&pki.ca));
            let b = start(kind, &tls_block(&pki, &extra), true)?;
            let info = RawClient::connect(&b.addr())?.info;
            if !info.contains("\"tls_verify\":true") {
                bail!("INFO without tls_verify: {info}");
            }
            refused(&b.url(), trusting(&pki))
                .await
                .context("no client certificate")?;
            let stranger = trusting(&pki).add_client_certificate(
                pki.other_client_cert.clone(),
                pki.other_client_key.clone(),
            );
            refused(&b.url(), stranger)
                .await
                .context("unknown client CA")?;
            let known = trusting(&pki)
                .add_client_certificate(pki.client_cert.clone(), pki.client_key.clone());
            let client = connect_with(&b.url(), known).await?;
            round_trip(&client).await
        }
    })
    .await;
}

#[tokio::test]
async fn handshake_first_serves_clients_that_start_with_tls() {
    let (_dir, pki) = pki();
    each_target(move |kind| {
        let pki = pki.clone();
        async move {
            let b = start(kind, &tls_block(&pki, "handshake_first: true"), false)?;
            let client = connect_with(&b.url(), trusting(&pki).tls_first()).await?;
            round_trip(&client).await?;
            // A client waiting for INFO in the clear hears nothing.
            let mut raw = std::net::TcpStream::connect(b.addr())?;
            raw.set_read_timeout(Some(Duration::from_millis(300)))?;
            let mut heard = [0u8; 4];
            if let Ok(n) = std::io::Read::read(&mut raw, &mut heard) {
                if heard[..n].starts_with(b"INFO") {
                    bail!("INFO sent in the clear on a handshake-first port");
                }
            }
            Ok(())
        }
    })
    .await;
}

#[tokio::test]
async fn handshake_first_auto_also_serves_clients_that_wait_for_info() {
    let (_dir, pki) = pki();
    each_target(move |kind| {
        let pki = pki.clone();
        async move {
            let b = start(kind, &tls_block(&pki, "handshake_first: auto"), true)?;
            let early = connect_with(&b.url(), trusting(&pki).tls_first()).await?;
            round_trip(&early).await?;
            let late = connect_with(&b.url(), trusting(&pki)).await?;
            round_trip(&late).await
        }
    })
    .await;
}

#[tokio::test]
async fn allow_non_tls_serves_both_kinds_of_client() {
    let (_dir, pki) = pki();
    each_target(move |kind| {
        let pki = pki.clone();
        async move {
            let config = format!("{}allow_non_tls: true\n", tls_block(&pki, ""));
            let b = start(kind, &config, true)?;
            let mut raw = RawClient::connect(&b.addr())?;
            let info = raw.info.clone();
            if !info.contains("\"tls_available\":true") || info.contains("tls_required") {
                bail!("INFO should offer TLS without requiring it: {info}");
            }
            raw.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n")?;
            let pong = raw.line()?;
            if pong.trim() != "PONG" {
                bail!("plaintext client got {pong:?}");
            }
            let secure = connect_with(&b.url(), trusting(&pki)).await?;
            round_trip(&secure).await?;
            let plain = connect_with(&b.url(), ConnectOptions::new()).await?;
            round_trip(&plain).await
        }
    })
    .await;
}

#[tokio::test]
async fn the_tls_flags_configure_the_client_port() {
    let (_dir, pki) = pki();
    each_target(move |kind| {
        let pki = pki.clone();
        async move {
            let args = [
                "--tls".to_string(),
                "--tlscert".to_string(),
                p(&pki.server_cert),
                "--tlskey".to_string(),
                p(&pki.server_key),
            ];
            let b = Broker::start_with(
                kind,
                BrokerOptions {
                    args: args.to_vec(),
                    ..Default::default()
                },
            )?;
            let client = connect_with(&b.url(), trusting(&pki)).await?;
            round_trip(&client).await?;
            let mut lone = Broker::start_with(
                kind,
                BrokerOptions {
                    args: vec!["--tls".to_string()],
                    no_wait: true,
                    ..Default::default()
                },
            )?;
            let status = lone.wait_exit(Duration::from_secs(10))?;
            let said = lone.stderr() + &lone.stdout();
            if status.success()
                || !said.contains("TLS Server certificate must be present and valid")
            {
                bail!("--tls without a certificate: {status}, {said}");
            }
            Ok(())
        }
    })
    .await;
}

#[test]
fn files_that_cannot_be_loaded_are_config_errors() {
    let (dir, pki) = pki();
    let missing = dir.path().join("missing.pem");
    let cases = [
        // A certificate file that does not exist.
        format!(
            "tls {{ cert_file: \"{}\", key_file: \"{}\" }}",
            p(&missing),
            p(&pki.server_key)
        ),
        // A key file holding a certificate.
        format!(
            "tls {{ cert_file: \"{}\", key_file: \"{}\" }}",
            p(&pki.server_cert),
            p(&pki.server_cert)
        ),
    ];
    let mut failures = Vec::new();
    for kind in Kind::targets() {
        for config in &cases {
            match check_config(kind, config) {
                Ok((false, text)) if text.contains("error parsing X509 certificate/key pair") => {}
                Ok((ok, text)) => {
                    failures.push(format!("[{}] {config}: ok={ok}: {text}", kind.name()))
                }
                Err(e) => failures.push(format!("[{}] {e:#}", kind.name())),
            }
        }
        let unknown = tls_block(&pki, "colour: blue");
        match check_config(kind, &unknown) {
            Ok((false, text)) if text.contains("unknown field") => {}
            Ok((ok, text)) => {
                failures.push(format!("[{}] unknown key: ok={ok}: {text}", kind.name()))
            }
            Err(e) => failures.push(format!("[{}] {e:#}", kind.name())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn bulk_traffic_over_tls_arrives_whole_and_in_order() {
    let (_dir, pki) = pki();
    each_target(move |kind| {
        let pki = pki.clone();
        async move {
            let b = start(kind, &tls_block(&pki, ""), true)?;
            let opts = trusting(&pki).subscription_capacity(4096);
            let sub_client = connect_with(&b.url(), opts.clone()).await?;
            let mut sub = subscribe(&sub_client, "bulk").await?;
            let publisher = connect_with(&b.url(), trusting(&pki)).await?;
            const COUNT: usize = 2000;
            let body: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
            let sender = tokio::spawn({
                let body = body.clone();
                async move {
                    for i in 0..COUNT {
                        let mut m = body.clone();
                        m[..8].copy_from_slice(&(i as u64).to_be_bytes());
                        publisher.publish("bulk", m.into()).await?;
                    }
                    publisher.flush().await?;
                    anyhow::Ok(())
                }
            });
            for i in 0..COUNT {
                let msg = tokio::time::timeout(Duration::from_secs(20), sub.next())
                    .await
                    .with_context(|| format!("message {i} did not arrive"))?
                    .context("subscription ended")?;
                let seq = u64::from_be_bytes(msg.payload[..8].try_into()?);
                if seq != i as u64 || msg.payload[8..] != body[8..] {
                    bail!("message {i}: got sequence {seq} or a damaged body");
                }
            }
            sender.await??;
            Ok(())
        }
    })
    .await;
}

#[tokio::test]
async fn a_reload_serves_the_renewed_certificate_and_keeps_connections() {
    let (dir, pki) = pki();
    each_target(move |kind| {
        let pki = pki.clone();
        let live = dir.path().join(format!("live-{}", kind.name()));
        async move {
            std::fs::create_dir_all(&live)?;
            let (cert, key) = (live.join("cert.pem"), live.join("key.pem"));
            std::fs::copy(&pki.server_cert, &cert)?;
            std::fs::copy(&pki.server_key, &key)?;
            let config = format!(
                "tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
                p(&cert),
                p(&key)
            );
            let b = start(kind, &config, true)?;
            let old = connect_with(&b.url(), trusting(&pki)).await?;
            round_trip(&old).await?;
            std::fs::copy(&pki.other_server_cert, &cert)?;
            std::fs::copy(&pki.other_server_key, &key)?;
            b.signal(libc::SIGHUP)?;
            let renewed = ConnectOptions::new()
                .require_tls(true)
                .add_root_certificates(pki.other_ca.clone());
            // The reload is asynchronous: poll for the new certificate.
            let deadline = Instant::now() + Duration::from_secs(10);
            let new = loop {
                match tokio::time::timeout(WAIT, renewed.clone().connect(b.url())).await {
                    Ok(Ok(c)) => break c,
                    _ if Instant::now() > deadline => {
                        bail!("the renewed certificate was never served")
                    }
                    _ => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            };
            round_trip(&new).await?;
            round_trip(&old).await
        }
    })
    .await;
}

#[test]
fn nats_ws_in_node_over_wss() {
    if let Err(why) = common::node::node_ready(&["nats.ws", "ws"]) {
        eprintln!("skipped: {why}");
        return;
    }
    let (_dir, pki) = pki();
    let tls = format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\" }}",
        p(&pki.server_cert),
        p(&pki.server_key)
    );
    let ca = p(&pki.ca);
    let mut outputs = Vec::new();
    for kind in Kind::targets() {
        let b = common::ws::WsBroker::start(kind, &tls, "").expect("start");
        let url = format!("wss://127.0.0.1:{}", b.ws_port);
        let out = common::node::run_script_with_env(
            "ws_check.mjs",
            &url,
            kind,
            &[("NODE_EXTRA_CA_CERTS", &ca)],
        )
        .expect("ws_check.mjs over wss");
        assert!(
            out.lines().any(|l| l == "big 524288 same=true"),
            "{}: {out}",
            kind.name()
        );
        assert!(
            out.lines().any(|l| l == "drained"),
            "{}: {out}",
            kind.name()
        );
        // Plain ws:// to the same port finds no WebSocket there.
        let plain = format!("ws://127.0.0.1:{}", b.ws_port);
        assert!(
            common::node::run_script("ws_check.mjs", &plain, kind).is_err(),
            "{}: ws:// worked on a wss:// port",
            kind.name()
        );
        outputs.push(out);
    }
    if let [a, b] = &outputs[..] {
        assert_eq!(a, b, "Tern and nats-server differ");
    }
}

/// HTTPS monitoring (`https_port`, `-ms`, `https: host:port`) with the
/// client port's certificate: `/varz` over TLS says which port serves it,
/// plain HTTP gets nothing, and the two ways it cannot start.
#[tokio::test]
async fn https_monitoring_serves_the_endpoints_over_tls() {
    each_target(|kind| async move {
        let (_dir, pki) = pki();
        for how in ["https_port", "https", "-ms"] {
            let port = tern_tests::free_port();
            let (config, args) = match how {
                "https_port" => (
                    format!("{}https_port: {port}\n", tls_block(&pki, "")),
                    vec![],
                ),
                "https" => (
                    format!("{}https: \"127.0.0.1:{port}\"\n", tls_block(&pki, "")),
                    vec![],
                ),
                _ => (
                    tls_block(&pki, ""),
                    vec!["-ms".to_string(), port.to_string()],
                ),
            };
            let broker = Broker::start_with(
                kind,
                BrokerOptions {
                    config: Some(config.clone()),
                    args,
                    no_wait: true,
                    ..Default::default()
                },
            )?;
            let deadline = Instant::now() + Duration::from_secs(10);
            let varz = loop {
                match tern_tests::https_get(port, "/varz", &pki.ca) {
                    Ok(r) => break r,
                    Err(e) if Instant::now() > deadline => {
                        bail!("{how}: no https /varz: {e:#}\n{}", broker.stderr())
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            };
            ensure!(varz.status == 200, "{how}: {}", varz.status);
            let v: serde_json::Value = serde_json::from_str(&varz.body)?;
            ensure!(
                v["https_port"] == port && v["http_port"] == 0,
                "{how}: https_port {} http_port {}",
                v["https_port"],
                v["http_port"]
            );
            let health = tern_tests::https_get(port, "/healthz", &pki.ca)?;
            ensure!(health.status == 200, "{how}: /healthz {}", health.status);
            let plain = tern_tests::http_get(port, "/varz")?;
            ensure!(
                plain.status == 400 && plain.body.contains("HTTP request to an HTTPS server"),
                "{how}: plain HTTP on the https port: {} {}",
                plain.status,
                plain.body
            );
        }
        let refused = |config: String, want: &'static str| {
            let (ok, out) = start_outcome(kind, &config)?;
            ensure!(!ok && out.contains(want), "{config}: {out}");
            anyhow::Ok(())
        };
        refused(
            format!("https_port: {}\n", tern_tests::free_port()),
            "TLS cert and key required for HTTPS",
        )?;
        refused(
            format!(
                "{}http_port: {}\nhttps_port: {}\n",
                tls_block(&pki, ""),
                tern_tests::free_port(),
                tern_tests::free_port()
            ),
            "can't specify both HTTP",
        )?;
        Ok(())
    })
    .await;
}

/// Start `kind` with `config` and wait for it to exit; whether it kept
/// running (true) and what it logged.
fn start_outcome(kind: Kind, config: &str) -> Result<(bool, String)> {
    let mut broker = Broker::start_with(
        kind,
        BrokerOptions {
            config: Some(config.to_string()),
            no_wait: true,
            ..Default::default()
        },
    )?;
    match broker.wait_exit(Duration::from_secs(10)) {
        Ok(_) => Ok((false, format!("{}{}", broker.stderr(), broker.stdout()))),
        Err(_) => Ok((true, broker.stderr())),
    }
}
