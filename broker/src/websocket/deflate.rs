//! permessage-deflate (RFC 7692) with no context takeover in either
//! direction, which is what nats-server negotiates: every message is a
//! fresh raw-deflate stream ended by a sync flush, sent without its
//! `00 00 ff ff` tail; the receiver puts the tail back before inflating.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::error::WsError;

/// The empty stored block a sync flush ends with; RFC 7692 strips it on
/// the wire.
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Output is grown in steps of at least this much.
const CHUNK: usize = 16 * 1024;

/// Compresses one message at a time (no context kept between messages).
pub struct Compressor {
    inner: Compress,
}

impl Default for Compressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Compressor {
    pub fn new() -> Self {
        // nats-server compresses with its fastest level: the point is fewer
        // bytes on slow links, not the best ratio at the cost of CPU.
        Compressor {
            inner: Compress::new(Compression::fast(), false),
        }
    }

    /// Append the compressed form of `input` to `out`, without the tail.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), WsError> {
        self.inner.reset();
        let start_out = out.len();
        loop {
            let consumed = self.inner.total_in() as usize;
            out.reserve(CHUNK.max(input.len().saturating_sub(consumed) / 2 + 64));
            self.inner
                .compress_vec(&input[consumed..], out, FlushCompress::Sync)
                .map_err(|e| WsError::Deflate(e.to_string()))?;
            // A sync flush is complete once all input is taken and the
            // output buffer was not filled to the brim.
            if self.inner.total_in() as usize == input.len() && out.len() < out.capacity() {
                break;
            }
        }
        if out.len() >= start_out + TAIL.len() && out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        Ok(())
    }
}

/// Inflates one message at a time.
pub struct Decompressor {
    inner: Decompress,
}

impl Default for Decompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Decompressor {
    pub fn new() -> Self {
        Decompressor {
            inner: Decompress::new(false),
        }
    }

    /// Inflate one message (as received, without the tail) and append it
    /// to `out`. More than `limit` inflated bytes is an error: a small
    /// compressed message must not be able to blow up memory.
    pub fn decompress(
        &mut self,
        message: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), WsError> {
        self.inner.reset(false);
        let start_out = out.len();
        let result = self.inflate(message, out, start_out, limit, FlushDecompress::None);
        let result =
            result.and_then(|_| self.inflate(&TAIL, out, start_out, limit, FlushDecompress::Sync));
        if result.is_err() {
            out.truncate(start_out);
        }
        result
    }

    fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        start_out: usize,
        limit: usize,
        flush: FlushDecompress,
    ) -> Result<(), WsError> {
        let base_in = self.inner.total_in() as usize;
        loop {
            let consumed = self.inner.total_in() as usize - base_in;
            let produced = out.len() - start_out;
            if produced > limit {
                return Err(WsError::MaxPayload);
            }
            // Never offer more room than the limit allows (plus one byte to
            // see that it was passed).
            let room = (limit + 1 - produced).min(CHUNK.max(input.len() * 2));
            out.reserve(room);
            let status = self
                .inner
                .decompress_vec(&input[consumed..], out, flush)
                .map_err(|e| WsError::Deflate(e.to_string()))?;
            let consumed = self.inner.total_in() as usize - base_in;
            let full = out.len() == out.capacity();
            if out.len() - start_out > limit {
                return Err(WsError::MaxPayload);
            }
            if status == Status::StreamEnd || (consumed == input.len() && !full) {
                return Ok(());
            }
            if status == Status::BufError && !full && consumed == input.len() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_without_tail() {
        let text = b"PUB greeting 11\r\nhello world\r\n".repeat(50);
        let mut c = Compressor::new();
        let mut wire = Vec::new();
        c.compress(&text, &mut wire).unwrap();
        assert!(!wire.ends_with(&TAIL), "the tail is stripped");
        assert!(wire.len() < text.len() / 4, "{} bytes", wire.len());
        let mut d = Decompressor::new();
        let mut out = Vec::new();
        d.decompress(&wire, &mut out, 1 << 20).unwrap();
        assert_eq!(out, text);
        // No context takeover: the same compressor makes the same bytes again.
        let mut again = Vec::new();
        c.compress(&text, &mut again).unwrap();
        assert_eq!(again, wire);
        let mut out2 = Vec::new();
        d.decompress(&again, &mut out2, 1 << 20).unwrap();
        assert_eq!(out2, text);
    }

    #[test]
    fn large_and_empty_messages() {
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut wire = Vec::new();
        Compressor::new().compress(&big, &mut wire).unwrap();
        let mut out = Vec::new();
        Decompressor::new()
            .decompress(&wire, &mut out, big.len())
            .unwrap();
        assert_eq!(out, big);
        let mut empty = Vec::new();
        Compressor::new().compress(b"", &mut empty).unwrap();
        let mut out = Vec::new();
        Decompressor::new()
            .decompress(&empty, &mut out, 10)
            .unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn inflating_past_the_limit_is_refused() {
        let zeros = vec![0u8; 1 << 20];
        let mut wire = Vec::new();
        Compressor::new().compress(&zeros, &mut wire).unwrap();
        assert!(wire.len() < 10_000);
        let mut out = Vec::new();
        let err = Decompressor::new().decompress(&wire, &mut out, 64 * 1024);
        assert_eq!(err, Err(WsError::MaxPayload));
        assert!(out.is_empty());
    }

    #[test]
    fn garbage_is_an_error() {
        let mut out = Vec::new();
        let err = Decompressor::new().decompress(&[0xff; 32], &mut out, 1 << 20);
        assert!(matches!(err, Err(WsError::Deflate(_))), "{err:?}");
    }
}
