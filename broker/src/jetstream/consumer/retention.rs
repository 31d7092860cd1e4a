//! What a consumer still needs, for streams whose retention is `interest`
//! or `workqueue`: a message may leave such a stream once every consumer
//! that wants it has acknowledged it. Each consumer's task keeps its
//! [`AckView`] current (only on those streams, so `limits` streams pay
//! nothing); the stream reads the views when an ack comes in.

use bytes::Bytes;

use crate::subject::subject_matches;

/// The part of a consumer's state that retention looks at.
#[derive(Debug, Default)]
pub struct AckView {
    /// Empty = every subject.
    pub filters: Vec<Bytes>,
    /// Every matching message up to here was delivered (or skipped by the
    /// deliver policy).
    pub delivered_upto: u64,
    /// Delivered, not yet acknowledged.
    pub pending: std::collections::BTreeSet<u64>,
}

impl AckView {
    /// Does this consumer still need message `seq` on `subject`?
    pub fn needs(&self, seq: u64, subject: &[u8]) -> bool {
        let wanted =
            self.filters.is_empty() || self.filters.iter().any(|f| subject_matches(f, subject));
        wanted && (seq > self.delivered_upto || self.pending.contains(&seq))
    }

    /// Does this consumer want messages on `subject` at all?
    pub fn interested_in(&self, subject: &[u8]) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| subject_matches(f, subject))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_what_is_undelivered_or_pending() {
        let mut v = AckView {
            filters: vec![Bytes::from_static(b"orders.*")],
            delivered_upto: 5,
            ..Default::default()
        };
        v.pending.insert(4);
        assert!(v.needs(6, b"orders.a"));
        assert!(v.needs(4, b"orders.a"));
        assert!(!v.needs(3, b"orders.a"));
        assert!(!v.needs(9, b"events.a"));
        assert!(v.interested_in(b"orders.b"));
    }
}
