//! The redb file layout of one stream, and the [`MsgView`]/[`MsgTables`]
//! implementation over it.
//!
//! Tables:
//! - `messages`: seq → a message record (`record.rs`: its layout and
//!   compression).
//! - `subject_index`: (subject, seq) → () — a subject's sequences in order,
//!   so last-by-subject, per-subject limits and literal filters are B-tree
//!   range reads instead of scans.
//! - `subjects`: subject → message count.
//! - `meta`: the [`StreamState`] counters and the format version, rewritten
//!   in every write transaction that changes them, so they always describe
//!   the messages committed with them.
//! - `consumers`: consumer name → encoded [`super::super::ConsumerState`].

use std::ops::ControlFlow;
use std::path::Path;

use redb::{ReadableTable, Table, TableDefinition};

use super::super::error::StoreError;
use super::super::types::{NewMessage, StoredMessage, StreamState};
use super::super::view::{MsgInfo, MsgTables, MsgView, Removed, StoreResult};
use super::db_err;
use super::record::{decode, parse_header, Encoded};

pub(super) const MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("messages");
pub(super) const SUBJECT_INDEX: TableDefinition<(&[u8], u64), ()> =
    TableDefinition::new("subject_index");
pub(super) const SUBJECTS: TableDefinition<&[u8], u64> = TableDefinition::new("subjects");
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(super) const CONSUMERS: TableDefinition<&str, &[u8]> = TableDefinition::new("consumers");

/// The layout version written to `meta`; bump on any incompatible change.
pub(super) const FORMAT_VERSION: u64 = 1;

fn record_err(path: &Path, seq: u64, why: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        reason: format!("message {seq}: {why}"),
    }
}

/// The three message tables of one transaction, read-only or writable.
pub(super) struct Tables<'p, M, I, S> {
    pub path: &'p Path,
    pub messages: M,
    pub index: I,
    pub subjects: S,
    /// Compress what is inserted (the stream's `compression: s2`).
    pub compress: bool,
}

/// The writable form, inside the writer's transaction.
pub(super) type WriteTables<'p, 't> = Tables<
    'p,
    Table<'t, u64, &'static [u8]>,
    Table<'t, (&'static [u8], u64), ()>,
    Table<'t, &'static [u8], u64>,
>;

