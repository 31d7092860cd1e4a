//! The plugin the broker's tests and benchmark load: a subject transform
//! whose behaviour comes from its config `mode`. Not an example to copy —
//! most modes misbehave on purpose, to show the sandbox holds.
//!
//! - `keep`: pass every message unchanged without reading it (the no-op
//!   for benchmarks);
//! - `subject`: read the subject, then keep the message;
//! - `prefix`: rewrite to `probe.<subject>` (reads the subject only);
//! - `payload`: read the whole payload, then keep the message;
//! - `loop`: spin forever (the CPU deadline must stop it);
//! - `bomb`: allocate until memory runs out (the memory cap must hold);
//! - `trap`: panic (a trap in the guest);
//! - `recurse`: recurse without end (the stack limit must stop it);
//! - `huge`: answer with `count` outputs (default 100000);
//! - `fanout`: one output per `to.<n>` config entry.

use tern_plugin_sdk::transform::{
    config_section, config_value, Message, Output, SubjectTransform, TransformResult,
};

struct Probe;

impl SubjectTransform for Probe {
    fn transform(msg: &Message) -> TransformResult {
        match config_value("mode").unwrap_or("keep") {
            "prefix" => TransformResult::to(format!("probe.{}", msg.subject())),
            "subject" => {
                std::hint::black_box(msg.subject());
                TransformResult::Keep
            }
            "payload" => {
                let payload = msg.payload();
                // Use the bytes so the copy cannot be optimised away.
                if payload.iter().fold(0u8, |a, b| a ^ b) == 0xff {
                    return TransformResult::Keep;
                }
                TransformResult::Keep
            }
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "trap" => panic!("probe asked to trap"),
            "recurse" => {
                if deeper(std::hint::black_box(1)) == 0 {
                    return TransformResult::Drop;
                }
                TransformResult::Keep
            }
            "huge" => {
                let count = config_value("count")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(100_000);
                TransformResult::Rewrite(
                    (0..count)
                        .map(|i| Output::to(format!("huge.{i}")))
                        .collect(),
                )
            }
            "fanout" => TransformResult::Rewrite(
                config_section("to")
                    .into_iter()
                    .map(|(_, s)| Output::to(s))
                    .collect(),
            ),
            _ => TransformResult::Keep,
        }
    }
}

/// Recursion the optimiser cannot turn into a loop, with small frames so
/// the wasm stack (not the guest's own stack in linear memory) runs out.
#[inline(never)]
#[allow(unconditional_recursion)] // the point: only the stack limit ends it
fn deeper(n: u64) -> u64 {
    std::hint::black_box(deeper(std::hint::black_box(n.wrapping_add(1)))).wrapping_add(1)
}

tern_plugin_sdk::export_transform!(Probe);
