//! Encoding what goes out on a leaf connection: `LMSG`/`HMSG` with the
//! queue groups this server picked the remote for, and `LS+`/`LS-`.

use bytes::{BufMut, BytesMut};

use crate::protocol::encode::{put_decimal, put_sizes_and_body, Delivery};

/// Append `LMSG subject [reply] size` — or, when the remote was chosen for
/// queue groups, `LMSG subject + reply q1 q2 size` / `LMSG subject | q1
/// size` — then the payload. `HMSG` carries headers when the remote
/// understands them; otherwise they are dropped, as nats-server does.
pub fn write_lmsg(out: &mut BytesMut, msg: &Delivery<'_>, queues: &[&[u8]], remote_headers: bool) {
    let headers = if remote_headers { msg.headers } else { None };
    out.reserve(msg.encoded_len_hint(queues.iter().map(|q| q.len() + 1).sum::<usize>() + 2));
    out.put_slice(if headers.is_some() {
        b"HMSG "
    } else {
        b"LMSG "
    });
    out.put_slice(msg.subject);
    out.put_u8(b' ');
    if !queues.is_empty() {
        match msg.reply {
            Some(reply) => {
                out.put_slice(b"+ ");
                out.put_slice(reply);
                out.put_u8(b' ');
            }
            None => out.put_slice(b"| "),
        }
        for q in queues {
            out.put_slice(q);
            out.put_u8(b' ');
        }
    } else if let Some(reply) = msg.reply {
        out.put_slice(reply);
        out.put_u8(b' ');
    }
    put_sizes_and_body(out, headers, msg.payload);
}

/// Append the interest update for `key` (`subject` or `subject queue`)
/// now that `count` local subscriptions back it: `LS+` (with the queue
/// weight for queue interest) or, at zero, `LS-`.
pub fn write_interest(out: &mut BytesMut, key: &[u8], count: u32, is_queue: bool) {
    if count == 0 {
        out.put_slice(b"LS- ");
        out.put_slice(key);
    } else {
        out.put_slice(b"LS+ ");
        out.put_slice(key);
        if is_queue {
            out.put_u8(b' ');
            put_decimal(out, count as usize);
        }
    }
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lmsg(
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        queues: &[&[u8]],
        hdr_ok: bool,
    ) -> String {
        let mut out = BytesMut::new();
        let msg = Delivery {
            subject: b"a.b",
            reply,
            headers,
            payload: b"hi",
        };
        write_lmsg(&mut out, &msg, queues, hdr_ok);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn every_shape() {
        assert_eq!(lmsg(None, None, &[], true), "LMSG a.b 2\r\nhi\r\n");
        assert_eq!(lmsg(Some(b"r"), None, &[], true), "LMSG a.b r 2\r\nhi\r\n");
        assert_eq!(
            lmsg(Some(b"r"), None, &[b"q1", b"q2"], true),
            "LMSG a.b + r q1 q2 2\r\nhi\r\n"
        );
        assert_eq!(lmsg(None, None, &[b"q"], true), "LMSG a.b | q 2\r\nhi\r\n");
        let h: &[u8] = b"NATS/1.0\r\n\r\n";
        assert_eq!(
            lmsg(None, Some(h), &[], true),
            "HMSG a.b 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
        );
        assert_eq!(lmsg(None, Some(h), &[], false), "LMSG a.b 2\r\nhi\r\n");
    }

    #[test]
    fn interest() {
        let mut out = BytesMut::new();
        write_interest(&mut out, b"foo", 1, false);
        write_interest(&mut out, b"foo q", 3, true);
        write_interest(&mut out, b"foo q", 0, true);
        assert_eq!(&out[..], b"LS+ foo\r\nLS+ foo q 3\r\nLS- foo q\r\n");
    }
}
