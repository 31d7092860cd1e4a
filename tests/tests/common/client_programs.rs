//! Client programs (nats-py, nats.js) run against both brokers, their
//! outputs compared.

use anyhow::Result;
use tern_tests::{Broker, BrokerOptions, Kind};

/// A fresh `kind` broker with JetStream, its store in the broker's temp dir.
pub fn start_jetstream(kind: Kind) -> Result<Broker> {
    Broker::start_with(
        kind,
        BrokerOptions {
            args: vec!["-js".into(), "-sd".into(), "store".into()],
            ..Default::default()
        },
    )
}

/// Runs `program` against every target (`run` returns its output), checks
/// that each output has every line of `expected`, and that Tern prints
/// what nats-server prints.
pub fn same_output_on_both(program: &str, run: impl Fn(Kind) -> Result<String>, expected: &[&str]) {
    let outputs: Vec<(Kind, String)> = Kind::targets()
        .into_iter()
        .map(|k| run(k).map(|o| (k, o)))
        .collect::<Result<_>>()
        .unwrap_or_else(|e| panic!("{program}: {e:#}"));
    for (kind, out) in &outputs {
        for line in expected {
            assert!(
                out.lines().any(|l| l == *line),
                "{program} against {}: no {line:?} in\n{out}",
                kind.name()
            );
        }
    }
    if let [(_, a), (_, b)] = &outputs[..] {
        assert_eq!(a, b, "{program}: Tern and nats-server differ");
    }
}
