//! How a connection on a TLS listener starts, in nats-server's order: the
//! listener's greeting (NATS's INFO) in the clear and then the peer's TLS
//! handshake; or, with `handshake_first`, the handshake before the
//! greeting (with `auto`, only for peers that speak first); with
//! `allow_plain` (the client port's `allow_non_tls`), the peer's first
//! byte tells whether it upgrades at all. The greeting is opaque here:
//! what it says is the listener's business.

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::config::TlsConfig;

use super::{accept, starts_with_tls, HandshakeError, TlsSession};

/// A connection once its TLS question is settled.
pub struct Started {
    pub stream: TcpStream,
    /// `None`: an `allow_plain` peer that stayed in the clear.
    pub tls: Option<Arc<TlsSession>>,
    /// The greeting went out in the clear already.
    pub greeted: bool,
}

/// Settle TLS for a new connection on a listener with `tc`.
pub async fn start(
    mut stream: TcpStream,
    tc: &TlsConfig,
    server_config: Arc<rustls::ServerConfig>,
    greeting: &[u8],
    allow_plain: bool,
) -> Result<Started, HandshakeError> {
    let timeout = tc.handshake_timeout();
    let mut tls_first = tc.handshake_first;
    if let (true, Some(delay)) = (tls_first, tc.handshake_first_fallback) {
        // A peer that says nothing for `delay` waits for the greeting.
        tls_first = starts_with_tls(&stream, delay).await.is_some();
    }
    let mut greeted = false;
    if !tls_first {
        stream
            .write_all(greeting)
            .await
            .map_err(HandshakeError::Greeting)?;
        greeted = true;
        if allow_plain && starts_with_tls(&stream, timeout).await != Some(true) {
            return Ok(Started {
                stream,
                tls: None,
                greeted,
            });
        }
    }
    let (stream, session) = accept(stream, server_config, timeout).await?;
    Ok(Started {
        stream,
        tls: Some(Arc::new(session)),
        greeted,
    })
}