impl<M, I, S> MsgView for Tables<'_, M, I, S>
where
    M: ReadableTable<u64, &'static [u8]>,
    I: ReadableTable<(&'static [u8], u64), ()>,
    S: ReadableTable<&'static [u8], u64>,
{
    fn get(&self, seq: u64) -> StoreResult<Option<StoredMessage>> {
        let Some(guard) = self.messages.get(seq).map_err(|e| db_err(self.path, e))? else {
            return Ok(None);
        };
        let d = decode(guard.value()).map_err(|e| record_err(self.path, seq, e))?;
        Ok(Some(StoredMessage {
            seq,
            timestamp: d.timestamp,
            subject: d.subject,
            headers: d.headers,
            payload: d.payload,
        }))
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
        let range = self
            .messages
            .range(from..=to)
            .map_err(|e| db_err(self.path, e))?;
        let visit = |entry: Result<_, redb::StorageError>| -> StoreResult<ControlFlow<()>> {
            let (k, v): (redb::AccessGuard<u64>, redb::AccessGuard<&[u8]>) =
                entry.map_err(|e| db_err(self.path, e))?;
            let seq = k.value();
            let rec = v.value();
            let h = parse_header(rec).map_err(|e| record_err(self.path, seq, e))?;
            Ok(f(MsgInfo {
                seq,
                subject: h.subject(rec),
                timestamp: h.timestamp,
                headers_len: h.headers_len,
                payload_len: h.payload_len,
            }))
        };
        walk(range, rev, visit)
    }

    fn subject_count(&self, subject: &[u8]) -> StoreResult<u64> {
        let count = self
            .subjects
            .get(subject)
            .map_err(|e| db_err(self.path, e))?;
        Ok(count.map_or(0, |g| g.value()))
    }

    fn subject_seqs(
        &self,
        subject: &[u8],
        from: u64,
        to: u64,
        rev: bool,
        f: &mut dyn FnMut(u64) -> ControlFlow<()>,
    ) -> StoreResult<()> {
        if from > to {
            return Ok(());
        }
        let range = self
            .index
            .range((subject, from)..=(subject, to))
            .map_err(|e| db_err(self.path, e))?;
        let visit = |entry: Result<_, redb::StorageError>| -> StoreResult<ControlFlow<()>> {
            let (k, _): (redb::AccessGuard<(&[u8], u64)>, redb::AccessGuard<()>) =
                entry.map_err(|e| db_err(self.path, e))?;
            Ok(f(k.value().1))
        };
        walk(range, rev, visit)
    }

    fn subjects(&self, f: &mut dyn FnMut(&[u8], u64) -> ControlFlow<()>) -> StoreResult<()> {
        for entry in self.subjects.iter().map_err(|e| db_err(self.path, e))? {
            let (k, v) = entry.map_err(|e| db_err(self.path, e))?;
            if f(k.value(), v.value()).is_break() {
                break;
            }
        }
        Ok(())
    }
}

impl MsgTables for WriteTables<'_, '_> {
    fn insert(&mut self, seq: u64, msg: &NewMessage) -> StoreResult<bool> {
        let s = &msg.subject;
        let record = Encoded::new(msg, self.compress);
        let path = self.path;
        {
            // Written in place in the page: no intermediate record buffer.
            let mut guard = self
                .messages
                .insert_reserve(seq, record.len())
                .map_err(|e| db_err(path, e))?;
            record.write(guard.as_mut());
        }
        self.index
            .insert((s.as_ref(), seq), ())
            .map_err(|e| db_err(path, e))?;
        let count = self.subject_count(s)?;
        self.subjects
            .insert(s.as_ref(), count + 1)
            .map_err(|e| db_err(path, e))?;
        Ok(count == 0)
    }

    fn remove(&mut self, seq: u64) -> StoreResult<Option<Removed>> {
        let path = self.path;
        let (subject, h) = {
            let Some(guard) = self.messages.remove(seq).map_err(|e| db_err(path, e))? else {
                return Ok(None);
            };
            let rec = guard.value();
            let h = parse_header(rec).map_err(|e| record_err(path, seq, e))?;
            (h.subject(rec).to_vec(), h)
        };
        let indexed = self
            .index
            .remove((subject.as_slice(), seq))
            .map_err(|e| db_err(path, e))?
            .is_some();
        if !indexed {
            return Err(record_err(path, seq, "missing from the subject index"));
        }
        let count = self.subject_count(&subject)?;
        let subject_emptied = count <= 1;
        if subject_emptied {
            self.subjects
                .remove(subject.as_slice())
                .map_err(|e| db_err(path, e))?;
        } else {
            self.subjects
                .insert(subject.as_slice(), count - 1)
                .map_err(|e| db_err(path, e))?;
        }
        Ok(Some(Removed {
            subject_len: h.subject_len,
            headers_len: h.headers_len,
            payload_len: h.payload_len,
            subject_emptied,
        }))
    }

    fn clear(&mut self) -> StoreResult<()> {
        let path = self.path;
        self.messages
            .retain(|_, _| false)
            .map_err(|e| db_err(path, e))?;
        self.index
            .retain(|_, _| false)
            .map_err(|e| db_err(path, e))?;
        self.subjects
            .retain(|_, _| false)
            .map_err(|e| db_err(path, e))?;
        Ok(())
    }
}

/// The meta keys, in the order [`write_meta`] writes them.
const META_KEYS: [&str; 8] = [
    "format",
    "messages",
    "bytes",
    "first_seq",
    "first_ts",
    "last_seq",
    "last_ts",
    "num_subjects",
];

/// Writes the format version and `state` into `meta`.
pub(super) fn write_meta(
    path: &Path,
    meta: &mut Table<'_, &'static str, u64>,
    state: &StreamState,
) -> StoreResult<()> {
    let values = [
        FORMAT_VERSION,
        state.messages,
        state.bytes,
        state.first_seq,
        state.first_ts as u64,
        state.last_seq,
        state.last_ts as u64,
        state.num_subjects,
    ];
    for (key, value) in META_KEYS.iter().zip(values) {
        meta.insert(*key, value).map_err(|e| db_err(path, e))?;
    }
    Ok(())
}

/// Reads the format version and the state back; a missing key is corruption.
pub(super) fn read_meta<T: ReadableTable<&'static str, u64>>(
    path: &Path,
    meta: &T,
) -> StoreResult<(u64, StreamState)> {
    let mut values = [0u64; 8];
    for (key, value) in META_KEYS.iter().zip(values.iter_mut()) {
        let guard = meta.get(*key).map_err(|e| db_err(path, e))?;
        *value = guard
            .ok_or_else(|| StoreError::Corrupt {
                path: path.to_owned(),
                reason: format!("metadata key {key} is missing"),
            })?
            .value();
    }
    let [format, messages, bytes, first_seq, first_ts, last_seq, last_ts, num_subjects] = values;
    let mut state = StreamState {
        messages,
        bytes,
        first_seq,
        first_ts: first_ts as i64,
        last_seq,
        last_ts: last_ts as i64,
        num_subjects,
        num_deleted: 0,
    };
    state.refresh_deleted();
    Ok((format, state))
}

/// Cheap agreement checks between the counters and the tables (O(1) reads
/// of B-tree lengths and edges), run at every open.
pub(super) fn check_meta<M, I, S>(t: &Tables<'_, M, I, S>, state: &StreamState) -> StoreResult<()>
where
    M: ReadableTable<u64, &'static [u8]>,
    I: ReadableTable<(&'static [u8], u64), ()>,
    S: ReadableTable<&'static [u8], u64>,
{
    let e = |err| db_err(t.path, err);
    let messages = t.messages.len().map_err(e)?;
    let indexed = t.index.len().map_err(e)?;
    let subjects = t.subjects.len().map_err(e)?;
    let mut problems = Vec::new();
    if messages != state.messages || indexed != state.messages {
        problems.push(format!(
            "{messages} messages and {indexed} index entries, metadata says {}",
            state.messages
        ));
    }
    if subjects != state.num_subjects {
        problems.push(format!(
            "{subjects} subjects, metadata says {}",
            state.num_subjects
        ));
    }
    let first = t.messages.first().map_err(e)?.map(|(k, _)| k.value());
    let last = t.messages.last().map_err(e)?.map(|(k, _)| k.value());
    if let (Some(first), Some(last)) = (first, last) {
        if first != state.first_seq || last > state.last_seq {
            problems.push(format!(
                "messages {first}..={last}, metadata says {}..={}",
                state.first_seq, state.last_seq
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Corrupt {
            path: t.path.to_owned(),
            reason: format!("metadata disagrees with contents: {}", problems.join("; ")),
        })
    }
}

/// Visit a table range forwards or backwards until `visit` says stop.
fn walk<I, F>(range: I, rev: bool, mut visit: F) -> StoreResult<()>
where
    I: DoubleEndedIterator,
    F: FnMut(I::Item) -> StoreResult<ControlFlow<()>>,
{
    if rev {
        for entry in range.rev() {
            if visit(entry)?.is_break() {
                break;
            }
        }
    } else {
        for entry in range {
            if visit(entry)?.is_break() {
                break;
            }
        }
    }
    Ok(())
}
