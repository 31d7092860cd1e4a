//! The NATS protocol over WebSocket, against Tern and nats-server alike:
//! the handshake and its refusals, INFO in a binary frame, pub/sub across
//! WebSocket and TCP, ping/pong and close frames, large messages,
//! permessage-deflate, bad frames, cookie authentication and monitoring.

mod common;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use common::ws::*;
use common::{connect, each_target, flush, next_msg, subscribe, WAIT};
use futures::{SinkExt, StreamExt};
use tern_tests::{http_get, Kind};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

const CONNECT: &str =
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1}\r\n";

/// Next binary message's text from a tungstenite stream (skipping pings).
async fn next_text<S>(ws: &mut S) -> Result<String>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .context("no message")?
            .context("stream ended")??;
        match m {
            Message::Binary(b) => return Ok(String::from_utf8_lossy(&b).into_owned()),
            Message::Text(t) => return Ok(t.to_string()),
            Message::Close(c) => anyhow::bail!("closed: {c:?}"),
            _ => {}
        }
    }
}

/// Read binary messages until the accumulated text contains `needle`.
async fn read_until<S>(ws: &mut S, needle: &str) -> Result<String>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut all = String::new();
    while !all.contains(needle) {
        all.push_str(
            &next_text(ws)
                .await
                .with_context(|| format!("waiting for {needle:?} after {all:?}"))?,
        );
    }
    Ok(all)
}

