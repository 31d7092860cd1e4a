//! Real WebSocket clients against Tern and nats-server: nats.ws in Node
//! (tests/js/ws_check.mjs), nats.ws in headless Chromium (a page served by
//! the test itself), and the browser-gateway edge config.
//!
//! The Node check is skipped, with a message, when node or the npm
//! packages are missing (`npm ci --prefix tests/js`, which tests/run.sh
//! does). The browser check fails without Chromium: tests/run.sh installs
//! Debian's `chromium`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use common::node::{js_dir, node_ready, run_script};
use common::ws::{RawWs, WsBroker};
use common::{connect, each_target, flush, next_msg, subscribe};
use futures::StreamExt;
use tern_tests::{free_port, Broker, BrokerOptions, Kind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn run_ws_check(kind: Kind) -> Result<String> {
    let b = WsBroker::start(kind, "", "")?;
    run_script("ws_check.mjs", &b.ws_url(), kind)
}

#[test]
fn nats_ws_in_node() {
    if let Err(why) = node_ready(&["nats.ws", "ws"]) {
        eprintln!("skipped: {why}");
        return;
    }
    let outputs: Vec<(Kind, String)> = Kind::targets()
        .into_iter()
        .map(|k| run_ws_check(k).map(|o| (k, o)))
        .collect::<Result<_>>()
        .expect("ws_check.mjs");
    for (kind, out) in &outputs {
        for line in [
            "connected headers max_payload=1048576",
            "received greet.ann:hello ann,greet.bob:hello bob,greet.cid:hello cid",
            "reply SHOUT header=ws",
            "big 524288 same=true",
            "no responders 503",
            "drained",
        ] {
            assert!(
                out.lines().any(|l| l == line),
                "{}: no {line:?} in\n{out}",
                kind.name()
            );
        }
    }
    if let [(_, a), (_, b)] = &outputs[..] {
        assert_eq!(a, b, "Tern and nats-server differ");
    }
}

/// Chromium's executable: `$CHROMIUM_BIN`, else the first of the usual
/// names on PATH.
fn chromium() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("CHROMIUM_BIN") {
        return Ok(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(p) = std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
        {
            return Ok(p);
        }
    }
    bail!(
        "Chromium is not installed: this test needs a real browser (apt-get install chromium; \
         tests/run.sh installs it), or set CHROMIUM_BIN"
    )
}

/// The page: nats.ws from the same origin, connect to the `ws` URL of the
/// query string, echo a message through the broker, ask a TCP service, and
/// show (and publish) what came back.
fn page() -> String {
    r#"<!doctype html>
<html><head><meta charset="utf-8"><title>tern ws</title></head>
<body><h1>nats.ws in the browser</h1><pre id="out">pending</pre>
<script type="module">
import { connect, StringCodec } from "/nats.js";
const out = document.getElementById("out");
const sc = StringCodec();
// Holds the load event (and so --dump-dom) until the test has the report.
const hold = document.createElement("img");
hold.src = "/hold";
document.body.appendChild(hold);
try {
  const url = new URLSearchParams(location.search).get("ws");
  const nc = await connect({ servers: url, timeout: 60000 });
  const text = "hello from chromium ".repeat(10).trim();
  const sub = nc.subscribe("browser.echo", { max: 1 });
  nc.publish("browser.echo", sc.encode(text));
  let got = "";
  for await (const m of sub) got = sc.decode(m.data);
  const reply = await nc.request("browser.svc", sc.encode("ping"), { timeout: 60000 });
  const line = `received ${got.length} bytes ok=${got === text}; reply ${sc.decode(reply.data)}`;
  out.textContent = line;
  nc.publish("browser.report", sc.encode(line));
  await nc.drain();
} catch (e) {
  out.textContent = "error: " + e;
}
</script></body></html>
"#
    .to_string()
}

/// A tiny HTTP server for the page and the nats.ws bundle; runs until the
/// test's runtime ends. `/hold` answers only once `release` is set, which
/// keeps the page loading (Chromium dumps the DOM at the load event).
async fn serve_page(
    html: String,
    bundle: Vec<u8>,
    release: tokio::sync::watch::Receiver<bool>,
) -> Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let html = html.clone();
            let bundle = bundle.clone();
            let mut release = release.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 2048];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&req);
                let target = line.split(' ').nth(1).unwrap_or("/");
                let path = target.split('?').next().unwrap_or(target);
                if path == "/hold" {
                    let wait = release.wait_for(|r| *r);
                    let _ = tokio::time::timeout(Duration::from_secs(30), wait).await;
                }
                let (status, ctype, body): (&str, &str, Vec<u8>) = match path {
                    "/" => ("200 OK", "text/html; charset=utf-8", html.into_bytes()),
                    "/nats.js" => ("200 OK", "text/javascript", bundle),
                    _ => ("404 Not Found", "text/plain", b"not found".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
                let _ = s.shutdown().await;
            });
        }
    });
    Ok(port)
}

