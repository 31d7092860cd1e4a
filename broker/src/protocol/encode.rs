//! Encoding what the server sends: `MSG`/`HMSG` frames written straight into
//! a receiver's outbound buffer, and the small fixed control lines.

use bytes::{BufMut, BytesMut};

pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";
pub const OK: &[u8] = b"+OK\r\n";

/// The parts of a message as delivered to one subscription.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    pub headers: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

impl Delivery<'_> {
    /// Bytes this frame will take for a subscription id of `sid_len` bytes
    /// (an upper bound: lengths are counted at 20 digits).
    pub fn encoded_len_hint(&self, sid_len: usize) -> usize {
        let hdr = self.headers.map_or(0, |h| h.len() + 21);
        9 + self.subject.len()
            + sid_len
            + self.reply.map_or(0, |r| r.len() + 1)
            + 20
            + hdr
            + self.payload.len()
            + 2
    }
}

/// Append `MSG subject sid [reply] size\r\npayload\r\n` (or the `HMSG` form
/// when the message has headers and the receiver understands them).
pub fn write_msg(out: &mut BytesMut, msg: &Delivery<'_>, sid: &[u8], receiver_headers: bool) {
    out.reserve(msg.encoded_len_hint(sid.len()));
    let headers = if receiver_headers { msg.headers } else { None };
    match headers {
        Some(_) => out.put_slice(b"HMSG "),
        None => out.put_slice(b"MSG "),
    }
    out.put_slice(msg.subject);
    out.put_u8(b' ');
    out.put_slice(sid);
    out.put_u8(b' ');
    if let Some(reply) = msg.reply {
        out.put_slice(reply);
        out.put_u8(b' ');
    }
    put_sizes_and_body(out, headers, msg.payload);
}

/// The end of a message frame: `[hdr_size ]total_size\r\n`, the header
/// block, the payload and CRLF (shared by `MSG`/`HMSG` and the leaf
/// `LMSG`/`HMSG`).
#[inline]
pub fn put_sizes_and_body(out: &mut BytesMut, headers: Option<&[u8]>, payload: &[u8]) {
    match headers {
        Some(h) => {
            put_decimal(out, h.len());
            out.put_u8(b' ');
            put_decimal(out, h.len() + payload.len());
            out.put_slice(b"\r\n");
            out.put_slice(h);
        }
        None => {
            put_decimal(out, payload.len());
            out.put_slice(b"\r\n");
        }
    }
    out.put_slice(payload);
    out.put_slice(b"\r\n");
}

/// Append `-ERR 'text'\r\n`.
pub fn write_err(out: &mut BytesMut, text: &str) {
    out.reserve(text.len() + 9);
    out.put_slice(b"-ERR '");
    out.put_slice(text.as_bytes());
    out.put_slice(b"'\r\n");
}

/// Decimal formatting without going through `fmt` (hot path).
pub fn put_decimal(out: &mut BytesMut, mut n: usize) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_and_hmsg() {
        let mut out = BytesMut::new();
        let d = Delivery {
            subject: b"foo",
            reply: Some(b"_INBOX.1"),
            headers: None,
            payload: b"hello",
        };
        write_msg(&mut out, &d, b"9", true);
        assert_eq!(&out[..], b"MSG foo 9 _INBOX.1 5\r\nhello\r\n");
        out.clear();
        let h = Delivery {
            headers: Some(b"NATS/1.0\r\n\r\n"),
            reply: None,
            ..d
        };
        write_msg(&mut out, &h, b"1", true);
        assert_eq!(&out[..], b"HMSG foo 1 12 17\r\nNATS/1.0\r\n\r\nhello\r\n");
        out.clear();
        write_msg(&mut out, &h, b"1", false);
        assert_eq!(&out[..], b"MSG foo 1 5\r\nhello\r\n");
    }

    #[test]
    fn decimals() {
        for n in [0usize, 7, 10, 1234567890] {
            let mut out = BytesMut::new();
            put_decimal(&mut out, n);
            assert_eq!(&out[..], n.to_string().as_bytes());
        }
    }
}
