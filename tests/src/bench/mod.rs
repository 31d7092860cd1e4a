//! The `bench` binary's parts (`src/bin/bench.rs` is the command line):
//! Tern against nats-server, same client code, same run.

pub mod client;
pub mod footprint;
pub mod jetstream;
pub mod latency;
pub mod leaf;
pub mod plugins;
pub mod report;
pub mod scenarios;
pub mod scraper;
pub mod throughput;
pub mod tls;
pub mod ws;
