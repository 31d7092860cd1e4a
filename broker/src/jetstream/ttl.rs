//! Per-message TTL (`Nats-TTL` on a stream with `allow_msg_ttl`): when each
//! such message expires. The acker adds a message once it is stored; the
//! ingest task removes messages as they fall due; at start-up the index is
//! rebuilt from the stored messages' headers.

use std::collections::BTreeSet;

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::error::ApiError;
use super::store::Timestamp;

/// The expiry times of the stream's TTL'd messages.
#[derive(Default)]
pub struct TtlIndex {
    due: Mutex<BTreeSet<(Timestamp, u64)>>,
    changed: Notify,
}

impl TtlIndex {
    /// `seq` expires at `at`.
    pub fn add(&self, at: Timestamp, seq: u64) {
        let mut due = self.due.lock();
        let earliest = due.first().is_none_or(|(first, _)| at < *first);
        due.insert((at, seq));
        drop(due);
        if earliest {
            self.changed.notify_one();
        }
    }

    /// The earliest expiry.
    pub fn next(&self) -> Option<Timestamp> {
        self.due.lock().first().map(|(at, _)| *at)
    }

    /// Takes every message due at `now`.
    pub fn take_due(&self, now: Timestamp) -> Vec<u64> {
        let mut due = self.due.lock();
        let mut out = Vec::new();
        while let Some(&(at, seq)) = due.first() {
            if at > now {
                break;
            }
            due.pop_first();
            out.push(seq);
        }
        out
    }

    /// Resolves when an earlier expiry was added.
    pub async fn changed(&self) {
        self.changed.notified().await
    }
}

/// Parses a `Nats-TTL` value as nats-server does: a Go duration (`30s`,
/// `1h`) or whole seconds, at least one second; `never` (or `-1`) means the
/// message is exempt, which Tern reports as no TTL. Nanoseconds.
pub fn parse_ttl(value: &str) -> Result<Option<i64>, ApiError> {
    let invalid = || ApiError::new(400, 10165, "invalid per-message TTL");
    if value == "never" || value == "-1" {
        return Ok(None);
    }
    let ns = match value.parse::<i64>() {
        Ok(secs) => secs.checked_mul(1_000_000_000).ok_or_else(invalid)?,
        Err(_) => crate::config::parse_go_duration(value).map_err(|_| invalid())?,
    };
    if ns < 1_000_000_000 {
        return Err(invalid());
    }
    Ok(Some(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_values() {
        assert_eq!(
            parse_ttl("5").map_err(|e| e.err_code),
            Ok(Some(5_000_000_000))
        );
        assert_eq!(
            parse_ttl("2m").map_err(|e| e.err_code),
            Ok(Some(120_000_000_000))
        );
        assert_eq!(parse_ttl("never").map_err(|e| e.err_code), Ok(None));
        assert_eq!(parse_ttl("500ms").map_err(|e| e.err_code), Err(10165));
        assert_eq!(parse_ttl("soon").map_err(|e| e.err_code), Err(10165));
    }

    #[test]
    fn index_hands_out_what_is_due() {
        let idx = TtlIndex::default();
        idx.add(30, 3);
        idx.add(10, 1);
        idx.add(20, 2);
        assert_eq!(idx.next(), Some(10));
        assert_eq!(idx.take_due(20), vec![1, 2]);
        assert_eq!(idx.next(), Some(30));
    }
}
