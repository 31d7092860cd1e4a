//! nats.js (the `nats` npm package) against each broker: the KV and
//! object-store program tests/js/kv_check.mjs must print the same against
//! Tern as against nats-server, and what nats-server prints is checked too.
//!
//! Skipped, with a message, when node or the package (`npm ci --prefix
//! tests/js`, which tests/run.sh does) is missing.

mod common;

use anyhow::Result;
use common::client_programs::{same_output_on_both, start_jetstream};
use common::node::{node_ready, run_script};
use tern_tests::Kind;

fn run(kind: Kind) -> Result<String> {
    let broker = start_jetstream(kind)?;
    run_script("kv_check.mjs", &broker.url(), kind)
}

#[test]
fn kv_and_object_store_with_nats_js() {
    if let Err(why) = node_ready(&["nats"]) {
        eprintln!("skipped: {why}");
        return;
    }
    same_output_on_both(
        "kv_check.mjs",
        run,
        &[
                "update r3",
                "stale update refused",
                "history edge-1,edge-2",
                "watch PUT site.name r1; PUT site.zone r2; PUT site.name r3; DEL site.zone r4; PURGE site.name r5",
                "object firmware.bin size=300000 chunks=3",
                "object read back true",
                "deleted object readable false",
        ],
    );
}
