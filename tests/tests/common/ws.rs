//! WebSocket helpers: brokers with a `websocket {}` block on a free port,
//! a hand-rolled RFC 6455 client over a raw socket (so tests control every
//! header and frame bit: masking, compression, garbage), and a
//! tokio-tungstenite client for ordinary traffic.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use tern_tests::{free_port, Broker, BrokerOptions, Kind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::WAIT;

pub const OP_CONT: u8 = 0x0;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// A broker with a websocket listener; `ws_port` is where it listens.
pub struct WsBroker {
    pub broker: Broker,
    pub ws_port: u16,
    pub http_port: u16,
}

impl WsBroker {
    /// Start `kind` with `websocket { port, no_tls: true, <extra> }` and
    /// `top` (other top-level config), monitoring on.
    pub fn start(kind: Kind, extra: &str, top: &str) -> Result<WsBroker> {
        // Free ports are picked, released and then bound by the broker;
        // with tests running in parallel another may take one meanwhile.
        let mut tries = 0;
        loop {
            match Self::try_start(kind, extra, top) {
                Ok(b) => return Ok(b),
                Err(e) if tries < 2 && format!("{e:#}").contains("before accepting clients") => {
                    tries += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn try_start(kind: Kind, extra: &str, top: &str) -> Result<WsBroker> {
        let ws_port = free_port();
        let http_port = free_port();
        let config = format!(
            "no_system_account: true\n{top}\nwebsocket {{\n  host: 127.0.0.1\n  port: {ws_port}\n  no_tls: true\n{extra}\n}}\n"
        );
        let broker = Broker::start_with(
            kind,
            BrokerOptions {
                config: Some(config),
                args: vec!["-m".into(), http_port.to_string()],
                ..Default::default()
            },
        )?;
        Ok(WsBroker {
            broker,
            ws_port,
            http_port,
        })
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.ws_port)
    }
}

/// A standard upgrade request for `path` with `extra` header lines.
pub fn upgrade_request(port: u16, path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// Send `request` and read the response head; returns the status and the
/// head. The socket is kept for frames when the status is 101.
pub async fn raw_handshake(port: u16, request: &str) -> Result<(u16, String, TcpStream)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(WAIT, s.read(&mut byte))
            .await
            .context("waiting for the handshake response")??;
        if n == 0 {
            bail!(
                "closed during the handshake after {:?}",
                String::from_utf8_lossy(&head)
            );
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line in {head:?}"))?;
    Ok((status, head, s))
}

/// One frame as read from the server.
#[derive(Debug, Clone)]
pub struct Frame {
    pub fin: bool,
    pub rsv1: bool,
    pub op: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

/// A raw WebSocket client on an upgraded socket.
pub struct RawWs {
    pub sock: TcpStream,
    pub compressed: bool,
}

impl RawWs {
    /// Upgrade at `port` (with `extra` headers), requiring 101.
    pub async fn connect(port: u16, extra: &str) -> Result<(RawWs, String)> {
        let (status, head, sock) = raw_handshake(port, &upgrade_request(port, "/", extra)).await?;
        if status != 101 {
            bail!("status {status}: {head}");
        }
        let compressed = head.contains("permessage-deflate");
        Ok((RawWs { sock, compressed }, head))
    }

    /// Send one frame (masked unless `mask` is false).
    pub async fn send(
        &mut self,
        op: u8,
        fin: bool,
        rsv1: bool,
        payload: &[u8],
        mask: bool,
    ) -> Result<()> {
        let mut f = vec![op | if fin { 0x80 } else { 0 } | if rsv1 { 0x40 } else { 0 }];
        let m = if mask { 0x80 } else { 0 };
        if payload.len() <= 125 {
            f.push(m | payload.len() as u8);
        } else if payload.len() <= 65535 {
            f.push(m | 126);
            f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        } else {
            f.push(m | 127);
            f.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        }
        let key = [0xa1, 0xb2, 0xc3, 0xd4];
        if mask {
            f.extend_from_slice(&key);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i & 3]));
        } else {
            f.extend_from_slice(payload);
        }
        self.sock.write_all(&f).await?;
        Ok(())
    }

    /// Write raw bytes (hand-made frames).
    pub async fn sock_write(&mut self, bytes: &[u8]) -> Result<()> {
        self.sock.write_all(bytes).await?;
        Ok(())
    }

    /// Send NATS protocol text in one binary frame.
    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        self.send(OP_BINARY, true, false, text.as_bytes(), true)
            .await
    }

    /// Send NATS protocol text compressed (permessage-deflate).
    pub async fn send_compressed(&mut self, text: &str) -> Result<()> {
        let z = deflate(text.as_bytes());
        self.send(OP_BINARY, true, true, &z, true).await
    }

    /// Read one frame; `None` when the server closed the socket.
    pub async fn read(&mut self) -> Result<Option<Frame>> {
        let mut h = [0u8; 2];
        match tokio::time::timeout(WAIT, self.sock.read_exact(&mut h)).await {
            Err(_) => bail!("no frame within {WAIT:?}"),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
            Ok(Err(e)) => return Err(e.into()),
            Ok(Ok(_)) => {}
        }
        let len = match h[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                self.sock.read_exact(&mut b).await?;
                u16::from_be_bytes(b) as usize
            }
            127 => {
                let mut b = [0u8; 8];
                self.sock.read_exact(&mut b).await?;
                u64::from_be_bytes(b) as usize
            }
            n => n as usize,
        };
        let masked = h[1] & 0x80 != 0;
        let mut key = [0u8; 4];
        if masked {
            self.sock.read_exact(&mut key).await?;
        }
        let mut payload = vec![0u8; len];
        tokio::time::timeout(WAIT, self.sock.read_exact(&mut payload))
            .await
            .context("frame payload")??;
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i & 3];
            }
        }
        Ok(Some(Frame {
            fin: h[0] & 0x80 != 0,
            rsv1: h[0] & 0x40 != 0,
            op: h[0] & 0x0f,
            masked,
            payload,
        }))
    }

    /// Read data frames (inflating compressed messages) until the NATS
    /// text received contains `needle`; returns the text and whether any
    /// frame was compressed. Control frames are returned as they come.
    pub async fn read_until(&mut self, needle: &str) -> Result<(String, bool)> {
        let mut text = Vec::new();
        let mut any_compressed = false;
        let mut message = Vec::new();
        let mut message_compressed = false;
        let deadline = tokio::time::Instant::now() + WAIT;
        while !String::from_utf8_lossy(&text).contains(needle) {
            if tokio::time::Instant::now() > deadline {
                bail!("no {needle:?} in {:?}", String::from_utf8_lossy(&text));
            }
            let Some(f) = self.read().await? else {
                bail!(
                    "closed before {needle:?}; got {:?}",
                    String::from_utf8_lossy(&text)
                );
            };
            match f.op {
                OP_BINARY | OP_CONT => {
                    if f.op == OP_BINARY {
                        message_compressed = f.rsv1;
                    }
                    any_compressed |= f.rsv1;
                    message.extend_from_slice(&f.payload);
                    if f.fin {
                        if message_compressed {
                            text.extend(inflate(&message)?);
                        } else {
                            text.extend_from_slice(&message);
                        }
                        message.clear();
                    }
                }
                OP_CLOSE => bail!("close frame {:?} before {needle:?}", f.payload),
                _ => {}
            }
        }
        Ok((String::from_utf8_lossy(&text).into_owned(), any_compressed))
    }

    /// Read until the server's close frame (skipping data) and then the end
    /// of the stream; returns the close status and reason.
    pub async fn read_close(&mut self) -> Result<(u16, String)> {
        loop {
            match self.read().await? {
                None => bail!("socket closed without a close frame"),
                Some(f) if f.op == OP_CLOSE => {
                    let status = if f.payload.len() >= 2 {
                        u16::from_be_bytes([f.payload[0], f.payload[1]])
                    } else {
                        1005
                    };
                    let reason = String::from_utf8_lossy(f.payload.get(2..).unwrap_or_default())
                        .into_owned();
                    return Ok((status, reason));
                }
                Some(_) => {}
            }
        }
    }

    /// After a broken frame the connection ends: Tern sends a close frame
    /// with status 1002 and the reason first (as nats-server's code means
    /// to, though its read-error path closes before that frame is
    /// written); returns that close, if any, once the socket is closed.
    pub async fn protocol_error_close(&mut self) -> Result<Option<(u16, String)>> {
        let close = match self.read_close().await {
            Ok(c) => Some(c),
            Err(e) if e.to_string().contains("without a close frame") => None,
            Err(e) => return Err(e),
        };
        if let Some((status, reason)) = &close {
            if *status != 1002 {
                bail!("close status {status} ({reason}), expected 1002");
            }
        }
        if !self.closed_within(WAIT).await {
            bail!("the connection stayed open");
        }
        Ok(close)
    }

    /// Whether the server closes the socket within `within`.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let mut buf = [0u8; 4096];
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.sock.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }
}

/// permessage-deflate's compression of one message: raw deflate, sync
/// flush, the 00 00 ff ff tail removed.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut c = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() + 1024);
    let _ = c.compress_vec(data, &mut out, FlushCompress::Sync);
    if out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    }
    out
}

/// The reverse of [`deflate`].
pub fn inflate(data: &[u8]) -> Result<Vec<u8>> {
    let mut input = data.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut d = Decompress::new(false);
    let mut out = Vec::with_capacity(data.len() * 8 + 1024);
    loop {
        let before = d.total_in() as usize;
        d.decompress_vec(&input[before..], &mut out, FlushDecompress::Sync)?;
        if d.total_in() as usize == input.len() && out.len() < out.capacity() {
            return Ok(out);
        }
        out.reserve(out.capacity());
    }
}
