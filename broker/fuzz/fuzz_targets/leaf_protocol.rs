//! The leaf-node protocol parser (`tern::leaf::parser::parse_leaf_op`),
//! driven as a leaf link drives it: parse, advance, repeat. The INFO and
//! CONNECT JSON bodies are parsed as the link parses them.
//!
//! Input: one byte choosing the limits, then what a hub or leaf sends.
//!
//! Checked beyond "no panic": an operation uses at least one byte and no
//! more than the buffer holds; `Incomplete` asks for more than it has;
//! message bodies respect `max_payload` and split into headers and
//! payload as sized; a prefix of an operation never frames one.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tern::leaf::handshake::{LeafConnect, LeafInfo};
use tern::leaf::parser::{parse_leaf_op, LeafOp, LeafParsed};
use tern::protocol::Limits;

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
        match parse_leaf_op(rest, &limits) {
            Ok(LeafParsed::Op(op, used)) => {
                assert!(used > 0, "an operation must use input");
                assert!(used <= rest.len(), "used {used} of {}", rest.len());
                check_op(&op, &limits);
                check_prefixes(&rest[..used], &limits);
                rest = &rest[used..];
            }
            Ok(LeafParsed::Incomplete { min_len }) => {
                assert!(min_len > rest.len(), "min_len {min_len} of {}", rest.len());
                break;
            }
            Err(_) => break,
        }
    }
});

fn check_op(op: &LeafOp<'_>, limits: &Limits) {
    match op {
        LeafOp::Info(json) => {
            let _ = serde_json::from_slice::<LeafInfo>(json);
        }
        LeafOp::Connect(json) => {
            if let Ok(connect) = LeafConnect::parse(json) {
                let _ = connect.credentials();
            }
        }
        LeafOp::Sub {
            key,
            subject,
            queue,
            weight,
        } => {
            assert!(*weight >= 1);
            assert!(key.starts_with(subject));
            if let Some(queue) = queue {
                assert!(key.ends_with(queue));
            }
        }
        LeafOp::Msg {
            headers, payload, ..
        } => {
            let total = headers.map_or(0, <[u8]>::len) + payload.len();
            assert!(total <= limits.max_payload);
        }
        _ => {}
    }
}

fn check_prefixes(op_bytes: &[u8], limits: &Limits) {
    let n = op_bytes.len();
    for cut in [n - 1, n / 2, n.min(3)] {
        if cut >= n {
            continue;
        }
        if let Ok(LeafParsed::Op(op, used)) = parse_leaf_op(&op_bytes[..cut], limits) {
            panic!("prefix of {cut} bytes framed {op:?} ({used} bytes) of a {n}-byte operation");
        }
    }
}
