//! Incremental parser for the client protocol.
//!
//! [`parse_op`] looks at the front of the read buffer and either returns one
//! complete operation (borrowing the buffer) and how many bytes it used, or
//! says how many bytes it still needs. The connection calls it in a loop over
//! everything it has read and advances the buffer once per batch, so a full
//! buffer of small PUBs costs no allocation and no copy until delivery.

use memchr::memchr;

use super::error::ProtocolError;
use super::op::ClientOp;

/// Limits the parser enforces while reading.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_control_line: usize,
    pub max_payload: usize,
}

/// The outcome of looking at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A complete operation that used `len` bytes.
    Op(ClientOp<'a>, usize),
    /// More bytes are needed; at least `min_len` in total (a hint for sizing
    /// the read buffer).
    Incomplete { min_len: usize },
}

/// Parse one operation from the front of `buf`.
pub fn parse_op<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, ProtocolError> {
    let Some(nl) = memchr(b'\n', buf) else {
        // Checked against the limit before the line is complete, so a peer
        // cannot make us buffer an endless control line.
        check_known_prefix(buf)?;
        let partial = buf.strip_suffix(b"\r").unwrap_or(buf);
        if split_op(partial).1.len() > limits.max_control_line {
            return Err(ProtocolError::MaxControlLine);
        }
        return Ok(Parsed::Incomplete {
            min_len: buf.len() + 1,
        });
    };
    let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let line = &buf[..line_end];
    let after = nl + 1;
    let (op, args) = split_op(line);
    // Like nats-server, operations that take arguments must have a
    // separator after their name: a bare `PUB` is not a PUB.
    if takes_arguments(op) && op.len() == line.len() {
        return Err(ProtocolError::UnknownOperation);
    }

    match op.len() {
        3 if op.eq_ignore_ascii_case(b"PUB") => {
            check_control_line(args, limits)?;
            parse_pub(buf, args, after, limits)
        }
        4 if op.eq_ignore_ascii_case(b"HPUB") => {
            check_control_line(args, limits)?;
            parse_hpub(buf, args, after, limits)
        }
        3 if op.eq_ignore_ascii_case(b"SUB") => {
            check_control_line(args, limits)?;
            let parts = split_args::<3>(args);
            let op = match parts.as_slice() {
                [subject, sid] => ClientOp::Sub {
                    subject,
                    queue: None,
                    sid,
                },
                [subject, queue, sid] => ClientOp::Sub {
                    subject,
                    queue: Some(queue),
                    sid,
                },
                _ => return Err(bad_args("processSub", args)),
            };
            Ok(Parsed::Op(op, after))
        }
        5 if op.eq_ignore_ascii_case(b"UNSUB") => {
            check_control_line(args, limits)?;
            let parts = split_args::<2>(args);
            let op = match parts.as_slice() {
                [sid] => ClientOp::Unsub { sid, max: None },
                // nats-server treats an unparsable count like 0: unsubscribe now.
                [sid, max] => ClientOp::Unsub {
                    sid,
                    max: Some(parse_size(max).unwrap_or(0) as u64),
                },
                _ => return Err(bad_args("processUnsub", args)),
            };
            Ok(Parsed::Op(op, after))
        }
        4 if op.eq_ignore_ascii_case(b"PING") => Ok(Parsed::Op(ClientOp::Ping, after)),
        4 if op.eq_ignore_ascii_case(b"PONG") => Ok(Parsed::Op(ClientOp::Pong, after)),
        7 if op.eq_ignore_ascii_case(b"CONNECT") => {
            check_control_line(args, limits)?;
            Ok(Parsed::Op(ClientOp::Connect(trim(args)), after))
        }
        4 if op.eq_ignore_ascii_case(b"INFO") => Ok(Parsed::Op(ClientOp::Info, after)),
        3 if op.eq_ignore_ascii_case(b"+OK") => Ok(Parsed::Op(ClientOp::Ok, after)),
        4 if op.eq_ignore_ascii_case(b"-ERR") => Ok(Parsed::Op(ClientOp::Err(trim(args)), after)),
        _ => Err(ProtocolError::UnknownOperation),
    }
}

/// Reject garbage early, before a newline arrives: a buffer whose first
/// bytes cannot start any operation is an unknown operation now, not after
/// `max_control_line` bytes.
fn check_known_prefix(buf: &[u8]) -> Result<(), ProtocolError> {
    const OPS: [&[u8]; 10] = [
        b"PUB", b"HPUB", b"SUB", b"UNSUB", b"PING", b"PONG", b"CONNECT", b"INFO", b"+OK", b"-ERR",
    ];
    let n = buf.len().min(7);
    if n == 0 {
        return Ok(());
    }
    let head = &buf[..n];
    let plausible = OPS.iter().any(|op| {
        let m = op.len().min(n);
        op[..m].eq_ignore_ascii_case(&head[..m])
            && (n <= op.len() || matches!(head[op.len()], b' ' | b'\t' | b'\r'))
    });
    if plausible {
        Ok(())
    } else {
        Err(ProtocolError::UnknownOperation)
    }
}

