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

#[path = "framing.rs"]
mod framing;
use framing::{drive, Step};

fuzz_target!(|data: &[u8]| {
    drive(data, |bytes, limits, check| match parse_leaf_op(bytes, limits) {
        Ok(LeafParsed::Op(op, used)) => {
            if check {
                check_op(&op, limits);
            }
            Step::Op(used)
        }
        Ok(LeafParsed::Incomplete { min_len }) => Step::Incomplete(min_len),
        Err(_) => Step::Error,
    });
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
