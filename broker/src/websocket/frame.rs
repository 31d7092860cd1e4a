//! RFC 6455 frames: encoding (unmasked, as a server sends; masked, as a
//! client sends — kept for a future `ws://` leaf-node remote) and an
//! incremental decoder that turns the frames of a byte stream into the
//! NATS bytes they carry.
//!
//! Data frames are streamed: payload bytes are unmasked and handed on as
//! they arrive, so a large uncompressed message never sits in memory twice
//! and needs no frame size limit (the NATS parser enforces `max_payload`).
//! A compressed message must be complete before it can be inflated; it is
//! collected up to a limit (nats-server's: 8 × `max_payload`, at most
//! 64 MiB) and inflates to at most `max_payload` bytes.

use bytes::{Buf, BufMut, BytesMut};

use super::deflate::Decompressor;
use super::error::WsError;

pub const OP_CONTINUATION: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

const FIN: u8 = 0x80;
const RSV1: u8 = 0x40;
const RSV2_RSV3: u8 = 0x30;
const MASK: u8 = 0x80;

/// Control frames carry at most this much.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// Close status codes (RFC 6455 section 7.4.1) nats-server uses.
pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_GOING_AWAY: u16 = 1001;
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
pub const CLOSE_NO_STATUS: u16 = 1005;
pub const CLOSE_INVALID_PAYLOAD: u16 = 1007;
pub const CLOSE_POLICY_VIOLATION: u16 = 1008;
pub const CLOSE_MESSAGE_TOO_BIG: u16 = 1009;
pub const CLOSE_INTERNAL_ERROR: u16 = 1011;

/// Append a frame header. `mask` is the client's masking key (a server
/// sends none).
pub fn write_header(
    out: &mut BytesMut,
    op: u8,
    fin: bool,
    compressed: bool,
    len: usize,
    mask: Option<[u8; 4]>,
) {
    let mut b0 = op & 0x0f;
    if fin {
        b0 |= FIN;
    }
    if compressed {
        b0 |= RSV1;
    }
    let m = if mask.is_some() { MASK } else { 0 };
    out.put_u8(b0);
    if len <= 125 {
        out.put_u8(m | len as u8);
    } else if len <= u16::MAX as usize {
        out.put_u8(m | 126);
        out.put_u16(len as u16);
    } else {
        out.put_u8(m | 127);
        out.put_u64(len as u64);
    }
    if let Some(key) = mask {
        out.put_slice(&key);
    }
}

/// Append one unmasked frame (server to client).
pub fn encode(out: &mut BytesMut, op: u8, compressed: bool, payload: &[u8]) {
    write_header(out, op, true, compressed, payload.len(), None);
    out.put_slice(payload);
}

/// Append one masked frame (client to server) with `key`.
pub fn encode_masked(out: &mut BytesMut, op: u8, compressed: bool, payload: &[u8], key: [u8; 4]) {
    write_header(out, op, true, compressed, payload.len(), Some(key));
    let start = out.len();
    out.put_slice(payload);
    apply_mask(&mut out[start..], key, 0);
}

/// XOR `buf` with the masking key, starting `offset` bytes into the key's
/// cycle. Returns the offset for the bytes that follow.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) -> usize {
    let mut k = [0u8; 8];
    for (i, b) in k.iter_mut().enumerate() {
        *b = key[(offset + i) & 3];
    }
    let wide = u64::from_ne_bytes(k);
    let total = buf.len();
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(w) ^ wide).to_ne_bytes());
    }
    let rest = chunks.into_remainder();
    let base = total - rest.len();
    for (i, b) in rest.iter_mut().enumerate() {
        *b ^= key[(offset + base + i) & 3];
    }
    (offset + total) & 3
}

/// The close frame payload: status, then a UTF-8 reason cut (with `...`)
/// to fit a control frame.
pub fn close_payload(status: u16, reason: &str) -> Vec<u8> {
    let mut body = reason;
    let mut ellipsis = "";
    if body.len() > MAX_CONTROL_PAYLOAD - 2 {
        let mut cut = MAX_CONTROL_PAYLOAD - 5;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body = &body[..cut];
        ellipsis = "...";
    }
    let mut out = Vec::with_capacity(2 + body.len() + ellipsis.len());
    out.extend_from_slice(&status.to_be_bytes());
    out.extend_from_slice(body.as_bytes());
    out.extend_from_slice(ellipsis.as_bytes());
    out
}

