//! Subject delete markers (`subject_delete_marker_ttl`, what KV's "limit
//! markers" use): when age (`max_age`) or a message's own TTL removes the
//! last message of a subject, nats-server leaves a marker in its place — an
//! empty message on that subject with `Nats-Marker-Reason: MaxAge`, a
//! `Nats-TTL` of the configured marker TTL, and `Nats-Rollup: sub`, which
//! is what removes the expired message. Watchers thus see the key go away.

use std::time::Duration;

use bytes::Bytes;

use super::store::{MessageStore, StoredMessage, Timestamp};
use super::wire::header;

/// The header block of a marker.
pub fn marker_headers(ttl_ns: i64) -> Bytes {
    let ttl =
        crate::config::format_go_duration(Duration::from_nanos(u64::try_from(ttl_ns).unwrap_or(0)));
    Bytes::from(format!(
        "NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: {ttl}\r\nNats-Rollup: sub\r\n\r\n"
    ))
}

/// Is `m` a marker itself (markers expire without leaving another)?
fn is_marker(m: &StoredMessage) -> bool {
    header(Some(&m.headers), "Nats-Marker-Reason").is_some()
}

/// The subjects whose last message is among those `max_age` removes at
/// `cutoff` (messages stored at or before it), each once.
pub async fn emptied_by_age(store: &dyn MessageStore, cutoff: Timestamp) -> Vec<Bytes> {
    let mut out: Vec<Bytes> = Vec::new();
    let mut from = store.state().first_seq;
    'scan: loop {
        let batch = match store.load_batch(from, None, 256, 4 << 20).await {
            Ok(b) if !b.is_empty() => b,
            _ => break,
        };
        for m in &batch {
            if m.timestamp > cutoff {
                break 'scan;
            }
            if !is_marker(m) && is_last(store, m).await && !out.contains(&m.subject) {
                out.push(m.subject.clone());
            }
        }
        from = batch.last().map_or(u64::MAX, |m| m.seq + 1);
    }
    out
}

/// Whether the message at `seq` (expiring by its own TTL) is the last of
/// its subject and no marker: then it gets one.
pub async fn needs_marker(store: &dyn MessageStore, seq: u64) -> Option<Bytes> {
    let m = store.load(seq).await.ok()??;
    (!is_marker(&m) && is_last(store, &m).await).then(|| m.subject.clone())
}

async fn is_last(store: &dyn MessageStore, m: &StoredMessage) -> bool {
    matches!(store.load_last(&m.subject).await, Ok(Some(last)) if last.seq == m.seq)
}
