//! A TLS handshake on a fresh TCP connection, either side, bounded by the
//! block's `timeout`. tokio-rustls drives it; the established connection
//! is then taken apart again so the broker's own non-blocking read and
//! write paths carry it ([`super::TlsSession`]).

use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::TlsSession;

/// Why a handshake did not complete; the text is what nats-server logs
/// after "TLS handshake error: " (or "TLS handshake timeout").
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("TLS handshake error: {0}")]
    Failed(std::io::Error),
    #[error("TLS handshake timeout")]
    Timeout,
    /// The listener's greeting before the handshake could not be sent.
    #[error("error sending the greeting before the TLS handshake: {0}")]
    Greeting(std::io::Error),
}

impl HandshakeError {
    /// The text nats-server logs for a handshake of a link of `kind`
    /// ("leafnode"): `TLS leafnode handshake error: …`.
    pub fn of_link(&self, kind: &str) -> String {
        match self {
            HandshakeError::Failed(e) => format!("TLS {kind} handshake error: {e}"),
            HandshakeError::Timeout => format!("TLS {kind} handshake timeout"),
            HandshakeError::Greeting(_) => self.to_string(),
        }
    }
}

/// Run the handshake as the server and take the result apart.
pub async fn accept(
    stream: TcpStream,
    config: Arc<ServerConfig>,
    timeout: Duration,
) -> Result<(TcpStream, TlsSession), HandshakeError> {
    Ok(into_session(handshake(stream, config, timeout).await?))
}

/// Run the handshake as the server, keeping tokio-rustls's stream for a
/// protocol that speaks first through it (the WebSocket upgrade).
pub async fn handshake(
    stream: TcpStream,
    config: Arc<ServerConfig>,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, HandshakeError> {
    let acceptor = TlsAcceptor::from(config);
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Err(_) => Err(HandshakeError::Timeout),
        Ok(Err(e)) => Err(HandshakeError::Failed(e)),
        Ok(Ok(tls)) => Ok(tls),
    }
}

/// The socket and the session of an established stream.
pub fn into_session(tls: TlsStream<TcpStream>) -> (TcpStream, TlsSession) {
    let (stream, conn) = tls.into_inner();
    (stream, TlsSession::new(conn))
}

/// Run the handshake as the client, verifying the server as `name`,
/// keeping tokio-rustls's stream (a WebSocket upgrade may follow inside).
pub async fn connect(
    stream: TcpStream,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    timeout: Duration,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, HandshakeError> {
    let connector = TlsConnector::from(config);
    match tokio::time::timeout(timeout, connector.connect(name, stream)).await {
        Err(_) => Err(HandshakeError::Timeout),
        Ok(Err(e)) => Err(HandshakeError::Failed(e)),
        Ok(Ok(tls)) => Ok(tls),
    }
}

/// The socket and the session of an established client stream.
pub fn into_client_session(
    tls: tokio_rustls::client::TlsStream<TcpStream>,
) -> (TcpStream, TlsSession) {
    let (stream, conn) = tls.into_inner();
    (stream, TlsSession::new(conn))
}

/// The first byte of every TLS connection: a handshake record.
pub const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Whether the client's first byte, waited for up to `wait`, starts a TLS
/// handshake (`None`: it sent nothing in that time).
pub async fn starts_with_tls(stream: &TcpStream, wait: Duration) -> Option<bool> {
    let mut first = [0u8; 1];
    match tokio::time::timeout(wait, stream.peek(&mut first)).await {
        Ok(Ok(1)) => Some(first[0] == TLS_HANDSHAKE_RECORD),
        _ => None,
    }
}
