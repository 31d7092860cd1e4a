//! A consumer's persisted state (nats-server's `ConsumerState`) and the
//! `ConsumerStateStore` trait that keeps it per consumer name, next to the
//! stream's messages.
//!
//! The state is saved whole; the binary form below is compact enough that a
//! consumer with thousands of pending acks costs one small record per save.
//! The stream layer decides how often to save (every ack, or coalesced on a
//! timer as nats-server does); the redb store folds saves that meet in one
//! group commit into the same transaction.

use std::collections::BTreeMap;

use super::types::Timestamp;
use super::StoreFuture;

/// A consumer sequence and the stream sequence it maps to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SequencePair {
    pub consumer_seq: u64,
    pub stream_seq: u64,
}

/// One delivered, not yet acknowledged message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PendingAck {
    /// The consumer sequence it was (last) delivered with.
    pub consumer_seq: u64,
    /// When it was (last) delivered.
    pub timestamp: Timestamp,
}

/// Everything needed to resume a consumer after a restart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerState {
    /// The highest sequences delivered.
    pub delivered: SequencePair,
    /// Everything at or below these is acknowledged.
    pub ack_floor: SequencePair,
    /// Delivered but unacknowledged messages, by stream sequence.
    pub pending: BTreeMap<u64, PendingAck>,
    /// Delivery counts above one, by stream sequence.
    pub redelivered: BTreeMap<u64, u64>,
}

/// The version byte that starts every encoded state.
const FORMAT: u8 = 1;

impl ConsumerState {
    /// The stored form: a version byte, then little-endian fixed-width fields.
    pub fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(1 + 6 * 8 + self.pending.len() * 24 + self.redelivered.len() * 16);
        out.push(FORMAT);
        for v in [
            self.delivered.consumer_seq,
            self.delivered.stream_seq,
            self.ack_floor.consumer_seq,
            self.ack_floor.stream_seq,
            self.pending.len() as u64,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for (seq, p) in &self.pending {
            out.extend_from_slice(&seq.to_le_bytes());
            out.extend_from_slice(&p.consumer_seq.to_le_bytes());
            out.extend_from_slice(&p.timestamp.to_le_bytes());
        }
        out.extend_from_slice(&(self.redelivered.len() as u64).to_le_bytes());
        for (seq, n) in &self.redelivered {
            out.extend_from_slice(&seq.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
        }
        out
    }

    /// Parses [`encode`](Self::encode)'s output; the error says what is wrong.
    pub fn decode(data: &[u8]) -> Result<ConsumerState, String> {
        let mut r = Reader { data, pos: 0 };
        let version = r.take(1)?[0];
        if version != FORMAT {
            return Err(format!("unknown consumer state version {version}"));
        }
        let mut state = ConsumerState {
            delivered: SequencePair {
                consumer_seq: r.u64()?,
                stream_seq: r.u64()?,
            },
            ack_floor: SequencePair {
                consumer_seq: r.u64()?,
                stream_seq: r.u64()?,
            },
            ..Default::default()
        };
        let pending = r.count(24)?;
        for _ in 0..pending {
            let seq = r.u64()?;
            let consumer_seq = r.u64()?;
            let timestamp = r.u64()? as i64;
            state.pending.insert(
                seq,
                PendingAck {
                    consumer_seq,
                    timestamp,
                },
            );
        }
        let redelivered = r.count(16)?;
        for _ in 0..redelivered {
            let seq = r.u64()?;
            state.redelivered.insert(seq, r.u64()?);
        }
        if r.pos != data.len() {
            return Err(format!("{} trailing bytes", data.len() - r.pos));
        }
        Ok(state)
    }
}

/// A bounds-checked cursor over an encoded state.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.data.len());
        let end = end.ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    /// An entry count, checked against the bytes left so a corrupt count
    /// cannot make the decoder loop or allocate for billions of entries.
    fn count(&mut self, entry_size: usize) -> Result<usize, String> {
        let n = self.u64()?;
        let left = (self.data.len() - self.pos) / entry_size;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= left)
            .ok_or_else(|| format!("entry count {n} exceeds the record"))
    }
}

/// Persists consumers' state per consumer name. Implemented by each
/// [`super::MessageStore`], so a stream's consumers live and die with it.
pub trait ConsumerStateStore: Send + Sync {
    /// Saves `state` under `name`, replacing what was there. Durable (file
    /// store) when the future resolves.
    fn save_consumer_state(&self, name: &str, state: &ConsumerState) -> StoreFuture<()>;

    /// The state saved under `name`, if any.
    fn load_consumer_state(&self, name: &str) -> StoreFuture<Option<ConsumerState>>;

    /// Forgets `name`; true if it existed.
    fn delete_consumer_state(&self, name: &str) -> StoreFuture<bool>;

    /// Every consumer with saved state, sorted.
    fn consumer_names(&self) -> StoreFuture<Vec<String>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ConsumerState {
        let mut s = ConsumerState {
            delivered: SequencePair {
                consumer_seq: 12,
                stream_seq: 40,
            },
            ack_floor: SequencePair {
                consumer_seq: 9,
                stream_seq: 33,
            },
            ..Default::default()
        };
        s.pending.insert(
            35,
            PendingAck {
                consumer_seq: 10,
                timestamp: -5,
            },
        );
        s.pending.insert(
            40,
            PendingAck {
                consumer_seq: 12,
                timestamp: 1_700_000_000_000_000_000,
            },
        );
        s.redelivered.insert(35, 3);
        s
    }

    #[test]
    fn round_trips() {
        let s = sample();
        assert_eq!(ConsumerState::decode(&s.encode()), Ok(s));
        let empty = ConsumerState::default();
        assert_eq!(ConsumerState::decode(&empty.encode()), Ok(empty));
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            assert!(ConsumerState::decode(&bytes[..cut]).is_err(), "cut {cut}");
        }
        // The pending count sits after the version byte and four u64s.
        let mut huge = bytes.clone();
        huge[33..41].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(ConsumerState::decode(&huge).is_err());
        let mut version = bytes;
        version[0] = 9;
        assert!(ConsumerState::decode(&version).is_err());
    }
}
