//! `MemoryStore`: a stream held in process memory — messages in a
//! `BTreeMap` by sequence, a per-subject set of sequences, and the shared
//! engine rules (`engine.rs`), all under one lock. Every operation completes before its
//! future is returned; the futures are ready at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::ready;
use std::ops::ControlFlow;

use bytes::Bytes;
use parking_lot::Mutex;

use super::consumer::{ConsumerState, ConsumerStateStore};
use super::engine::Engine;
use super::query;
use super::types::{
    AppendOptions, NewMessage, PurgeRequest, SimpleState, StorageKind, StoreLimits, StoredMessage,
    StreamState, Timestamp,
};
use super::view::{MsgInfo, MsgTables, MsgView, Removed, StoreResult};
use super::{MessageStore, StoreFuture};

/// The tables: messages by sequence and each subject's sequences.
#[derive(Default)]
struct MemTables {
    msgs: BTreeMap<u64, StoredMessage>,
    subjects: HashMap<Bytes, BTreeSet<u64>>,
}

impl MsgView for MemTables {
    fn get(&self, seq: u64) -> StoreResult<Option<StoredMessage>> {
        Ok(self.msgs.get(&seq).cloned())
    }

    fn scan(
        &self,
        from: u64,
        to: u64,
        rev: bool,
        f: &mut dyn FnMut(MsgInfo<'_>) -> ControlFlow<()>,
    ) -> StoreResult<()> {
        if from > to {
            return Ok(());
        }
        let range = self.msgs.range(from..=to);
        let mut visit = |m: &StoredMessage| {
            f(MsgInfo {
                seq: m.seq,
                subject: &m.subject,
                timestamp: m.timestamp,
                headers_len: m.headers.len(),
                payload_len: m.payload.len(),
            })
        };
        if rev {
            let _ = range.rev().try_for_each(|(_, m)| visit(m));
        } else {
            let _ = range.into_iter().try_for_each(|(_, m)| visit(m));
        }
        Ok(())
    }

    fn subject_count(&self, subject: &[u8]) -> StoreResult<u64> {
        Ok(self.subjects.get(subject).map_or(0, |s| s.len() as u64))
    }

    fn subject_seqs(
        &self,
        subject: &[u8],
        from: u64,
        to: u64,
        rev: bool,
        f: &mut dyn FnMut(u64) -> ControlFlow<()>,
    ) -> StoreResult<()> {
        if let Some(seqs) = self.subjects.get(subject).filter(|_| from <= to) {
            let range = seqs.range(from..=to);
            if rev {
                let _ = range.rev().try_for_each(|s| f(*s));
            } else {
                let _ = range.into_iter().try_for_each(|s| f(*s));
            }
        }
        Ok(())
    }

    fn subjects(&self, f: &mut dyn FnMut(&[u8], u64) -> ControlFlow<()>) -> StoreResult<()> {
        let _ = self
            .subjects
            .iter()
            .try_for_each(|(s, seqs)| f(s, seqs.len() as u64));
        Ok(())
    }
}

impl MsgTables for MemTables {
    fn insert(&mut self, seq: u64, msg: &NewMessage) -> StoreResult<bool> {
        self.msgs.insert(
            seq,
            StoredMessage {
                seq,
                timestamp: msg.timestamp,
                subject: msg.subject.clone(),
                headers: msg.headers.clone(),
                payload: msg.payload.clone(),
            },
        );
        let seqs = self.subjects.entry(msg.subject.clone()).or_default();
        seqs.insert(seq);
        Ok(seqs.len() == 1)
    }

    fn remove(&mut self, seq: u64) -> StoreResult<Option<Removed>> {
        let Some(m) = self.msgs.remove(&seq) else {
            return Ok(None);
        };
        let mut subject_emptied = false;
        if let Some(seqs) = self.subjects.get_mut(&m.subject) {
            seqs.remove(&seq);
            if seqs.is_empty() {
                self.subjects.remove(&m.subject);
                subject_emptied = true;
            }
        }
        Ok(Some(Removed {
            subject_len: m.subject.len(),
            headers_len: m.headers.len(),
            payload_len: m.payload.len(),
            subject_emptied,
        }))
    }

    fn clear(&mut self) -> StoreResult<()> {
        self.msgs.clear();
        self.subjects.clear();
        Ok(())
    }
}

struct Inner {
    engine: Engine,
    tables: MemTables,
}

/// A stream whose messages live in memory (`storage: memory`).
pub struct MemoryStore {
    inner: Mutex<Inner>,
    consumers: Mutex<BTreeMap<String, ConsumerState>>,
}

impl MemoryStore {
    /// An empty store enforcing `limits`.
    pub fn new(limits: StoreLimits) -> Self {
        MemoryStore {
            inner: Mutex::new(Inner {
                engine: Engine::new(StorageKind::Memory, limits, StreamState::default()),
                tables: MemTables::default(),
            }),
            consumers: Mutex::new(BTreeMap::new()),
        }
    }

