//! The write side of one WebSocket connection: wraps the NATS bytes a
//! flush takes from the outbound buffer into binary frames, compressed
//! when negotiated, in a wire buffer that survives partial non-blocking
//! writes. Lives inside the connection's outbound state, under its lock.

use bytes::BytesMut;

use super::deflate::Compressor;
use super::frame::{self, OP_BINARY, OP_CLOSE, OP_CONTINUATION};

/// nats-server sends browsers frames of at most 4 KiB: browsers were found
/// to cope better with them.
const BROWSER_FRAME_SIZE: usize = 4096;

/// Batches this small are not worth compressing (nats-server's threshold).
const COMPRESS_THRESHOLD: usize = 64;

pub struct WsWriter {
    /// Framed bytes not yet written to the socket.
    pub wire: BytesMut,
    compressor: Option<Compressor>,
    /// Largest frame payload; 0 for no limit.
    max_frame: usize,
    /// Safari cannot take fragmented compressed messages.
    no_compressed_fragments: bool,
    close_sent: bool,
    /// Client side (a future `ws://` leaf-node remote): every frame is
    /// masked with a fresh random key, as RFC 6455 requires of clients.
    mask: bool,
    scratch: Vec<u8>,
}

impl WsWriter {
    /// `browser`: the client's User-Agent starts with `Mozilla/`;
    /// `safari`: it looks like Safari (which cannot reassemble compressed
    /// fragments).
    pub fn new(compress: bool, browser: bool, safari: bool) -> Self {
        WsWriter {
            wire: BytesMut::new(),
            compressor: compress.then(Compressor::new),
            max_frame: if browser { BROWSER_FRAME_SIZE } else { 0 },
            no_compressed_fragments: compress && safari,
            close_sent: false,
            mask: false,
            scratch: Vec::new(),
        }
    }

    /// The write side of a client connection: masked frames, no frame
    /// size limit.
    pub fn client(compress: bool) -> Self {
        WsWriter {
            mask: true,
            ..WsWriter::new(compress, false, false)
        }
    }

    /// Move everything in `pending` into frames at the end of the wire
    /// buffer.
    pub fn frame(&mut self, pending: &mut BytesMut) {
        if pending.is_empty() {
            return;
        }
        if self.close_sent {
            // Nothing may follow a close frame; what other connections
            // delivered meanwhile is dropped with the connection.
            pending.clear();
            return;
        }
        if pending.len() > COMPRESS_THRESHOLD {
            if let Some(c) = &mut self.compressor {
                self.scratch.clear();
                if c.compress(pending, &mut self.scratch).is_ok() {
                    let max = if self.no_compressed_fragments {
                        0
                    } else {
                        self.max_frame
                    };
                    fragments(&mut self.wire, &self.scratch, max, self.mask);
                    pending.clear();
                    if self.scratch.capacity() > 256 * 1024 {
                        self.scratch = Vec::new();
                    }
                    return;
                }
                // Compression cannot fail on a valid stream; should it, the
                // bytes go out uncompressed, which the client reads as well.
                tracing::warn!("websocket compression failed; sending uncompressed");
            }
        }
        if self.max_frame > 0 && pending.len() > self.max_frame {
            // Each chunk is a message of its own: NATS is a byte stream.
            for chunk in pending.chunks(self.max_frame) {
                put(&mut self.wire, self.mask, OP_BINARY, true, false, chunk);
            }
        } else {
            put(&mut self.wire, self.mask, OP_BINARY, true, false, pending);
        }
        pending.clear();
    }

    /// Queue a ping or pong (never compressed).
    pub fn control(&mut self, op: u8, payload: &[u8]) {
        let n = payload.len().min(frame::MAX_CONTROL_PAYLOAD);
        put(&mut self.wire, self.mask, op, true, false, &payload[..n]);
    }

    /// Queue the close frame (only the first call does anything): after
    /// it, nothing more may be sent.
    pub fn close(&mut self, payload: &[u8]) {
        if self.close_sent {
            return;
        }
        self.close_sent = true;
        let n = payload.len().min(frame::MAX_CONTROL_PAYLOAD);
        put(
            &mut self.wire,
            self.mask,
            OP_CLOSE,
            true,
            false,
            &payload[..n],
        );
    }

    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.wire.len()
    }
}

/// Append one frame, masked with a random key when `mask` (client side).
fn put(wire: &mut BytesMut, mask: bool, op: u8, fin: bool, compressed: bool, payload: &[u8]) {
    wire.reserve(payload.len() + 14);
    if mask {
        let key: [u8; 4] = rand::random();
        frame::write_header(wire, op, fin, compressed, payload.len(), Some(key));
        let start = wire.len();
        wire.extend_from_slice(payload);
        frame::apply_mask(&mut wire[start..], key, 0);
    } else {
        frame::write_header(wire, op, fin, compressed, payload.len(), None);
        wire.extend_from_slice(payload);
    }
}