/// nats-server measures the arguments of a control line (after the
/// operation name and its separator, without CRLF) against the limit.
fn check_control_line(args: &[u8], limits: &Limits) -> Result<(), ProtocolError> {
    if args.len() > limits.max_control_line {
        Err(ProtocolError::MaxControlLine)
    } else {
        Ok(())
    }
}

fn parse_pub<'a>(
    buf: &'a [u8],
    args: &'a [u8],
    after: usize,
    limits: &Limits,
) -> Result<Parsed<'a>, ProtocolError> {
    let parts = split_args::<3>(args);
    let (subject, reply, size) = match parts.as_slice() {
        [s, n] => (*s, None, *n),
        [s, r, n] => (*s, Some(*r), *n),
        _ => return Err(bad_args("processPub", args)),
    };
    let size = parse_size(size).ok_or_else(|| bad_args("processPub", args))?;
    if size > limits.max_payload {
        return Err(ProtocolError::MaxPayload {
            size,
            max: limits.max_payload,
        });
    }
    let Some(payload) = take_payload(buf, after, size)? else {
        return Ok(Parsed::Incomplete {
            min_len: after + size + 2,
        });
    };
    Ok(Parsed::Op(
        ClientOp::Pub {
            subject,
            reply,
            headers: None,
            payload,
        },
        after + size + 2,
    ))
}

fn parse_hpub<'a>(
    buf: &'a [u8],
    args: &'a [u8],
    after: usize,
    limits: &Limits,
) -> Result<Parsed<'a>, ProtocolError> {
    let parts = split_args::<4>(args);
    let (subject, reply, hdr, total) = match parts.as_slice() {
        [s, h, t] => (*s, None, *h, *t),
        [s, r, h, t] => (*s, Some(*r), *h, *t),
        _ => return Err(bad_args("processHeaderPub", args)),
    };
    let hdr = parse_size(hdr).ok_or_else(|| bad_args("processHeaderPub", args))?;
    let total = parse_size(total).ok_or_else(|| bad_args("processHeaderPub", args))?;
    if hdr > total {
        return Err(bad_args("processHeaderPub", args));
    }
    if total > limits.max_payload {
        return Err(ProtocolError::MaxPayload {
            size: total,
            max: limits.max_payload,
        });
    }
    let Some(all) = take_payload(buf, after, total)? else {
        return Ok(Parsed::Incomplete {
            min_len: after + total + 2,
        });
    };
    let (headers, payload) = all.split_at(hdr);
    // An empty header block is no headers at all (delivered as MSG).
    let headers = (hdr > 0).then_some(headers);
    Ok(Parsed::Op(
        ClientOp::Pub {
            subject,
            reply,
            headers,
            payload,
        },
        after + total + 2,
    ))
}

/// The `size` bytes after the control line, if they and their CRLF are all
/// in the buffer. Anything but CRLF after the payload is a framing error.
pub(crate) fn take_payload(
    buf: &[u8],
    start: usize,
    size: usize,
) -> Result<Option<&[u8]>, ProtocolError> {
    let end = start + size;
    if buf.len() < end + 2 {
        // The terminator may already be partly visible and wrong.
        if buf.len() > end && buf[end] != b'\r' {
            return Err(ProtocolError::UnknownOperation);
        }
        return Ok(None);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(ProtocolError::UnknownOperation);
    }
    Ok(Some(&buf[start..end]))
}

fn takes_arguments(op: &[u8]) -> bool {
    [&b"PUB"[..], b"HPUB", b"SUB", b"UNSUB"]
        .iter()
        .any(|name| name.eq_ignore_ascii_case(op))
}

/// Split a control line into the operation name and the rest.
pub(crate) fn split_op(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|b| *b == b' ' || *b == b'\t') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &[]),
    }
}

pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &s[start..end]
}

/// Whitespace-separated arguments, at most `N`; one more than `N` is kept as
/// an overflow marker so callers can reject too many arguments.
fn split_args<const N: usize>(args: &[u8]) -> ArgVec<'_, N> {
    let mut out = ArgVec::default();
    for part in args
        .split(|b| matches!(b, b' ' | b'\t' | b'\r'))
        .filter(|p| !p.is_empty())
    {
        if !out.push(part) {
            break;
        }
    }
    out
}

/// A fixed-capacity argument list (no allocation on the hot path).
struct ArgVec<'a, const N: usize> {
    items: [&'a [u8]; 5],
    len: usize,
}

impl<const N: usize> Default for ArgVec<'_, N> {
    fn default() -> Self {
        ArgVec {
            items: [&[]; 5],
            len: 0,
        }
    }
}

