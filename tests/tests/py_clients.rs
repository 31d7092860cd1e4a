//! nats-py against each broker: the KV and object-store program
//! tests/python/kv_objects_check.py must print the same against Tern as
//! against nats-server, and what nats-server prints is checked too.
//!
//! Skipped, with a message, when nats-py (installed by tests/run.sh) is
//! missing.

mod common;

use std::process::Command;

use anyhow::{bail, Context, Result};
use common::client_programs::{same_output_on_both, start_jetstream};
use common::python::{python_ready, script};
use tern_tests::Kind;

fn run(kind: Kind) -> Result<String> {
    let broker = start_jetstream(kind)?;
    let out = Command::new("python3")
        .arg(script("kv_objects_check.py"))
        .arg(broker.url())
        .output()
        .context("run python3")?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "kv_objects_check.py against {} failed: {}\n{stdout}{}",
            kind.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

#[test]
fn kv_and_object_store_with_nats_py() {
    if let Err(why) = python_ready("nats", "nats-py") {
        eprintln!("skipped: {why}");
        return;
    }
    same_output_on_both(
        "kv_objects_check.py",
        run,
        &[
                "update r3",
                "stale update refused",
                "history edge-1,edge-2",
                "watch PUT site.name r1; PUT site.zone r2; PUT site.name r3; DEL site.zone r4; PURGE site.name r5",
                "deleted key not found",
                "object firmware.bin size=300000 chunks=3",
                "object read back True",
                "objects firmware.bin,notes.txt",
                "deleted object not found",
        ],
    );
}