#[tokio::test]
async fn info_in_a_binary_frame_then_pub_sub_round_trip() {
    each_target(|kind| async move {
        let b = WsBroker::start(kind, "", "")?;
        let (mut ws, _) = tokio_tungstenite::connect_async(b.ws_url()).await?;
        let first = tokio::time::timeout(WAIT, ws.next())
            .await?
            .context("no INFO")??;
        let Message::Binary(info) = first else {
            anyhow::bail!("first message is not binary: {first:?}");
        };
        let info = String::from_utf8_lossy(&info).into_owned();
        ensure!(
            info.starts_with("INFO {") && info.ends_with("\r\n"),
            "{info}"
        );
        let json: serde_json::Value = serde_json::from_str(info[5..].trim_end())?;
        ensure!(
            json["port"] == b.ws_port,
            "INFO names the websocket port: {json}"
        );
        ensure!(json["host"] == "127.0.0.1", "{json}");
        ensure!(json.get("tls_required").is_none(), "no TLS: {json}");
        ensure!(json["headers"] == true && json["proto"] == 1, "{json}");

        let cmd = format!("{CONNECT}SUB greet 1\r\nPUB greet reply.to 5\r\nhello\r\nPING\r\n");
        ws.send(Message::Binary(cmd.into_bytes().into())).await?;
        let got = read_until(&mut ws, "PONG\r\n").await?;
        ensure!(
            got.contains("MSG greet 1 reply.to 5\r\nhello\r\n"),
            "{got:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn ping_frames_get_pongs_and_close_frames_are_echoed() {
    each_target(|kind| async move {
        let b = WsBroker::start(kind, "", "")?;
        let (mut ws, _) = RawWs::connect(b.ws_port, "").await?;
        ws.read_until("INFO").await?;
        ws.send(OP_PING, true, false, b"are you there", true)
            .await?;
        let pong = ws.read().await?.context("closed")?;
        ensure!(
            pong.op == OP_PONG && pong.payload == b"are you there",
            "{pong:?}"
        );
        ensure!(!pong.masked, "servers do not mask");
        let mut close = 1000u16.to_be_bytes().to_vec();
        close.extend_from_slice(b"bye");
        ws.send(OP_CLOSE, true, false, &close, true).await?;
        let (status, reason) = ws.read_close().await?;
        ensure!(
            (status, reason.as_str()) == (1000, "bye"),
            "{status} {reason}"
        );
        ensure!(
            ws.closed_within(WAIT).await,
            "socket closed after the close"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn tungstenite_close_handshake_completes() {
    each_target(|kind| async move {
        let b = WsBroker::start(kind, "", "")?;
        let (mut ws, _) = tokio_tungstenite::connect_async(b.ws_url()).await?;
        next_text(&mut ws).await?;
        ws.close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "done".into(),
        }))
        .await?;
        let mut echoed = None;
        while let Ok(Some(m)) = tokio::time::timeout(WAIT, ws.next()).await {
            if let Ok(Message::Close(Some(c))) = m {
                echoed = Some((u16::from(c.code), c.reason.to_string()));
            }
        }
        ensure!(echoed == Some((1000, "done".into())), "{echoed:?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn websocket_and_tcp_clients_exchange_messages() {
    each_target(|kind| async move {
        let b = WsBroker::start(kind, "", "")?;
        let tcp = connect(&b.broker.url()).await?;
        let mut tcp_sub = subscribe(&tcp, "from.ws").await?;
        flush(&tcp).await?;
        let (mut ws, _) = tokio_tungstenite::connect_async(b.ws_url()).await?;
        next_text(&mut ws).await?;
        let cmd = format!("{CONNECT}SUB from.tcp 7\r\nPUB from.ws 6\r\nws->tc\r\nPING\r\n");
        ws.send(Message::Binary(cmd.into_bytes().into())).await?;
        read_until(&mut ws, "PONG").await?;
        let m = next_msg(&mut tcp_sub).await?;
        ensure!(m.payload == "ws->tc", "{m:?}");
        tcp.publish("from.tcp", "tcp->ws".into()).await?;
        flush(&tcp).await?;
        let got = read_until(&mut ws, "tcp->ws").await?;
        ensure!(got.contains("MSG from.tcp 7 7\r\ntcp->ws\r\n"), "{got:?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_one_mebibyte_message_crosses_many_frames() {
    each_target(|kind| async move {
        let b = WsBroker::start(kind, "", "")?;
        let payload: Vec<u8> = (0..1024 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
        let (mut sub, _) = tokio_tungstenite::connect_async(b.ws_url()).await?;
        next_text(&mut sub).await?;
        sub.send(Message::Binary(
            format!("{CONNECT}SUB big 1\r\nPING\r\n")
                .into_bytes()
                .into(),
        ))
        .await?;
        read_until(&mut sub, "PONG").await?;
        // The publisher splits the PUB over frames of 100 000 bytes, one
        // of them a fragmented message (continuation frames).
        let (mut ws, _) = RawWs::connect(b.ws_port, "").await?;
        ws.read_until("INFO").await?;
        let mut wire = format!("{CONNECT}PUB big {}\r\n", payload.len()).into_bytes();
        wire.extend_from_slice(&payload);
        wire.extend_from_slice(b"\r\nPING\r\n");
        let chunks: Vec<&[u8]> = wire.chunks(100_000).collect();
        ws.send(OP_BINARY, false, false, chunks[0], true).await?;
        ws.send(OP_CONT, true, false, chunks[1], true).await?;
        for c in &chunks[2..] {
            ws.send(OP_BINARY, true, false, c, true).await?;
        }
        ws.read_until("PONG").await?;
        let mut got = Vec::new();
        let want_len = payload.len() + 100;
        while !got.ends_with(b"\r\n") || got.len() < payload.len() {
            let m = tokio::time::timeout(WAIT, sub.next())
                .await?
                .context("ended")??;
            if let Message::Binary(d) = m {
                got.extend_from_slice(&d);
            }
            ensure!(got.len() <= want_len, "too much data");
        }
        let head = format!("MSG big 1 {}\r\n", payload.len());
        ensure!(
            got.starts_with(head.as_bytes()),
            "{:?}",
            String::from_utf8_lossy(&got[..40])
        );
        ensure!(
            got[head.len()..head.len() + payload.len()] == payload[..],
            "payload differs"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn permessage_deflate_is_negotiated_and_used_both_ways() {
    each_target(|kind| async move {
        let b = WsBroker::start(kind, "  compression: true", "")?;
        let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
        let (mut ws, head) = RawWs::connect(b.ws_port, offer).await?;
        ensure!(
            head.contains(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
            ),
            "{head}"
        );
        ws.read_until("INFO").await?;
        let payload = "compress me please ".repeat(20);
        let cmd = format!(
            "{CONNECT}SUB z 1\r\nPUB z {}\r\n{payload}\r\nPING\r\n",
            payload.len()
        );
        ws.send_compressed(&cmd).await?;
        let (got, compressed) = ws.read_until("PONG").await?;
        ensure!(
            got.contains(&format!("MSG z 1 {}\r\n{payload}\r\n", payload.len())),
            "{got}"
        );
        ensure!(compressed, "the server compressed what it sent");
        // Without an offer: no extension, nothing compressed.
        let (_, head) = RawWs::connect(b.ws_port, "").await?;
        ensure!(!head.contains("permessage-deflate"), "{head}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn compression_off_ignores_the_offer() {
    each_target(|kind| async move {
        let b = WsBroker::start(kind, "", "")?;
        let offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
        let (mut ws, head) = RawWs::connect(b.ws_port, offer).await?;
        ensure!(!head.contains("permessage-deflate"), "{head}");
        ws.read_until("INFO").await?;
        // A compressed frame was not negotiated: protocol error.
        ws.send_compressed("PING\r\n").await?;
        let close = ws.protocol_error_close().await?;
        if kind == Kind::Tern {
            ensure!(
                close.is_some_and(|(_, r)| r.contains("permessage-deflate")),
                "close frame says why"
            );
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn bad_handshakes_get_http_errors_and_the_broker_keeps_serving() {
    each_target(|kind| async move {
        let b = WsBroker::start(kind, "", "")?;
        let p = b.ws_port;
        let good = upgrade_request(p, "/", "");
        let cases = [
            (good.replace("Upgrade: websocket\r\n", ""), 400),
            (good.replace("Version: 13", "Version: 8"), 400),
            (
                good.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
                400,
            ),
            (
                good.replace("Connection: Upgrade", "Connection: keep-alive"),
                400,
            ),
            (good.replace("GET /", "POST /"), 405),
        ];
        for (req, want) in cases {
            let (status, head, _) = raw_handshake(p, &req).await?;
            ensure!(status == want, "{want} expected for {req:?}, got {head}");
        }
        let (mut ws, _) = RawWs::connect(p, "").await?;
        ws.read_until("INFO").await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn origins_not_allowed_are_forbidden() {
    each_target(|kind| async move {
        let b = WsBroker::start(
            kind,
            "  allowed_origins: [\"http://good.example:8000\"]",
            "",
        )?;
        let p = b.ws_port;
        let (status, head, _) = raw_handshake(
            p,
            &upgrade_request(p, "/", "Origin: http://evil.example:8000\r\n"),
        )
        .await?;
        ensure!(status == 403, "{head}");
        let (status, head, _) = raw_handshake(
            p,
            &upgrade_request(p, "/", "Origin: http://good.example:8000\r\n"),
        )
        .await?;
        ensure!(status == 101, "{head}");
        let (status, head, _) = raw_handshake(p, &upgrade_request(p, "/", "")).await?;
        ensure!(
            status == 101,
            "no Origin (not a browser) is accepted: {head}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn same_origin_compares_with_the_host() {
    each_target(|kind| async move {
        let b = WsBroker::start(kind, "  same_origin: true", "")?;
        let p = b.ws_port;
        let same = format!("Origin: http://127.0.0.1:{p}\r\n");
        let (status, head, _) = raw_handshake(p, &upgrade_request(p, "/", &same)).await?;
        ensure!(status == 101, "{head}");
        let (status, head, _) = raw_handshake(
            p,
            &upgrade_request(p, "/", "Origin: http://127.0.0.1:1\r\n"),
        )
        .await?;
        ensure!(status == 403, "{head}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn unmasked_and_garbage_frames_close_only_that_connection() {
    each_target(|kind| async move {
        let b = WsBroker::start(kind, "", "")?;
        let (mut bystander, _) = RawWs::connect(b.ws_port, "").await?;
        bystander.read_until("INFO").await?;
        bystander
            .send_text(&format!("{CONNECT}SUB keep 1\r\nPING\r\n"))
            .await?;
        bystander.read_until("PONG").await?;

        let (mut ws, _) = RawWs::connect(b.ws_port, "").await?;
        ws.read_until("INFO").await?;
        ws.send(OP_BINARY, true, false, b"PING\r\n", false).await?;
        let close = ws.protocol_error_close().await?;
        if kind == Kind::Tern {
            ensure!(
                close == Some((1002, "mask bit missing".into())),
                "{close:?}"
            );
        }

        let (mut ws, _) = RawWs::connect(b.ws_port, "").await?;
        ws.read_until("INFO").await?;
        ws.sock_write(&[0x83, 0x85, 1, 2, 3, 4, 5, 6, 7, 8, 9])
            .await?;
        let close = ws.protocol_error_close().await?;
        if kind == Kind::Tern {
            ensure!(
                close == Some((1002, "unknown opcode 3".into())),
                "{close:?}"
            );
        }

        let (mut ws, _) = RawWs::connect(b.ws_port, "").await?;
        ws.read_until("INFO").await?;
        // A ping longer than a control frame may be.
        ws.send(OP_PING, true, false, &[b'x'; 200], true).await?;
        ws.protocol_error_close().await?;

        bystander.send_text("PUB keep 2\r\nok\r\nPING\r\n").await?;
        let (got, _) = bystander.read_until("PONG").await?;
        ensure!(got.contains("MSG keep 1 2\r\nok\r\n"), "{got}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn cookies_authenticate_when_connect_has_no_credentials() {
    each_target(|kind| async move {
        let top = "authorization {\n  users = [ { user: alice, password: s3cret } ]\n}\n";
        let b = WsBroker::start(kind, "  user_cookie: nu\n  pass_cookie: np", top)?;
        let (mut ws, _) = RawWs::connect(b.ws_port, "Cookie: nu=alice; np=s3cret\r\n").await?;
        let (info, _) = ws.read_until("\r\n").await?;
        ensure!(info.contains("\"auth_required\":true"), "{info}");
        ws.send_text(&format!("{CONNECT}PING\r\n")).await?;
        ws.read_until("PONG").await?;

        let (mut ws, _) = RawWs::connect(b.ws_port, "Cookie: nu=alice; np=wrong\r\n").await?;
        ws.read_until("INFO").await?;
        ws.send_text(&format!("{CONNECT}PING\r\n")).await?;
        let (got, _) = ws.read_until("-ERR").await?;
        ensure!(got.contains("-ERR 'Authorization Violation'"), "{got}");
        let (status, _) = ws.read_close().await?;
        ensure!(status == 1008, "policy violation: {status}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn monitoring_shows_the_listener_and_websocket_clients() {
    each_target(|kind| async move {
        let b = WsBroker::start(
            kind,
            "  compression: true\n  allowed_origins: [\"http://app.example\"]",
            "",
        )?;
        let (mut ws, _) = RawWs::connect(b.ws_port, "").await?;
        ws.read_until("INFO").await?;
        ws.send_text(&format!("{CONNECT}PING\r\n")).await?;
        ws.read_until("PONG").await?;
        let varz = http_get(b.http_port, "/varz")?.json()?;
        let w = &varz["websocket"];
        ensure!(w["port"] == b.ws_port && w["host"] == "127.0.0.1", "{w}");
        ensure!(w["no_tls"] == true && w["compression"] == true, "{w}");
        ensure!(
            w["allowed_origins"] == serde_json::json!(["http://app.example"]),
            "{w}"
        );
        ensure!(w.get("same_origin").is_none(), "false is left out: {w}");
        let connz = http_get(b.http_port, "/connz")?.json()?;
        let conns = connz["connections"].as_array().context("connections")?;
        ensure!(conns.iter().any(|c| c["type"] == "websocket"), "{connz}");
        ws.send(OP_CLOSE, true, false, &1000u16.to_be_bytes(), true)
            .await?;
        ws.read_close().await?;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let closed = http_get(b.http_port, "/connz?state=closed")?.json()?;
            let list = closed["connections"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if let Some(c) = list.iter().find(|c| c["type"] == "websocket") {
                ensure!(c["reason"] == "Client Closed", "{c}");
                break;
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "no closed websocket in {closed}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn leaf_and_mqtt_paths_are_refused_for_now() {
    // nats-server refuses /mqtt with 404 when MQTT is off; Tern has no
    // MQTT and (yet) no leaf nodes over WebSocket.
    each_target(|kind| async move {
        let b = WsBroker::start(kind, "", "")?;
        let p = b.ws_port;
        let (status, head, _) = raw_handshake(p, &upgrade_request(p, "/mqtt", "")).await?;
        ensure!(status == 404, "{head}");
        if kind == Kind::Tern {
            let (status, head, _) = raw_handshake(p, &upgrade_request(p, "/leafnode", "")).await?;
            ensure!(status == 404, "{head}");
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_compressed_message_inflating_past_max_payload_closes_the_connection() {
    each_target(|kind| async move {
        let b = WsBroker::start(kind, "  compression: true", "max_payload: 1024")?;
        let offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
        let (mut ws, head) = RawWs::connect(b.ws_port, offer).await?;
        ensure!(head.contains("permessage-deflate"), "{head}");
        ws.read_until("INFO").await?;
        // 8 000 bytes that compress to a few dozen.
        let bomb = format!("{CONNECT}PUB x 7900\r\n{}\r\n", "a".repeat(7900));
        ws.send_compressed(&bomb).await?;
        ensure!(ws.closed_within(WAIT).await, "still open");
        // Others are unaffected.
        let (mut other, _) = RawWs::connect(b.ws_port, "").await?;
        other.read_until("INFO").await?;
        other.send_text(&format!("{CONNECT}PING\r\n")).await?;
        other.read_until("PONG").await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn an_upgrade_that_never_comes_is_cut_at_the_handshake_timeout() {
    each_target(|kind| async move {
        let b = WsBroker::start(kind, "  handshake_timeout: \"500ms\"", "")?;
        let mut idle = tokio::net::TcpStream::connect(("127.0.0.1", b.ws_port)).await?;
        let started = tokio::time::Instant::now();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(&mut idle, &mut buf),
        )
        .await
        .context("still open after 5 s")?
        .unwrap_or(0);
        ensure!(
            n == 0 || String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 4"),
            "got {:?}",
            &buf[..n]
        );
        ensure!(
            started.elapsed() >= Duration::from_millis(400),
            "closed too early"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn websocket_ping_interval_overrides_the_servers() {
    each_target(|kind| async move {
        let b = WsBroker::start(kind, "  ping_interval: \"300ms\"", "ping_interval: \"1h\"")?;
        let (mut ws, _) = RawWs::connect(b.ws_port, "").await?;
        ws.read_until("INFO").await?;
        ws.send_text(CONNECT).await?;
        let started = tokio::time::Instant::now();
        ws.read_until("PING\r\n").await?;
        ensure!(started.elapsed() < Duration::from_secs(3), "PING came late");
        Ok(())
    })
    .await;
}