/// A control frame the connection must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Answer with a pong carrying the same payload.
    Ping(Vec<u8>),
    /// The peer closes: answer with this close payload (empty when the
    /// peer sent no status) and end the connection.
    Close(Vec<u8>),
}

/// The header of the frame being read.
#[derive(Debug, Clone, Copy)]
struct Frame {
    remaining: u64,
    mask: Option<[u8; 4]>,
    mask_pos: usize,
}

/// Incremental frame decoder for one connection.
pub struct Decoder {
    /// Server side: clients must mask (unless they asked for no masking).
    require_mask: bool,
    /// permessage-deflate was negotiated.
    inflater: Option<Decompressor>,
    /// The data frame whose payload is being read.
    frame: Option<Frame>,
    /// A data message has started and its final frame is still to come.
    in_message: bool,
    /// The current message is compressed: its payload is collected here.
    compressed: Option<Vec<u8>>,
    /// Largest compressed message collected.
    max_compressed: usize,
    /// Largest inflated message.
    max_inflated: usize,
    /// A close frame was received: nothing after it is read.
    closed: bool,
}

/// nats-server's limit on a compressed message: 8 × max_payload, at most
/// 64 MiB.
pub fn max_compressed_message(max_payload: usize) -> usize {
    max_payload.saturating_mul(8).min(64 * 1024 * 1024)
}

impl Decoder {
    pub fn new(require_mask: bool, compression: bool, max_payload: usize) -> Self {
        Decoder {
            require_mask,
            inflater: compression.then(Decompressor::new),
            frame: None,
            in_message: false,
            compressed: None,
            max_compressed: max_compressed_message(max_payload),
            max_inflated: max_payload,
            closed: false,
        }
    }

