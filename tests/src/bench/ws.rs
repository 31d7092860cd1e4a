//! WebSocket framing for the benchmark client, so the same client code
//! measures the websocket port: the upgrade on a blocking socket, masked
//! binary frames out, unmasked frames in (no compression asked for).

use std::io::{Read, Write};
use std::net::TcpStream;

use anyhow::{bail, Context, Result};

/// The mask every outgoing frame carries (servers do not check keys for
/// unpredictability; XOR-ing the payload costs the same either way).
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Upgrade `sock` to WebSocket at `/`; returns the bytes read past the
/// response (the start of the first frame).
pub fn upgrade(sock: &mut TcpStream, host: &str) -> Result<Vec<u8>> {
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    sock.write_all(request.as_bytes())?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = sock
            .read(&mut buf)
            .context("reading the upgrade response")?;
        if n == 0 {
            bail!("connection closed during the websocket upgrade");
        }
        got.extend_from_slice(&buf[..n]);
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            if !got.starts_with(b"HTTP/1.1 101") {
                bail!(
                    "websocket upgrade refused: {}",
                    String::from_utf8_lossy(&got[..end])
                );
            }
            return Ok(got.split_off(end + 4));
        }
    }
}

/// Write `payload` as one masked binary frame.
pub fn write_frame(sock: &mut TcpStream, payload: &[u8], scratch: &mut Vec<u8>) -> Result<()> {
    scratch.clear();
    scratch.push(0x82);
    let len = payload.len();
    if len < 126 {
        scratch.push(0x80 | len as u8);
    } else if len <= u16::MAX as usize {
        scratch.push(0x80 | 126);
        scratch.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        scratch.push(0x80 | 127);
        scratch.extend_from_slice(&(len as u64).to_be_bytes());
    }
    scratch.extend_from_slice(&MASK);
    let start = scratch.len();
    scratch.extend_from_slice(payload);
    for (i, b) in scratch[start..].iter_mut().enumerate() {
        *b ^= MASK[i & 3];
    }
    sock.write_all(scratch).context("write")
}

/// Incoming frames: data payloads are appended to `out`; `raw` keeps a
/// partial frame for the next read.
pub struct Deframer {
    pub raw: Vec<u8>,
    /// Payload bytes of the current data frame still to come.
    remaining: usize,
}

impl Deframer {
    /// Starting with `raw`, the bytes that came with the upgrade response.
    pub fn new(raw: Vec<u8>) -> Deframer {
        Deframer { raw, remaining: 0 }
    }

    pub fn decode(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let mut at = 0;
        loop {
            if self.remaining > 0 {
                let n = self.remaining.min(self.raw.len() - at);
                out.extend_from_slice(&self.raw[at..at + n]);
                at += n;
                self.remaining -= n;
                if self.remaining > 0 {
                    break;
                }
            }
            let head = &self.raw[at..];
            if head.len() < 2 {
                break;
            }
            let op = head[0] & 0x0f;
            if head[1] & 0x80 != 0 {
                bail!("the server masked a frame");
            }
            let (len, used) = match head[1] & 0x7f {
                126 if head.len() >= 4 => (u16::from_be_bytes([head[2], head[3]]) as usize, 4),
                127 if head.len() >= 10 => {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&head[2..10]);
                    (u64::from_be_bytes(b) as usize, 10)
                }
                126 | 127 => break,
                n => (n as usize, 2),
            };
            match op {
                0..=2 => {
                    at += used;
                    self.remaining = len;
                }
                8 => bail!("the server closed the websocket"),
                _ => {
                    // Ping/pong: skip once whole.
                    if head.len() < used + len {
                        break;
                    }
                    at += used + len;
                }
            }
        }
        self.raw.drain(..at);
        Ok(())
    }
}
