//! Incremental parser for the leaf-node protocol: what a hub or a leaf
//! sends over a leaf connection (`INFO`, `CONNECT`, `LS+`, `LS-`, `LMSG`,
//! `HMSG`, `PING`, `PONG`, `+OK`, `-ERR`). Like the client parser it
//! borrows everything from the read buffer.

use memchr::memchr;

use crate::protocol::parser::{parse_size, split_op, take_payload, trim};
use crate::protocol::{Limits, ProtocolError};

/// One leaf-protocol operation.
#[derive(Debug, PartialEq, Eq)]
pub enum LeafOp<'a> {
    Info(&'a [u8]),
    Connect(&'a [u8]),
    /// `LS+ subject` or `LS+ subject queue weight`. `key` is
    /// `subject[ queue]`, the name `LS-` uses for the same interest.
    Sub {
        key: &'a [u8],
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
        weight: u32,
    },
    /// `LS- subject[ queue]`.
    Unsub {
        key: &'a [u8],
    },
    /// `LMSG` / `HMSG`. `queues` is the space-separated list of queue
    /// groups the sender chose this server for (empty: none).
    Msg {
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        queues: &'a [u8],
        headers: Option<&'a [u8]>,
        payload: &'a [u8],
    },
    Ping,
    Pong,
    Ok,
    Err(&'a [u8]),
}

/// The outcome of looking at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum LeafParsed<'a> {
    Op(LeafOp<'a>, usize),
    Incomplete { min_len: usize },
}

/// Most arguments an `LMSG` line may have: subject, reply marker, reply,
/// the queue names, sizes.
const MAX_ARGS: usize = 64;

pub fn parse_leaf_op<'a>(buf: &'a [u8], limits: &Limits) -> Result<LeafParsed<'a>, ProtocolError> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > limits.max_control_line + 16 {
            return Err(ProtocolError::MaxControlLine);
        }
        return Ok(LeafParsed::Incomplete {
            min_len: buf.len() + 1,
        });
    };
    let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let (op, args) = split_op(&buf[..line_end]);
    let after = nl + 1;
    let op_is = |name: &[u8]| op.eq_ignore_ascii_case(name);
    let done = |op| Ok(LeafParsed::Op(op, after));
    if op_is(b"LMSG") || op_is(b"HMSG") {
        if args.len() > limits.max_control_line {
            return Err(ProtocolError::MaxControlLine);
        }
        return parse_msg(buf, args, after, op_is(b"HMSG"), limits);
    }
    if op_is(b"LS+") {
        return done(parse_sub(args)?);
    }
    if op_is(b"LS-") {
        let key = trim(args);
        if key.is_empty() {
            return Err(bad("processLeafUnsub", args));
        }
        return done(LeafOp::Unsub { key });
    }
    if op_is(b"PING") {
        return done(LeafOp::Ping);
    }
    if op_is(b"PONG") {
        return done(LeafOp::Pong);
    }
    if op_is(b"INFO") {
        return done(LeafOp::Info(trim(args)));
    }
    if op_is(b"CONNECT") {
        return done(LeafOp::Connect(trim(args)));
    }
    if op_is(b"+OK") {
        return done(LeafOp::Ok);
    }
    if op_is(b"-ERR") {
        return done(LeafOp::Err(trim(args)));
    }
    Err(ProtocolError::UnknownOperation)
}

fn parse_sub(args: &[u8]) -> Result<LeafOp<'_>, ProtocolError> {
    let args = trim(args);
    let mut parts = args
        .split(|b| matches!(b, b' ' | b'\t'))
        .filter(|p| !p.is_empty());
    let subject = parts.next().ok_or_else(|| bad("processLeafSub", args))?;
    match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) => Ok(LeafOp::Sub {
            key: subject,
            subject,
            queue: None,
            weight: 1,
        }),
        (Some(queue), Some(weight), None) => {
            let weight = parse_size(weight)
                .and_then(|w| u32::try_from(w).ok())
                .ok_or_else(|| bad("processLeafSub", args))?;
            // The key is the line without its weight.
            let key_len = offset(args, queue) + queue.len();
            Ok(LeafOp::Sub {
                key: &args[..key_len],
                subject,
                queue: Some(queue),
                weight: weight.max(1),
            })
        }
        _ => Err(bad("processLeafSub", args)),
    }
}