    /// Consume what `raw` holds: data goes to `out` (the NATS stream),
    /// control frames the connection must answer to `controls`. A partial
    /// frame header or control frame stays in `raw` for the next read.
    /// After a close frame nothing more is decoded.
    pub fn decode(
        &mut self,
        raw: &mut BytesMut,
        out: &mut BytesMut,
        controls: &mut Vec<Control>,
    ) -> Result<(), WsError> {
        while !self.closed && !raw.is_empty() {
            match self.frame {
                Some(mut f) => {
                    let n = usize::try_from(f.remaining)
                        .unwrap_or(usize::MAX)
                        .min(raw.len());
                    if let Some(key) = f.mask {
                        f.mask_pos = apply_mask(&mut raw[..n], key, f.mask_pos);
                    }
                    f.remaining -= n as u64;
                    match &mut self.compressed {
                        Some(buf) => {
                            if buf.len() + n > self.max_compressed {
                                return Err(WsError::MaxPayload);
                            }
                            buf.extend_from_slice(&raw[..n]);
                        }
                        None => out.extend_from_slice(&raw[..n]),
                    }
                    raw.advance(n);
                    if f.remaining == 0 {
                        self.frame = None;
                        if !self.in_message {
                            self.finish_message(out)?;
                        }
                    } else {
                        self.frame = Some(f);
                    }
                }
                None => {
                    if !self.header(raw, out, controls)? {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether a close frame was received.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Parse one frame header (and a whole control frame). `Ok(false)`
    /// when `raw` does not hold enough yet.
    fn header(
        &mut self,
        raw: &mut BytesMut,
        out: &mut BytesMut,
        controls: &mut Vec<Control>,
    ) -> Result<bool, WsError> {
        if raw.len() < 2 {
            return Ok(false);
        }
        let b0 = raw[0];
        let b1 = raw[1];
        let op = b0 & 0x0f;
        let fin = b0 & FIN != 0;
        let compressed = b0 & RSV1 != 0;
        if b0 & RSV2_RSV3 != 0 {
            return Err(WsError::protocol("RSV2 and RSV3 must be clear"));
        }
        if compressed && self.inflater.is_none() {
            return Err(WsError::protocol(
                "compressed frame received without negotiated permessage-deflate",
            ));
        }
        let masked = b1 & MASK != 0;
        if self.require_mask && !masked {
            return Err(WsError::protocol("mask bit missing"));
        }
        let is_control = op >= OP_CLOSE;
        let short = u64::from(b1 & 0x7f);
        match op {
            OP_CLOSE | OP_PING | OP_PONG => {
                if short > MAX_CONTROL_PAYLOAD as u64 {
                    return Err(WsError::protocol(format!(
                        "control frame length bigger than maximum allowed of {MAX_CONTROL_PAYLOAD} bytes"
                    )));
                }
                if !fin {
                    return Err(WsError::protocol(
                        "control frame does not have final bit set",
                    ));
                }
                if compressed {
                    return Err(WsError::protocol("control frame must not be compressed"));
                }
            }
            OP_TEXT | OP_BINARY => {
                if self.in_message {
                    return Err(WsError::protocol(
                        "new message started before final frame for previous message was received",
                    ));
                }
            }
            OP_CONTINUATION => {
                if !self.in_message || compressed {
                    return Err(WsError::protocol("invalid continuation frame"));
                }
            }
            _ => return Err(WsError::protocol(format!("unknown opcode {op}"))),
        }
        let (len, mut at) = match short {
            126 => {
                if raw.len() < 4 {
                    return Ok(false);
                }
                (u64::from(u16::from_be_bytes([raw[2], raw[3]])), 4)
            }
            127 => {
                if raw.len() < 10 {
                    return Ok(false);
                }
                let mut b = [0u8; 8];
                b.copy_from_slice(&raw[2..10]);
                let len = u64::from_be_bytes(b);
                if len & (1 << 63) != 0 {
                    return Err(WsError::protocol("invalid 64-bit payload length"));
                }
                (len, 10)
            }
            n => (n, 2),
        };
        let mask = if masked {
            if raw.len() < at + 4 {
                return Ok(false);
            }
            let key = [raw[at], raw[at + 1], raw[at + 2], raw[at + 3]];
            at += 4;
            Some(key)
        } else {
            None
        };
        if is_control {
            // Control frames are small: act on them whole.
            let len = len as usize;
            if raw.len() < at + len {
                return Ok(false);
            }
            raw.advance(at);
            let mut payload = raw.split_to(len).to_vec();
            if let Some(key) = mask {
                apply_mask(&mut payload, key, 0);
            }
            self.control(op, payload, controls)?;
            return Ok(true);
        }
        raw.advance(at);
        if op != OP_CONTINUATION && compressed {
            self.compressed = Some(Vec::new());
        }
        self.in_message = !fin;
        if len == 0 {
            // Nothing to read: an empty final frame still ends a
            // (compressed) message.
            if fin {
                self.finish_message(out)?;
            }
            return Ok(true);
        }
        self.frame = Some(Frame {
            remaining: len,
            mask,
            mask_pos: 0,
        });
        Ok(true)
    }

    fn control(
        &mut self,
        op: u8,
        payload: Vec<u8>,
        controls: &mut Vec<Control>,
    ) -> Result<(), WsError> {
        match op {
            OP_PING => controls.push(Control::Ping(payload)),
            OP_PONG => {}
            _ => {
                self.closed = true;
                controls.push(Control::Close(close_reply(&payload)?));
            }
        }
        Ok(())
    }

    /// The final frame of a message was read: inflate it if compressed.
    fn finish_message(&mut self, out: &mut BytesMut) -> Result<(), WsError> {
        let Some(message) = self.compressed.take() else {
            return Ok(());
        };
        let Some(inflater) = &mut self.inflater else {
            return Ok(());
        };
        let mut plain = Vec::new();
        inflater.decompress(&message, &mut plain, self.max_inflated)?;
        out.extend_from_slice(&plain);
        Ok(())
    }
}

/// What to answer a close frame with: the same status (none when the peer
/// sent none), as nats-server does; a reason that is not UTF-8 turns into
/// status 1007.
fn close_reply(payload: &[u8]) -> Result<Vec<u8>, WsError> {
    match payload.len() {
        0 => Ok(Vec::new()),
        1 => Err(WsError::protocol("close frame payload cannot be 1 byte")),
        _ => {
            let status = u16::from_be_bytes([payload[0], payload[1]]);
            if !valid_close_status(status) {
                return Err(WsError::protocol(format!(
                    "invalid close status code {status}"
                )));
            }
            match std::str::from_utf8(&payload[2..]) {
                Ok(body) => Ok(close_payload(status, body)),
                Err(_) => Ok(close_payload(
                    CLOSE_INVALID_PAYLOAD,
                    "invalid utf8 body in close frame",
                )),
            }
        }
    }
}

/// Status codes a peer may send (RFC 6455 section 7.4).
fn valid_close_status(code: u16) -> bool {
    !matches!(code, CLOSE_NO_STATUS | 1004 | 1006 | 1015)
        && (1000..5000).contains(&code)
        && !(1016..=2999).contains(&code)
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
