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

#[path = "framing.rs"]
mod framing;
use framing::{drive, Step};

fuzz_target!(|data: &[u8]| {
    drive(data, |bytes, limits, check| match parse_op(bytes, limits) {
        Ok(Parsed::Op(op, used)) => {
            if check {
                check_op(&op, limits);
            }
            Step::Op(used)
        }
        Ok(Parsed::Incomplete { min_len }) => Step::Incomplete(min_len),
        Err(_) => Step::Error,
    });
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
