//! Protocol tracing as nats-server writes it: `-V` traces each client
//! operation (`<<- [PUB foo 11]`) and its payload (`<<- MSG_PAYLOAD:
//! ["…"]`), cut by `max_traced_msg_len`, or only the headers with
//! `trace_headers` — against Tern and nats-server.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use common::*;
use tern_tests::{Broker, BrokerOptions, Kind};

fn start(kind: Kind, config: &str, args: &[&str]) -> Result<Broker> {
    Broker::start_with(
        kind,
        BrokerOptions {
            config: Some(config.to_string()),
            args: args.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        },
    )
}

/// Waits (bounded) for every `want` line part to be in the log.
fn await_log(b: &Broker, want: &[&str]) -> Result<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = b.stderr();
        if want.iter().all(|w| log.contains(w)) {
            return Ok(log);
        }
        if Instant::now() > deadline {
            bail!("missing some of {want:?} in:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const PUBLISH: &[u8] =
    b"PUB foo 11\r\nhello world\r\nHPUB h 18 22\r\nNATS/1.0\r\nA: b\r\n\r\ndata\r\n";

#[test]
fn payloads_are_traced_cut_to_max_traced_msg_len() {
    each_target_blocking(|kind| {
        let b = start(kind, "max_traced_msg_len: 5\n", &["-V"])?;
        let mut c = raw(
            &b.addr(),
            r#"{"verbose":false,"pedantic":false,"headers":true}"#,
        )?;
        c.send(PUBLISH)?;
        sync(&mut c)?;
        await_log(
            &b,
            &[
                "<<- [PUB foo 11]",
                r#"<<- MSG_PAYLOAD: ["hello..."]"#,
                "<<- [HPUB h 18 22]",
                r#"<<- MSG_PAYLOAD: ["NATS/..."]"#,
            ],
        )?;
        Ok(())
    });
}

#[test]
fn trace_headers_shows_only_headers() {
    each_target_blocking(|kind| {
        let b = start(kind, "trace_headers: true\n", &[])?;
        let mut c = raw(
            &b.addr(),
            r#"{"verbose":false,"pedantic":false,"headers":true}"#,
        )?;
        c.send(PUBLISH)?;
        sync(&mut c)?;
        let log = await_log(
            &b,
            &[
                "<<- [HPUB h 18 22]",
                r#"<<- MSG_PAYLOAD: ["NATS/1.0\r\nA: b"]"#,
            ],
        )?;
        if log.contains("hello world") || log.contains("data\"") {
            bail!("payloads traced with trace_headers:\n{log}");
        }
        Ok(())
    });
}