/// One compressed message as frames of at most `max` payload bytes (0: one
/// frame). Only the first frame carries the compressed bit.
fn fragments(wire: &mut BytesMut, payload: &[u8], max: usize, mask: bool) {
    if max == 0 || payload.len() <= max {
        put(wire, mask, OP_BINARY, true, true, payload);
        return;
    }
    let count = payload.len().div_ceil(max);
    for (i, chunk) in payload.chunks(max).enumerate() {
        let (op, compressed) = if i == 0 {
            (OP_BINARY, true)
        } else {
            (OP_CONTINUATION, false)
        };
        put(wire, mask, op, i + 1 == count, compressed, chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::frame::{Control, Decoder, OP_PONG};

    fn read_back(w: &WsWriter, compress: bool) -> (Vec<u8>, Vec<Control>) {
        let mut raw = w.wire.clone();
        let mut out = BytesMut::new();
        let mut controls = Vec::new();
        Decoder::new(w.mask, compress, 1 << 24)
            .decode(&mut raw, &mut out, &mut controls)
            .unwrap();
        assert!(raw.is_empty());
        (out.to_vec(), controls)
    }

    #[test]
    fn one_frame_per_flush() {
        let mut w = WsWriter::new(false, false, false);
        let mut pending = BytesMut::from(&b"MSG a 1 2\r\nhi\r\n"[..]);
        w.frame(&mut pending);
        assert!(pending.is_empty());
        assert_eq!(w.wire[0], 0x82);
        assert_eq!(read_back(&w, false).0, b"MSG a 1 2\r\nhi\r\n");
    }

    #[test]
    fn browsers_get_small_frames() {
        let mut w = WsWriter::new(false, true, false);
        let data = vec![b'x'; 10_000];
        w.frame(&mut BytesMut::from(&data[..]));
        assert_eq!(w.wire.len(), 10_000 + 3 * 4);
        assert_eq!(read_back(&w, false).0, data);
        let mut w = WsWriter::new(true, true, false);
        let data = b"MSG a 1 5\r\nhello\r\n".repeat(2000);
        w.frame(&mut BytesMut::from(&data[..]));
        assert_ne!(w.wire[0] & 0x40, 0, "compressed");
        assert_eq!(read_back(&w, true).0, data);
    }

    #[test]
    fn compression_above_the_threshold_only() {
        let mut w = WsWriter::new(true, false, false);
        w.frame(&mut BytesMut::from(&b"PONG\r\n"[..]));
        assert_eq!(w.wire[0], 0x82, "small: not compressed");
        let data = b"MSG a 1 5\r\nhello\r\n".repeat(100);
        let before = w.wire.len();
        w.frame(&mut BytesMut::from(&data[..]));
        assert_eq!(w.wire[before], 0xC2, "compressed bit set");
        assert!(w.wire.len() - before < data.len() / 4);
        let mut want = b"PONG\r\n".to_vec();
        want.extend_from_slice(&data);
        assert_eq!(read_back(&w, true).0, want);
    }

    #[test]
    fn client_side_frames_are_masked() {
        let mut w = WsWriter::client(false);
        w.frame(&mut BytesMut::from(&b"PUB a 2\r\nhi\r\n"[..]));
        w.control(frame::OP_PING, b"p");
        assert_ne!(w.wire[1] & 0x80, 0, "mask bit");
        let (data, controls) = read_back(&w, false);
        assert_eq!(data, b"PUB a 2\r\nhi\r\n");
        assert_eq!(controls, vec![Control::Ping(b"p".to_vec())]);
        let mut w = WsWriter::client(true);
        let text = b"PUB a 5\r\nhello\r\n".repeat(40);
        w.frame(&mut BytesMut::from(&text[..]));
        assert_eq!(read_back(&w, true).0, text);
    }

    #[test]
    fn control_and_close() {
        let mut w = WsWriter::new(false, false, false);
        w.control(OP_PONG, b"abc");
        w.close(&frame::close_payload(1000, "Client Closed"));
        w.close(&frame::close_payload(1001, "again"));
        assert!(w.close_sent());
        let before = w.wire.len();
        w.frame(&mut BytesMut::from(&b"MSG late 1 0\r\n\r\n"[..]));
        assert_eq!(w.wire.len(), before, "nothing after the close");
        let (_, controls) = read_back(&w, false);
        assert_eq!(
            controls,
            vec![Control::Close(frame::close_payload(1000, "Client Closed"))]
        );
    }
}
