//! Accepting WebSocket connections: the upgrade handshake (bounded by
//! `handshake_timeout`), then the same connection task as a TCP client.
//! Stops accepting with the client listener: on shutdown and in lame duck.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::server::connection;
use crate::server::listener::accept_until_stopped;
use crate::server::state::{RunState, Shared};

use super::error::WsError;
use super::handshake::{self, PathKind, Settings, Upgrade};

/// Largest upgrade request read (Go's HTTP server allows 1 MB of headers;
/// a browser's request is well under this).
const MAX_REQUEST: usize = 64 * 1024;

/// Accept WebSocket clients until the server leaves the running state.
pub async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    settings: Arc<Settings>,
    handshake_timeout: Duration,
    run_state: watch::Receiver<RunState>,
) {
    accept_until_stopped(listener, run_state, "websocket", |stream, addr| {
        tokio::spawn(upgrade_then_serve(
            shared.clone(),
            settings.clone(),
            stream,
            addr,
            handshake_timeout,
        ));
    })
    .await
}

async fn upgrade_then_serve(
    shared: Arc<Shared>,
    settings: Arc<Settings>,
    stream: TcpStream,
    addr: SocketAddr,
    handshake_timeout: Duration,
) {
    let Some(server_config) = shared.websocket_tls() else {
        let mut stream = stream;
        if let Some(upgrade) =
            upgrade(&shared, &settings, &mut stream, addr, handshake_timeout).await
        {
            serve(shared, stream, addr, upgrade, None).await;
        }
        return;
    };
    // wss://: TLS first, then the HTTP upgrade inside it (bounded by the
    // same handshake timeout, as nats-server does).
    let mut tls = match crate::tls::handshake(stream, server_config, handshake_timeout).await {
        Ok(tls) => tls,
        Err(e) => {
            tracing::error!("{addr} - websocket {e}");
            return;
        }
    };
    let Some(upgrade) = upgrade(&shared, &settings, &mut tls, addr, handshake_timeout).await else {
        return;
    };
    let (stream, session) = crate::tls::into_session(tls);
    serve(shared, stream, addr, upgrade, Some(Arc::new(session))).await;
}

/// Read and check the upgrade request and answer it; `None` when it was
/// refused (answered with its status) or failed (logged).
async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Arc<Shared>,
    settings: &Settings,
    stream: &mut S,
    addr: SocketAddr,
    handshake_timeout: Duration,
) -> Option<Upgrade> {
    let upgrade =
        match tokio::time::timeout(handshake_timeout, read_upgrade(stream, settings)).await {
            Err(_) => {
                tracing::error!("{addr} - websocket handshake error: timeout");
                return None;
            }
            Ok(Err(WsError::Handshake { status, reason })) => {
                tracing::error!("{addr} - websocket handshake error: {reason}");
                refuse(stream, status, handshake_timeout).await;
                return None;
            }
            Ok(Err(e)) => {
                tracing::error!("{addr} - websocket handshake error: {e}");
                return None;
            }
            Ok(Ok(upgrade)) => upgrade,
        };
    if upgrade.kind == PathKind::Leaf {
        if let Err(reason) = accept_leaf(shared, &upgrade) {
            tracing::error!("{addr} - {reason}");
            refuse(stream, 404, handshake_timeout).await;
            return None;
        }
    }
    let sent = tokio::time::timeout(handshake_timeout, async {
        stream.write_all(&upgrade.response).await?;
        stream.flush().await
    })
    .await;
    if !matches!(sent, Ok(Ok(()))) {
        tracing::error!("{addr} - websocket handshake error: could not send the upgrade response");
        return None;
    }
    Some(upgrade)
}

/// Run an upgraded connection: a client, or a leaf node on `/leafnode`.
async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    addr: SocketAddr,
    upgrade: Upgrade,
    tls: Option<Arc<crate::tls::TlsSession>>,
) {
    if upgrade.kind == PathKind::Leaf {
        serve_leaf(shared, stream, addr, upgrade, tls).await;
    } else {
        connection::serve_websocket(shared, stream, addr, upgrade, tls).await;
    }
}

/// Leaf nodes may connect over WebSocket (a path ending in `/leafnode`)
/// when this server accepts leaf nodes at all (a leafnode port), as with
/// nats-server.
fn accept_leaf(shared: &Arc<Shared>, _upgrade: &Upgrade) -> Result<(), String> {
    if shared.config().leafnodes.listen.is_none() {
        return Err("Not configured to accept leaf node connections".into());
    }
    Ok(())
}

/// Run an upgraded `/leafnode` connection as a leaf link.
async fn serve_leaf(
    shared: Arc<Shared>,
    stream: TcpStream,
    addr: SocketAddr,
    upgrade: Upgrade,
    tls: Option<Arc<crate::tls::TlsSession>>,
) {
    let max_payload = shared.config().max_payload;
    let ws = crate::leaf::link::WsLink {
        reader: super::WsReader {
            raw: bytes::BytesMut::new(),
            // Soliciting servers mask unless they asked not to.
            decoder: super::frame::Decoder::new(!upgrade.no_masking, upgrade.compress, max_payload),
            ping_interval: None,
        },
        writer: super::WsWriter::new(upgrade.compress, false, false),
    };
    let id = shared.next_client_id();
    let transport = crate::leaf::link::Transport {
        tls,
        ws: Some(ws),
        ..crate::leaf::link::Transport::tcp(stream)
    };
    crate::leaf::link::run_over(
        shared,
        id,
        transport,
        addr,
        crate::leaf::link::Role::Accepted,
    )
    .await;
}

/// Read until the request is complete and check it.
async fn read_upgrade<S: AsyncRead + Unpin>(
    stream: &mut S,
    settings: &Settings,
) -> Result<Upgrade, WsError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| WsError::handshake(400, format!("read error: {e}")))?;
        if n == 0 {
            return Err(WsError::handshake(
                400,
                "connection closed before the request was complete",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(upgrade) = handshake::accept(&buf, settings)? {
            return Ok(upgrade);
        }
        if buf.len() > MAX_REQUEST {
            return Err(WsError::handshake(431, "request headers too large"));
        }
    }
}

/// Answer a refused upgrade with its HTTP status, then close.
async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, status: u16, limit: Duration) {
    let response = handshake::error_response(status);
    let _ = tokio::time::timeout(limit, stream.write_all(&response)).await;
    let _ = stream.shutdown().await;
}