/// `LMSG subject [reply] size`, `LMSG subject + reply q.. size`,
/// `LMSG subject | q.. size`; `HMSG` has a header size before the size.
fn parse_msg<'a>(
    buf: &'a [u8],
    args: &'a [u8],
    after: usize,
    with_headers: bool,
    limits: &Limits,
) -> Result<LeafParsed<'a>, ProtocolError> {
    let name = if with_headers {
        "processLeafHeaderMsgArgs"
    } else {
        "processLeafMsgArgs"
    };
    let mut tokens: [&[u8]; MAX_ARGS] = [&[]; MAX_ARGS];
    let mut n = 0;
    for part in args
        .split(|b| matches!(b, b' ' | b'\t'))
        .filter(|p| !p.is_empty())
    {
        if n == MAX_ARGS {
            return Err(bad(name, args));
        }
        tokens[n] = part;
        n += 1;
    }
    let sizes = if with_headers { 2 } else { 1 };
    if n < 1 + sizes {
        return Err(bad(name, args));
    }
    let subject = tokens[0];
    let middle = &tokens[1..n - sizes];
    let (reply, queues) = match middle {
        [] => (None, &[][..]),
        [reply] => (Some(*reply), &[][..]),
        [marker, rest @ ..] if *marker == b"+" && !rest.is_empty() => (Some(rest[0]), &rest[1..]),
        [marker, rest @ ..] if *marker == b"|" => (None, rest),
        _ => return Err(bad(name, args)),
    };
    let queues = match (queues.first(), queues.last()) {
        (Some(first), Some(last)) => &args[offset(args, first)..offset(args, last) + last.len()],
        _ => &[][..],
    };
    let size = parse_size(tokens[n - 1]).ok_or_else(|| bad(name, args))?;
    let header_size = if with_headers {
        let h = parse_size(tokens[n - 2]).ok_or_else(|| bad(name, args))?;
        if h > size {
            return Err(bad(name, args));
        }
        Some(h)
    } else {
        None
    };
    if size > limits.max_payload {
        return Err(ProtocolError::MaxPayload {
            size,
            max: limits.max_payload,
        });
    }
    let Some(body) = take_payload(buf, after, size)? else {
        return Ok(LeafParsed::Incomplete {
            min_len: after + size + 2,
        });
    };
    let (headers, payload) = match header_size {
        Some(h) => (Some(&body[..h]), &body[h..]),
        None => (None, body),
    };
    Ok(LeafParsed::Op(
        LeafOp::Msg {
            subject,
            reply,
            queues,
            headers,
            payload,
        },
        after + size + 2,
    ))
}

fn offset(base: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - base.as_ptr() as usize
}

fn bad(op: &'static str, args: &[u8]) -> ProtocolError {
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

    fn op(buf: &[u8]) -> LeafOp<'_> {
        match parse_leaf_op(buf, &LIMITS) {
            Ok(LeafParsed::Op(op, len)) => {
                assert_eq!(len, buf.len(), "whole input used");
                op
            }
            other => panic!("expected an op from {buf:?}, got {other:?}"),
        }
    }

    #[test]
    fn interest_lines() {
        assert_eq!(
            op(b"LS+ foo.*\r\n"),
            LeafOp::Sub {
                key: b"foo.*",
                subject: b"foo.*",
                queue: None,
                weight: 1
            }
        );
        assert_eq!(
            op(b"LS+ foo bar 3\r\n"),
            LeafOp::Sub {
                key: b"foo bar",
                subject: b"foo",
                queue: Some(b"bar"),
                weight: 3
            }
        );
        assert_eq!(op(b"LS- foo bar\r\n"), LeafOp::Unsub { key: b"foo bar" });
        assert!(parse_leaf_op(b"LS+ foo bar\r\n", &LIMITS).is_err());
        assert!(parse_leaf_op(b"LS+ foo bar x\r\n", &LIMITS).is_err());
    }

    #[test]
    fn messages_in_every_shape() {
        let m = op(b"LMSG a.b 5\r\nhello\r\n");
        assert!(matches!(
            m,
            LeafOp::Msg {
                subject: b"a.b",
                reply: None,
                queues: b"",
                headers: None,
                payload: b"hello"
            }
        ));
        let m = op(b"LMSG a r 2\r\nhi\r\n");
        assert!(matches!(
            m,
            LeafOp::Msg {
                reply: Some(b"r"),
                queues: b"",
                ..
            }
        ));
        let m = op(b"LMSG a + r q1 q2 2\r\nhi\r\n");
        assert!(matches!(
            m,
            LeafOp::Msg {
                reply: Some(b"r"),
                queues: b"q1 q2",
                ..
            }
        ));
        let m = op(b"LMSG a | q1 2\r\nhi\r\n");
        assert!(matches!(
            m,
            LeafOp::Msg {
                reply: None,
                queues: b"q1",
                ..
            }
        ));
        let m = op(b"HMSG a + r q 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        assert!(matches!(
            m,
            LeafOp::Msg {
                reply: Some(b"r"),
                queues: b"q",
                headers: Some(b"NATS/1.0\r\n\r\n"),
                payload: b"hi",
                ..
            }
        ));
    }

    #[test]
    fn incomplete_and_bad_messages() {
        assert!(matches!(
            parse_leaf_op(b"LMSG a 5\r\nhel", &LIMITS),
            Ok(LeafParsed::Incomplete { .. })
        ));
        assert!(parse_leaf_op(b"LMSG a * r 5\r\nhello\r\n", &LIMITS).is_err());
        assert!(parse_leaf_op(b"LMSG a x\r\n", &LIMITS).is_err());
        assert!(parse_leaf_op(b"HMSG a 9 5\r\nhello\r\n", &LIMITS).is_err());
        assert!(matches!(
            parse_leaf_op(b"LMSG a 2000\r\n", &LIMITS),
            Err(ProtocolError::MaxPayload { .. })
        ));
        assert!(parse_leaf_op(b"PUB a 1\r\nx\r\n", &LIMITS).is_err());
    }
}
