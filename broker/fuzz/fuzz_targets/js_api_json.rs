//! `$JS.API` request bodies: what a client publishes to the API and to a
//! consumer's ack subject, turned into typed requests and configs.
//!
//! - Stream create/update: `StreamConfig::parse`, then the defaults and
//!   checks a create applies, the store limits and the JSON it answers.
//! - Consumer create: the `ConsumerConfig` a create request carries, with
//!   its defaults and its checks against a limits and a work-queue stream,
//!   and the update check against itself.
//! - Every other handler's request (stream info/names/list/purge, msg
//!   get/delete, direct get, consumer create wrapper/names/list, pull
//!   requests) through `tern::jetstream::api::parse_request_bodies`.
//! - Acks (`+ACK`, `-NAK {..}`, `+NXT ..`, ...), ack subjects, `Nats-TTL`
//!   header values and RFC 3339 times, which come from clients too.
//!
//! Input: the request body.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tern::jetstream::config::{Retention, StreamConfig};
use tern::jetstream::consumer::ack::{parse_ack, parse_ack_subject};
use tern::jetstream::consumer::ConsumerConfig;
use tern::jetstream::wire::parse_time;

/// The streams a consumer config is checked against, built once.
fn streams() -> &'static [StreamConfig; 2] {
    static STREAMS: OnceLock<[StreamConfig; 2]> = OnceLock::new();
    STREAMS.get_or_init(|| {
        [Retention::Limits, Retention::WorkQueue].map(|retention| {
            let mut config = StreamConfig::parse(br#"{"name":"ORDERS","subjects":["orders.>"]}"#)
                .expect("the fixed stream config parses");
            config.retention = retention;
            config.apply_defaults();
            config
        })
    })
}

fuzz_target!(|body: &[u8]| {
    if let Ok(mut config) = StreamConfig::parse(body) {
        config.apply_defaults();
        if config.check().is_ok() {
            let _ = config.store_limits();
            let _ = config.overlaps(&config);
        }
        let _ = serde_json::to_vec(&config);
    }

    if let Ok(mut config) = serde_json::from_slice::<ConsumerConfig>(body) {
        let ephemeral = !config.is_durable();
        config.apply_defaults(ephemeral);
        for stream in streams() {
            let _ = config.check(stream);
        }
        let _ = config.check_update(&config);
        let _ = config.start_time_ns();
        let _ = config.filters();
        for delivery in [0, 1, 2, u64::MAX] {
            let _ = config.ack_wait_for(delivery);
        }
        let _ = serde_json::to_vec(&config);
    }

    tern::jetstream::api::parse_request_bodies(body);

    let _ = parse_ack(body);
    let _ = parse_ack_subject(body);
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = tern::jetstream::ttl::parse_ttl(text);
        let _ = parse_time(text);
    }
});