/// Run headless Chromium on `url` with `mode` (`--dump-dom` or
/// `--screenshot=...`); returns stdout.
async fn run_chromium(bin: &Path, profile: &Path, url: &str, mode: &str) -> Result<String> {
    let out = tokio::process::Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--window-size=900,400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(mode)
        .arg(url)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .context("chromium took over 60 s")??;
    ensure!(
        out.status.success(),
        "chromium exited with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn nats_ws_in_headless_chromium() {
    let bin = chromium().unwrap_or_else(|e| panic!("{e}"));
    let bundle_path = js_dir().join("node_modules/nats.ws/esm/nats.js");
    let bundle = std::fs::read(&bundle_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (npm ci --prefix tests/js installs nats.ws)",
            bundle_path.display()
        )
    });
    each_target(move |kind| {
        let bin = bin.clone();
        let bundle = bundle.clone();
        async move {
            // The page's origin is the only one allowed, and compression is
            // on: Chromium offers permessage-deflate, so both are exercised.
            let (release, held) = tokio::sync::watch::channel(false);
            let page_port = serve_page(page(), bundle, held).await?;
            let b = WsBroker::start(
                kind,
                &format!(
                    "  compression: true\n  allowed_origins: [\"http://127.0.0.1:{page_port}\"]"
                ),
                "",
            )?;
            let tcp = connect(&b.broker.url()).await?;
            let mut reports = subscribe(&tcp, "browser.report").await?;
            let mut svc = subscribe(&tcp, "browser.svc").await?;
            let svc_client = tcp.clone();
            tokio::spawn(async move {
                while let Some(m) = svc.next().await {
                    if let Some(reply) = m.reply {
                        let _ = svc_client.publish(reply, "pong from tcp".into()).await;
                        let _ = svc_client.flush().await;
                    }
                }
            });
            flush(&tcp).await?;

            let profile = tempfile::tempdir()?;
            let url = format!("http://127.0.0.1:{page_port}/?ws={}", b.ws_url());
            let browser = {
                let (bin, profile, url) = (bin.clone(), profile.path().to_path_buf(), url.clone());
                tokio::spawn(async move { run_chromium(&bin, &profile, &url, "--dump-dom").await })
            };
            let want = "received 199 bytes ok=true; reply pong from tcp";
            let report = tokio::time::timeout(Duration::from_secs(30), reports.next()).await;
            release.send_replace(true);
            let dom = browser.await??;
            let report = report
                .ok()
                .flatten()
                .with_context(|| format!("no report from the page; DOM: {dom}"))?;
            ensure!(
                report.payload == want,
                "page reported {:?}",
                String::from_utf8_lossy(&report.payload)
            );
            ensure!(dom.contains(want), "DOM: {dom}");
            if kind == Kind::Tern {
                // A screenshot of the finished page, kept in the broker's
                // temp dir: the page is held loading until it reports again.
                let shot = b.broker.dir().join("page.png");
                release.send_replace(false);
                let browser = {
                    let (bin, profile, url) =
                        (bin.clone(), profile.path().to_path_buf(), url.clone());
                    let mode = format!("--screenshot={}", shot.display());
                    tokio::spawn(async move { run_chromium(&bin, &profile, &url, &mode).await })
                };
                let again = tokio::time::timeout(Duration::from_secs(30), reports.next()).await;
                release.send_replace(true);
                browser.await??;
                ensure!(
                    again.ok().flatten().is_some_and(|m| m.payload == want),
                    "second page load did not report"
                );
                let png = std::fs::read(&shot).context("screenshot")?;
                ensure!(png.starts_with(b"\x89PNG"), "not a PNG");
            }
            Ok(())
        }
    })
    .await;
}

/// edge-configs/browser-gateway.conf (and .toml) with its ports moved to
/// free loopback ones: the broker starts, an allowed origin connects and
/// exchanges messages with a TCP client, another origin is refused.
#[tokio::test]
async fn browser_gateway_edge_config_serves_browsers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../edge-configs");
    for name in ["browser-gateway.conf", "browser-gateway.toml"] {
        let text = std::fs::read_to_string(root.join(name)).expect("edge config");
        each_target(move |kind| {
            let text = text.clone();
            async move {
                if kind == Kind::NatsServer && name.ends_with(".toml") {
                    return Ok(()); // nats-server reads only its own syntax.
                }
                let ws_port = free_port();
                let config = text.replace("0.0.0.0:8080", &format!("127.0.0.1:{ws_port}"));
                ensure!(config != text, "{name}: websocket listen line not found");
                let b = Broker::start_with(
                    kind,
                    BrokerOptions {
                        config: Some(config),
                        config_name: Some(name.to_string()),
                        ..Default::default()
                    },
                )?;
                let tcp = connect(&b.url()).await?;
                let mut sub = subscribe(&tcp, "page.events").await?;
                flush(&tcp).await?;
                let (mut ws, head) =
                    RawWs::connect(ws_port, "Origin: http://localhost:3000\r\n").await?;
                ensure!(!head.contains("permessage-deflate"), "not offered: {head}");
                ws.read_until("INFO").await?;
                ws.send_text(
                    "CONNECT {\"verbose\":false}\r\nPUB page.events 5\r\nclick\r\nPING\r\n",
                )
                .await?;
                ws.read_until("PONG").await?;
                let m = next_msg(&mut sub).await?;
                ensure!(m.payload == "click", "{m:?}");
                let refused = common::ws::raw_handshake(
                    ws_port,
                    &common::ws::upgrade_request(ws_port, "/", "Origin: http://evil.example\r\n"),
                )
                .await?;
                ensure!(refused.0 == 403, "{}", refused.1);
                Ok(())
            }
        })
        .await;
    }
}