    /// Runs `f` on the engine and tables under the lock, as a ready future.
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine, &mut MemTables) -> StoreResult<T>,
    ) -> StoreFuture<T> {
        let mut inner = self.inner.lock();
        let Inner { engine, tables } = &mut *inner;
        Box::pin(ready(f(engine, tables)))
    }

    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&MemTables, &StreamState) -> StoreResult<T>,
    ) -> StoreFuture<T> {
        let inner = self.inner.lock();
        Box::pin(ready(f(&inner.tables, &inner.engine.state)))
    }
}

impl MessageStore for MemoryStore {
    fn kind(&self) -> StorageKind {
        StorageKind::Memory
    }

    fn state(&self) -> StreamState {
        self.inner.lock().engine.state
    }

    fn limits(&self) -> StoreLimits {
        self.inner.lock().engine.limits
    }

    fn next_expiry(&self) -> Option<Timestamp> {
        self.inner.lock().engine.next_expiry()
    }

    fn append(&self, msg: NewMessage, opts: AppendOptions) -> StoreFuture<u64> {
        self.write(move |e, t| e.append(t, &msg, &opts))
    }

    fn remove(&self, seq: u64) -> StoreFuture<bool> {
        self.write(move |e, t| e.remove(t, seq))
    }

    fn purge(&self, req: PurgeRequest) -> StoreFuture<u64> {
        self.write(move |e, t| e.purge(t, &req))
    }

    fn compact(&self, seq: u64) -> StoreFuture<u64> {
        self.write(move |e, t| e.compact(t, seq))
    }

    fn skip_to(&self, seq: u64) -> StoreFuture<u64> {
        self.write(move |e, t| e.skip_to(t, seq))
    }

    fn expire(&self, now: Timestamp) -> StoreFuture<u64> {
        self.write(move |e, t| e.expire(t, now))
    }

    fn set_limits(&self, limits: StoreLimits) -> StoreFuture<u64> {
        self.write(move |e, t| e.set_limits(t, limits))
    }

    /// Memory streams are kept as published whatever their `compression`,
    /// as nats-server's memory store does: compressing would trade the
    /// memory store's speed for memory it is not asked to save.
    fn set_compression(&self, _on: bool) {}

    fn load(&self, seq: u64) -> StoreFuture<Option<StoredMessage>> {
        self.read(move |t, _| t.get(seq))
    }

    fn load_next(&self, from: u64, filter: Option<&[u8]>) -> StoreFuture<Option<StoredMessage>> {
        self.read(|t, _| query::load_next(t, from, filter))
    }

    fn load_batch(
        &self,
        from: u64,
        filter: Option<&[u8]>,
        max_msgs: usize,
        max_bytes: usize,
    ) -> StoreFuture<Vec<StoredMessage>> {
        self.read(|t, _| query::load_batch(t, from, filter, max_msgs, max_bytes))
    }

    fn load_last(&self, filter: &[u8]) -> StoreFuture<Option<StoredMessage>> {
        self.read(|t, _| query::load_last(t, filter))
    }

    fn last_per_subject(&self, filter: Option<&[u8]>) -> StoreFuture<Vec<u64>> {
        self.read(|t, _| query::last_per_subject(t, filter))
    }

    fn filtered_state(&self, from: u64, filter: Option<&[u8]>) -> StoreFuture<SimpleState> {
        self.read(|t, s| query::filtered_state(t, s, from, filter))
    }

    fn subjects_state(&self, filter: Option<&[u8]>) -> StoreFuture<BTreeMap<Bytes, u64>> {
        self.read(|t, _| query::subjects_state(t, filter))
    }

    fn seq_from_time(&self, ts: Timestamp) -> StoreFuture<u64> {
        self.read(|t, s| query::seq_from_time(t, s, ts))
    }

    fn deleted(&self) -> StoreFuture<Vec<u64>> {
        self.read(query::deleted)
    }

    fn check_consistency(&self) -> StoreFuture<Result<(), String>> {
        self.read(|t, s| query::check_consistency(t, s, StorageKind::Memory))
    }

    fn close(&self) -> StoreFuture<()> {
        Box::pin(ready(Ok(())))
    }
}

impl ConsumerStateStore for MemoryStore {
    fn save_consumer_state(&self, name: &str, state: &ConsumerState) -> StoreFuture<()> {
        self.consumers.lock().insert(name.to_owned(), state.clone());
        Box::pin(ready(Ok(())))
    }

    fn load_consumer_state(&self, name: &str) -> StoreFuture<Option<ConsumerState>> {
        Box::pin(ready(Ok(self.consumers.lock().get(name).cloned())))
    }

    fn delete_consumer_state(&self, name: &str) -> StoreFuture<bool> {
        Box::pin(ready(Ok(self.consumers.lock().remove(name).is_some())))
    }

    fn consumer_names(&self) -> StoreFuture<Vec<String>> {
        Box::pin(ready(Ok(self.consumers.lock().keys().cloned().collect())))
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("state", &self.state())
            .finish()
    }
}
