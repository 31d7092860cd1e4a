//! The client side of the WebSocket upgrade, for `ws://` and `wss://`
//! remotes (inside TLS for the latter): a leaf
//! asks the hub's websocket port for the `/leafnode` path, then runs the
//! ordinary leaf protocol in masked binary frames.

use std::time::Duration;

use base64::Engine;
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::websocket::handshake::accept_key;

/// Largest upgrade response read.
const MAX_RESPONSE: usize = 16 * 1024;

/// What the hub agreed to.
pub struct Upgraded {
    /// permessage-deflate (without context takeover) was negotiated.
    pub compress: bool,
    /// Bytes that followed the response: the start of the first frames.
    pub leftover: BytesMut,
}

/// Upgrade `stream` to WebSocket on `path` of `host` (the `Host` header).
pub async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    host: &str,
    path: &str,
    compress: bool,
    limit: Duration,
) -> Result<Upgraded, String> {
    tokio::time::timeout(limit, upgrade_inner(stream, host, path, compress))
        .await
        .map_err(|_| "websocket upgrade timed out".to_string())?
}

async fn upgrade_inner<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    host: &str,
    path: &str,
    compress: bool,
) -> Result<Upgraded, String> {
    let key_bytes: [u8; 16] = rand::random();
    let key = base64::engine::general_purpose::STANDARD.encode(key_bytes);
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    );
    if compress {
        request.push_str("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n");
    }
    request.push_str("\r\n");
    async {
        stream.write_all(request.as_bytes()).await?;
        // Through TLS, the request may still sit in the session's records.
        stream.flush().await
    }
    .await
    .map_err(|e| format!("sending the upgrade request: {e}"))?;

    let mut buf = BytesMut::with_capacity(1024);
    loop {
        let n = stream
            .read_buf(&mut buf)
            .await
            .map_err(|e| format!("reading the upgrade response: {e}"))?;
        if n == 0 {
            return Err("the hub closed the connection during the upgrade".into());
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let status = response.code.unwrap_or(0);
                if status != 101 {
                    return Err(format!(
                        "the hub refused the websocket upgrade (HTTP {status})"
                    ));
                }
                let header = |name: &str| {
                    response
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).into_owned())
                        .unwrap_or_default()
                };
                if !header("Upgrade").eq_ignore_ascii_case("websocket")
                    || !header("Connection")
                        .to_ascii_lowercase()
                        .contains("upgrade")
                    || header("Sec-WebSocket-Accept") != accept_key(&key)
                {
                    return Err("invalid websocket upgrade response".into());
                }
                let compress =
                    compress && header("Sec-WebSocket-Extensions").contains("permessage-deflate");
                let leftover = buf.split_off(len);
                return Ok(Upgraded { compress, leftover });
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_RESPONSE => continue,
            Ok(httparse::Status::Partial) => return Err("upgrade response too large".into()),
            Err(e) => return Err(format!("bad upgrade response: {e}")),
        }
    }
}
