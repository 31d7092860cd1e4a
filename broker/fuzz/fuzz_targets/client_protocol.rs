//! The client protocol parser (`tern::protocol::parse_op`), driven the way
//! the connection task drives it: parse an operation, advance past it,
//! repeat until the buffer asks for more or fails. The CONNECT JSON and
//! HPUB header blocks it hands on are parsed too, as the session does.
//!
//! Input: one byte choosing the limits, then the bytes a client sends.
//!
//! Checked beyond "no panic": an operation uses at least one byte and no
//! more than the buffer holds; `Incomplete` asks for more than it has;
//! payloads respect `max_payload`; and a shorter read of the same bytes
//! never frames an operation (a prefix of an operation is `Incomplete` or
//! an error), so framing does not depend on where reads split.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tern::protocol::{parse_op, ClientOp, ConnectOptions, Limits, Parsed};

/// nats-server's defaults, tiny limits (to reach the limit errors), the
/// largest payload nats-server allows, and a long control line.
const LIMITS: [Limits; 4] = [
    Limits {
        max_control_line: 4096,
        max_payload: 1024 * 1024,
    },
    Limits {
        max_control_line: 16,
        max_payload: 32,
    },
    Limits {
        max_control_line: 4096,
        max_payload: 64 * 1024 * 1024,
    },
    Limits {
        max_control_line: 1 << 20,
        max_payload: 8,
    },
];

fuzz_target!(|data: &[u8]| {
    let Some((&select, mut rest)) = data.split_first() else {
        return;
    };
    let limits = LIMITS[usize::from(select & 3)];
    loop {
        match parse_op(rest, &limits) {
            Ok(Parsed::Op(op, used)) => {
                assert!(used > 0, "an operation must use input");
                assert!(used <= rest.len(), "used {used} of {}", rest.len());
                check_op(&op, &limits);
                check_prefixes(&rest[..used], &limits);
                rest = &rest[used..];
            }
            Ok(Parsed::Incomplete { min_len }) => {
                assert!(min_len > rest.len(), "min_len {min_len} of {}", rest.len());
                break;
            }
            Err(_) => break,
        }
    }
});

fn check_op(op: &ClientOp<'_>, limits: &Limits) {
    match op {
        ClientOp::Connect(json) => {
            let _ = ConnectOptions::parse(json);
        }
        ClientOp::Pub {
            headers, payload, ..
        } => {
            let total = headers.map_or(0, <[u8]>::len) + payload.len();
            assert!(total <= limits.max_payload);
            if let Some(block) = headers {
                // What JetStream ingest looks up in a published header block.
                let _ = tern::jetstream::wire::header(Some(block), "Nats-Msg-Id");
            }
        }
        _ => {}
    }
}

/// Reads that stop short of the end of an operation must not yield one.
fn check_prefixes(op_bytes: &[u8], limits: &Limits) {
    let n = op_bytes.len();
    for cut in [n - 1, n / 2, n.min(3)] {
        if cut >= n {
            continue;
        }
        if let Ok(Parsed::Op(op, used)) = parse_op(&op_bytes[..cut], limits) {
            panic!("prefix of {cut} bytes framed {op:?} ({used} bytes) of a {n}-byte operation");
        }
    }
}
