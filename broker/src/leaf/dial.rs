//! A fresh TCP connection to a remote made ready for the leaf protocol:
//! TLS, when the remote has a `tls {}` block, its URL is `tls://` or
//! `wss://`, or the hub's first INFO requires it (as nats-server decides,
//! except that Tern also takes `tls://` to mean TLS, so credentials never
//! go in the clear to a URL that says otherwise); and the WebSocket
//! upgrade for `ws://`/`wss://`. Without `handshake_first`, the hub's INFO
//! is read in the clear first and handed to the link with the session.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rustls_pki_types::ServerName;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::config::{LeafRemoteConfig, TlsConfig};
use crate::server::state::Shared;
use crate::tls::TlsSession;
use crate::websocket::frame::Decoder;
use crate::websocket::{WsReader, WsWriter};

use super::handshake::LeafInfo;
use super::link::{Transport, WsLink, HANDSHAKE_TIMEOUT};
use super::remote::{parse_url, RemoteUrl};
use super::ws_dial;

/// Longest first INFO read in the clear.
const MAX_INFO: usize = 64 * 1024;

/// Set up TLS and framing on `stream`, just connected to `target`.
pub async fn prepare(
    shared: &Shared,
    remote: &LeafRemoteConfig,
    target: &RemoteUrl,
    mut stream: TcpStream,
    dial_timeout: Duration,
) -> Result<Transport, String> {
    let wants_tls = remote.tls.is_some() || target.tls;
    if target.websocket {
        let (stream, tls, ws) = if wants_tls {
            let mut tls = handshake(remote, target, stream).await?;
            let ws = ws_link(shared, &mut tls, remote, target, dial_timeout).await?;
            let (stream, session) = crate::tls::into_client_session(tls);
            (stream, Some(session), ws)
        } else {
            let ws = ws_link(shared, &mut stream, remote, target, dial_timeout).await?;
            (stream, None, ws)
        };
        return Ok(Transport {
            tls: tls.map(Arc::new),
            ws: Some(ws),
            ..Transport::tcp(stream)
        });
    }
    if remote.tls.as_ref().is_some_and(|t| t.handshake_first) {
        let (stream, session) = secure(remote, target, stream).await?;
        return Ok(Transport {
            tls: Some(Arc::new(session)),
            ..Transport::tcp(stream)
        });
    }
    let received = tokio::time::timeout(HANDSHAKE_TIMEOUT, first_line(&mut stream))
        .await
        .map_err(|_| "timed out waiting for the hub's INFO".to_string())??;
    if !wants_tls && !requires_tls(&received) {
        return Ok(Transport {
            received,
            ..Transport::tcp(stream)
        });
    }
    let (stream, session) = secure(remote, target, stream).await?;
    Ok(Transport {
        tls: Some(Arc::new(session)),
        received,
        ..Transport::tcp(stream)
    })
}

/// The client handshake, taken apart for the link's own I/O.
async fn secure(
    remote: &LeafRemoteConfig,
    target: &RemoteUrl,
    stream: TcpStream,
) -> Result<(TcpStream, TlsSession), String> {
    let tls = handshake(remote, target, stream).await?;
    Ok(crate::tls::into_client_session(tls))
}

async fn handshake(
    remote: &LeafRemoteConfig,
    target: &RemoteUrl,
    stream: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let defaults = TlsConfig::default();
    let tc = remote.tls.as_ref().unwrap_or(&defaults);
    let config = crate::tls::client_config(tc).map_err(|e| e.to_string())?;
    let name = server_name(remote, target)?;
    tracing::debug!("Starting TLS leafnode client handshake");
    crate::tls::connect(stream, config, name, tc.handshake_timeout())
        .await
        .map_err(|e| e.of_link("leafnode"))
}

/// The name the hub's certificate must carry: the URL's host; for an IP
/// address, the first host name among the remote's URLs (nats-server's
/// `tlsName`), else the address itself.
fn server_name(
    remote: &LeafRemoteConfig,
    target: &RemoteUrl,
) -> Result<ServerName<'static>, String> {
    let mut host = target.host.clone();
    if host.parse::<IpAddr>().is_ok() {
        if let Some(name) = remote
            .urls
            .iter()
            .filter_map(|u| parse_url(u))
            .map(|u| u.host)
            .find(|h| h.parse::<IpAddr>().is_err())
        {
            host = name;
        }
    }
    ServerName::try_from(host.clone()).map_err(|e| format!("TLS server name {host:?}: {e}"))
}

/// Read up to the end of the hub's first line (its INFO).
async fn first_line(stream: &mut TcpStream) -> Result<BytesMut, String> {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if buf.windows(2).any(|w| w == b"\r\n") {
            return Ok(buf);
        }
        if buf.len() > MAX_INFO {
            return Err(format!("the hub's INFO is longer than {MAX_INFO} bytes"));
        }
        match stream.read_buf(&mut buf).await {
            Ok(0) => return Err("the hub closed the connection before its INFO".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("reading the hub's INFO: {e}")),
        }
    }
}

/// Whether `line` is an INFO with `tls_required`.
fn requires_tls(line: &[u8]) -> bool {
    let Some(end) = line.windows(2).position(|w| w == b"\r\n") else {
        return false;
    };
    let line = &line[..end];
    if line.len() < 5 || !line[..5].eq_ignore_ascii_case(b"INFO ") {
        return false;
    }
    serde_json::from_slice::<LeafInfo>(&line[5..]).is_ok_and(|info| info.tls_required)
}

/// Upgrade to the hub's websocket port and set up the client side of the
/// frames (masked writes, unmasked reads).
async fn ws_link<S>(
    shared: &Shared,
    stream: &mut S,
    remote: &LeafRemoteConfig,
    target: &RemoteUrl,
    dial_timeout: Duration,
) -> Result<WsLink, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let upgraded = ws_dial::upgrade(
        stream,
        &target.host_port,
        &target.path,
        remote.ws_compression,
        dial_timeout,
    )
    .await?;
    let max_payload = shared.config().max_payload;
    Ok(WsLink {
        reader: WsReader {
            raw: upgraded.leftover,
            decoder: Decoder::new(false, upgraded.compress, max_payload),
            ping_interval: None,
        },
        writer: WsWriter::client(upgraded.compress),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_info_with_tls_required_asks_for_tls() {
        assert!(requires_tls(b"INFO {\"tls_required\":true}\r\n"));
        assert!(requires_tls(
            b"info {\"server_id\":\"x\",\"tls_required\":true}\r\nPING\r\n"
        ));
        assert!(!requires_tls(b"INFO {\"server_id\":\"x\"}\r\n"));
        assert!(!requires_tls(b"-ERR 'x'\r\n"));
        assert!(!requires_tls(b"INFO {\"tls_required\":true}"));
    }

    #[test]
    fn an_ip_url_is_verified_under_a_host_name_of_the_remote() {
        let remote = LeafRemoteConfig {
            urls: vec![
                "tls://10.0.0.1:7422".to_string(),
                "tls://hub.example:7422".to_string(),
            ],
            ..LeafRemoteConfig::default()
        };
        let target = parse_url(&remote.urls[0]).expect("valid");
        let name = server_name(&remote, &target).expect("name");
        assert_eq!(name.to_str(), "hub.example");
        let alone = LeafRemoteConfig {
            urls: vec!["tls://[::1]:7422".to_string()],
            ..LeafRemoteConfig::default()
        };
        let target = parse_url(&alone.urls[0]).expect("valid");
        assert_eq!(server_name(&alone, &target).expect("name").to_str(), "::1");
    }
}