impl<'a, const N: usize> ArgVec<'a, N> {
    /// Returns false once more than `N` arguments were seen.
    fn push(&mut self, item: &'a [u8]) -> bool {
        if self.len > N {
            return false;
        }
        self.items[self.len] = item;
        self.len += 1;
        self.len <= N
    }

    fn as_slice(&self) -> &[&'a [u8]] {
        &self.items[..self.len]
    }
}

/// A non-negative decimal size; `None` for anything else or overflow.
pub fn parse_size(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 18 {
        return None;
    }
    let mut n: usize = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (b - b'0') as usize;
    }
    Some(n)
}

fn bad_args(op: &'static str, args: &[u8]) -> ProtocolError {
    ProtocolError::BadArguments {
        op,
        arg: String::from_utf8_lossy(args).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_control_line: 4096,
        max_payload: 1024,
    };

    fn op(buf: &[u8]) -> ClientOp<'_> {
        match parse_op(buf, &LIMITS) {
            Ok(Parsed::Op(op, len)) => {
                assert_eq!(len, buf.len(), "whole buffer consumed");
                op
            }
            other => panic!("expected an op from {buf:?}, got {other:?}"),
        }
    }

    #[test]
    fn pub_with_and_without_reply() {
        assert_eq!(
            op(b"PUB foo 5\r\nhello\r\n"),
            ClientOp::Pub {
                subject: b"foo",
                reply: None,
                headers: None,
                payload: b"hello"
            }
        );
        assert_eq!(
            op(b"pub foo  bar\t3\r\nabc\r\n"),
            ClientOp::Pub {
                subject: b"foo",
                reply: Some(b"bar"),
                headers: None,
                payload: b"abc"
            }
        );
    }

    #[test]
    fn hpub_splits_headers() {
        let buf = b"HPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
        assert_eq!(
            op(buf),
            ClientOp::Pub {
                subject: b"foo",
                reply: Some(b"r"),
                headers: Some(b"NATS/1.0\r\n\r\n"),
                payload: b"hi"
            }
        );
    }

    #[test]
    fn sub_unsub_ping_pong_connect() {
        assert_eq!(
            op(b"SUB foo.* q 1\r\n"),
            ClientOp::Sub {
                subject: b"foo.*",
                queue: Some(b"q"),
                sid: b"1"
            }
        );
        assert_eq!(
            op(b"UNSUB 1 5\r\n"),
            ClientOp::Unsub {
                sid: b"1",
                max: Some(5)
            }
        );
        assert_eq!(op(b"PING\r\n"), ClientOp::Ping);
        assert_eq!(op(b"pong\n"), ClientOp::Pong);
        assert_eq!(
            op(b"CONNECT {\"verbose\":false}\r\n"),
            ClientOp::Connect(b"{\"verbose\":false}")
        );
    }

    #[test]
    fn incomplete_input_asks_for_more() {
        for partial in [
            &b"PU"[..],
            b"PUB foo 5\r\nhel",
            b"PUB foo 5\r\nhello",
            b"PUB foo 5\r\nhello\r",
            b"SUB foo 1",
        ] {
            assert!(
                matches!(parse_op(partial, &LIMITS), Ok(Parsed::Incomplete { .. })),
                "{partial:?}"
            );
        }
    }

    #[test]
    fn errors() {
        let err = |b: &[u8]| parse_op(b, &LIMITS).unwrap_err();
        assert_eq!(err(b"FOO bar\r\n"), ProtocolError::UnknownOperation);
        assert_eq!(err(b"XYZ"), ProtocolError::UnknownOperation);
        assert_eq!(
            err(b"PUB foo 2\r\nabc\r\n"),
            ProtocolError::UnknownOperation
        );
        assert!(matches!(
            err(b"PUB foo 2000\r\n"),
            ProtocolError::MaxPayload { size: 2000, .. }
        ));
        assert!(matches!(
            err(b"PUB foo\r\n"),
            ProtocolError::BadArguments { .. }
        ));
        assert!(matches!(
            err(b"PUB foo bar baz 1\r\n"),
            ProtocolError::BadArguments { .. }
        ));
        assert!(matches!(
            err(b"PUB foo -1\r\n"),
            ProtocolError::BadArguments { .. }
        ));
        assert!(matches!(
            err(b"SUB foo\r\n"),
            ProtocolError::BadArguments { .. }
        ));
        assert!(matches!(
            err(b"HPUB foo 10 5\r\n"),
            ProtocolError::BadArguments { .. }
        ));
        let long = vec![b'P'; 5000];
        assert_eq!(err(&long), ProtocolError::UnknownOperation);
        let mut long_sub = b"SUB ".to_vec();
        long_sub.extend(std::iter::repeat_n(b'a', 5000));
        assert_eq!(err(&long_sub), ProtocolError::MaxControlLine);
    }
}
