//! `ConsumerInfo` as nats-server writes it: stream and consumer name,
//! creation time, config, the delivered and ack-floor sequences (with the
//! time of the last activity when there was any), the counters, the pause
//! state, the priority group state, and `ts`.

use serde_json::{json, Map, Value};

use crate::jetstream::store::{SequencePair, Timestamp};
use crate::jetstream::wire::{now_ns, time_string};

use super::pause::pause_state;
use super::{Consumer, Progress};

fn sequence_info(pair: SequencePair, last: Timestamp) -> Value {
    let mut v = json!({
        "consumer_seq": pair.consumer_seq,
        "stream_seq": pair.stream_seq,
    });
    if last > 0 {
        v["last_active"] = time_string(last).into();
    }
    v
}

/// The info fields of `consumer` with counters `p`.
pub fn consumer_info(consumer: &Consumer, p: &Progress) -> Map<String, Value> {
    let config = consumer.config();
    let mut info = json!({
        "stream_name": consumer.stream,
        "name": consumer.name,
        "created": time_string(consumer.created),
        "config": *config,
        "delivered": sequence_info(p.delivered, p.last_delivered),
        "ack_floor": sequence_info(p.ack_floor, p.last_acked),
        "num_ack_pending": p.num_ack_pending,
        "num_redelivered": p.num_redelivered,
        "num_waiting": p.num_waiting,
        "num_pending": p.num_pending,
        "ts": time_string(now_ns()),
    });
    if p.push_bound {
        info["push_bound"] = true.into();
    }
    if let (true, Some(left)) = pause_state(config.pause_until.as_ref()) {
        info["paused"] = true.into();
        info["pause_remaining"] = left.into();
    }
    // nats-server reports the first group only (one pin serves them all);
    // `pinned_ts` is Go's zero time while nobody is pinned.
    if let Some(group) = config.priority_groups.first() {
        let mut state = json!({ "group": group });
        let (id, since) = p.pinned.clone().unwrap_or_default();
        if !id.is_empty() {
            state["pinned_client_id"] = id.into();
        }
        state["pinned_ts"] = time_string(since).into();
        info["priority_groups"] = json!([state]);
    }
    match info {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
