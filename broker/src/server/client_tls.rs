//! How a client connection on a TLS port starts, in nats-server's order:
//! INFO in the clear and then the client's TLS handshake; or, with
//! `handshake_first`, the handshake before INFO (with `auto`, only for
//! clients that speak first); with `allow_non_tls`, the client's first
//! byte tells whether it upgrades at all.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::tls::{accept, starts_with_tls, TlsSession};

use super::state::Shared;

/// A client connection once its TLS question is settled.
pub(super) struct Started {
    pub stream: TcpStream,
    pub tls: Option<Arc<TlsSession>>,
    /// INFO went out in the clear already.
    pub info_sent: bool,
}

/// Settle TLS for a new client; `None` when the connection is to be
/// dropped (the handshake failed or timed out, which is logged).
pub(super) async fn start(
    shared: &Shared,
    mut stream: TcpStream,
    addr: SocketAddr,
    id: u64,
    server_config: Arc<rustls::ServerConfig>,
    info: &[u8],
) -> Option<Started> {
    let config = shared.config();
    let tc = config.tls.as_ref()?;
    let timeout = tc.handshake_timeout();
    let mut tls_first = tc.handshake_first;
    if let (true, Some(delay)) = (tls_first, tc.handshake_first_fallback) {
        // A client that says nothing for `delay` waits for INFO first.
        tls_first = starts_with_tls(&stream, delay).await.is_some();
    }
    let mut info_sent = false;
    if !tls_first {
        if let Err(e) = stream.write_all(info).await {
            tracing::debug!("{addr} - cid:{id} - Error sending INFO: {e}");
            return None;
        }
        info_sent = true;
        if config.allow_non_tls && starts_with_tls(&stream, timeout).await != Some(true) {
            return Some(Started {
                stream,
                tls: None,
                info_sent,
            });
        }
    }
    match accept(stream, server_config, timeout).await {
        Ok((stream, session)) => {
            tracing::debug!(
                "{addr} - cid:{id} - TLS handshake complete (TLS {}, {})",
                session.version(),
                session.cipher()
            );
            Some(Started {
                stream,
                tls: Some(Arc::new(session)),
                info_sent,
            })
        }
        Err(e) => {
            tracing::error!("{addr} - cid:{id} - {e}");
            None
        }
    }
}
