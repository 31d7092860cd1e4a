//! `RedbStore`: a stream on disk, in its own redb database.
//!
//! **One database per stream directory** (`<dir>/stream.redb`), not one per
//! `store_dir`: a damaged file takes down one stream and the rest keep
//! serving; deleting a stream is deleting its directory (redb never shrinks a
//! file by itself, so deleting a big stream's rows from a shared file would
//! leave the space allocated); and each stream has its own writer, so a busy
//! stream's commits never queue behind another's. The cost is one fsync per
//! stream per group commit, and one idle writer thread per open stream.
//! The stream's consumers' state lives in the same file and dies with it.
//!
//! Writes go through one writer (`writer.rs`) with group commit; who runs
//! it is `write_path.rs`'s business, and acknowledged groups may wait in an
//! open transaction (`open_txn.rs`) that a read commits first. No caller hears `Ok` before its write
//! survives `kill -9` (or power loss with `sync_interval: always`).
//! Reads open a redb read transaction (MVCC: they never wait for the
//! writer): lookups (a message, a batch by sequence or literal subject) run
//! right where they are asked, scans on tokio's blocking pool (inline when
//! called outside a runtime: tools, tests). `open.rs` has the recovery
//! rules.

use std::collections::BTreeMap;
use std::future::ready;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use redb::{Database, ReadOnlyTable, ReadableDatabase};
use tokio::sync::oneshot;

use super::consumer::{ConsumerState, ConsumerStateStore};
use super::engine::Engine;
use super::error::StoreError;
use super::query;
use super::types::{
    AppendOptions, NewMessage, PurgeRequest, SimpleState, StorageKind, StoreLimits, StoredMessage,
    StreamState, Timestamp,
};
use super::view::{MsgView, StoreResult};
use super::{MessageStore, StoreFuture};

mod journal;
mod open;
mod open_txn;
mod record;
mod tables;
mod write_path;
mod writer;

use tables::{read_meta, Tables, CONSUMERS, MESSAGES, META, SUBJECTS, SUBJECT_INDEX};
use write_path::{BatchLimits, WritePath};
use writer::{Command, Op, Writer};

/// How a redb store is opened.
#[derive(Clone, Debug)]
pub struct RedbOptions {
    /// redb's page cache for this stream (redb's own default is 1 GiB, far
    /// too much per stream on an edge box).
    pub cache_bytes: usize,
    /// Checksum every page at open. Without it a file damaged while the
    /// broker was down may only show up later, as a panic inside redb.
    pub verify_on_open: bool,
    /// At most this many commands share one commit.
    pub max_batch: usize,
    /// At most about this many bytes share one commit.
    pub max_batch_bytes: usize,
    /// How often acknowledged writes are fsync'd: `Some(interval)` journals
    /// each group (safe against `kill -9`) and checkpoints every interval;
    /// `None` fsyncs every group (safe against power loss).
    pub sync_interval: Option<Duration>,
    /// Store payloads compressed (`compression: s2`); changed later with
    /// [`MessageStore::set_compression`].
    pub compress: bool,
}

impl Default for RedbOptions {
    fn default() -> Self {
        RedbOptions {
            cache_bytes: 64 << 20,
            verify_on_open: true,
            max_batch: 4096,
            max_batch_bytes: 16 << 20,
            sync_interval: Some(DEFAULT_SYNC_INTERVAL),
            compress: false,
        }
    }
}

/// nats-server's default `sync_interval`.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(120);

/// A stream stored in `<dir>/stream.redb`.
pub struct RedbStore {
    path: Arc<Path>,
    writes: Arc<WritePath>,
    /// Set while acknowledged writes wait uncommitted in the writer's open
    /// transaction: a read first has them committed.
    unseen: Arc<AtomicBool>,
    /// The engine as of the last commit.
    snapshot: Arc<Mutex<Engine>>,
    /// Taken on close so the file is released once in-flight reads finish.
    db: Mutex<Option<Arc<Database>>>,
    /// Whether the writer compresses what it inserts.
    compress: Arc<AtomicBool>,
}

/// Applies the journal's groups the last durable commit does not contain,
/// then checkpoints so the journal starts empty.
fn replay(writer: &mut Writer, db: &Database, groups: Vec<journal::Group>) -> StoreResult<()> {
    let durable = writer.group;
    let mut replayed = 0usize;
    let journaled = !groups.is_empty();
    for (id, ops) in groups {
        if id <= durable {
            continue;
        }
        writer.group = id;
        writer.apply(db, ops.iter())?;
        replayed += 1;
    }
    if replayed > 0 {
        tracing::info!(
            path = %writer.path.display(),
            "replayed {replayed} journaled write groups after an unclean stop"
        );
    }
    if journaled {
        writer.checkpoint()?;
    }
    Ok(())
}

impl RedbStore {
    /// Opens the store in `dir` (creating it), recovering its state. Blocks
    /// on disk: call it from `spawn_blocking` or use [`Self::open_async`].
    pub fn open(dir: &Path, limits: StoreLimits, options: RedbOptions) -> StoreResult<RedbStore> {
        let (db, state) = open::open_database(dir, &options)?;
        let path: Arc<Path> = Arc::from(dir.join(open::FILE_NAME));
        let engine = Engine::new(StorageKind::File, limits, state);
        let snapshot = Arc::new(Mutex::new(engine.clone()));
        let (journal, groups) = journal::Journal::open(dir)?;
        let mut writer = Writer {
            path: Arc::clone(&path),
            db: Some(Arc::clone(&db)),
            engine,
            snapshot: Arc::clone(&snapshot),
            failed: None,
            journal: Some(journal),
            sync_interval: options.sync_interval.unwrap_or(DEFAULT_SYNC_INTERVAL),
            group: open::durable_group(&db, &path)?,
            unsynced_since: None,
            newly_unsynced: false,
            open: open_txn::OpenTxn::default(),
            compress: Arc::new(AtomicBool::new(options.compress)),
        };
        replay(&mut writer, &db, groups)?;
        if options.sync_interval.is_none() {
            writer.journal = None;
        }
        *snapshot.lock() = writer.engine.clone();
        let name = dir.file_name().map_or_else(
            || "tern-store".to_owned(),
            |n| format!("store:{}", n.to_string_lossy()),
        );
        let limits = BatchLimits {
            max_commands: options.max_batch.max(1),
            max_bytes: options.max_batch_bytes,
        };
        let unseen = writer.open.unseen();
        let compress = Arc::clone(&writer.compress);
        let writes = WritePath::start(writer, limits, name).map_err(|e| io_err(&path, e))?;
        Ok(RedbStore {
            path,
            writes,
            unseen,
            snapshot,
            db: Mutex::new(Some(db)),
            compress,
        })
    }

    /// [`Self::open`] on tokio's blocking pool.
    pub async fn open_async(
        dir: PathBuf,
        limits: StoreLimits,
        options: RedbOptions,
    ) -> StoreResult<RedbStore> {
        tokio::task::spawn_blocking(move || RedbStore::open(&dir, limits, options))
            .await
            .map_err(|e| StoreError::Inconsistent {
                reason: format!("open task failed: {e}"),
            })?
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hands `op` to the write path (`how`); the future resolves once it
    /// is committed.
    fn submit_with(&self, op: Op, how: impl FnOnce(&WritePath, Command)) -> StoreFuture<u64> {
        let (reply, rx) = oneshot::channel();
        how(&self.writes, Command { op, reply });
        // A dropped reply means the writer is gone.
        Box::pin(async move { rx.await.unwrap_or(Err(StoreError::Closed)) })
    }

    /// Queues `op` and commits it.
    fn submit(&self, op: Op) -> StoreFuture<u64> {
        self.submit_with(op, WritePath::submit)
    }

    /// Runs `f` over a read transaction, on the blocking pool when in a
    /// tokio runtime (for scans that may touch much of the file). It sees
    /// one committed snapshot, counters included.
    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&ReadTables<'_>, &StreamState) -> StoreResult<T> + Send + 'static,
    ) -> StoreFuture<T> {
        match self.read_job(f) {
            Some(job) => on_blocking_pool(job),
            None => Box::pin(ready(Err(StoreError::Closed))),
        }
    }

    /// [`Self::read`] run right here, for bounded lookups (a message, a
    /// batch): a read transaction never waits for the writer, and a lookup
    /// costs less than the hand-off to the blocking pool and back.
    fn read_now<T: Send + 'static>(
        &self,
        f: impl FnOnce(&ReadTables<'_>, &StreamState) -> StoreResult<T> + Send + 'static,
    ) -> StoreFuture<T> {
        Box::pin(ready(match self.read_job(f) {
            Some(job) => job(),
            None => Err(StoreError::Closed),
        }))
    }

    /// Has every acknowledged write committed, so a read transaction
    /// begun after this sees it.
    fn make_visible(&self) {
        if self.unseen.load(Ordering::Acquire) {
            self.writes.commit_open();
        }
    }

    /// `f` over a read transaction of the open database (`None`: closed).
    fn read_job<T>(
        &self,
        f: impl FnOnce(&ReadTables<'_>, &StreamState) -> StoreResult<T>,
    ) -> Option<impl FnOnce() -> StoreResult<T>> {
        self.make_visible();
        let db = self.db.lock().clone()?;
        let path = Arc::clone(&self.path);
        Some(move || -> StoreResult<T> {
            let txn = db.begin_read().map_err(|e| db_err(&path, e))?;
            let open = |e: redb::TableError| db_err(&path, e);
            let (_, state) = read_meta(&path, &txn.open_table(META).map_err(open)?)?;
            let tables = Tables {
                path: &path,
                messages: txn.open_table(MESSAGES).map_err(open)?,
                index: txn.open_table(SUBJECT_INDEX).map_err(open)?,
                subjects: txn.open_table(SUBJECTS).map_err(open)?,
                compress: false,
            };
            f(&tables, &state)
        })
    }

    /// Reads the consumers table.
    fn read_consumers<T: Send + 'static>(
        &self,
        f: impl FnOnce(&ReadOnlyTable<&'static str, &'static [u8]>, &Path) -> StoreResult<T>
            + Send
            + 'static,
    ) -> StoreFuture<T> {
        self.make_visible();
        let Some(db) = self.db.lock().clone() else {
            return Box::pin(ready(Err(StoreError::Closed)));
        };
        let path = Arc::clone(&self.path);
        on_blocking_pool(move || -> StoreResult<T> {
            let txn = db.begin_read().map_err(|e| db_err(&path, e))?;
            let table = txn.open_table(CONSUMERS).map_err(|e| db_err(&path, e))?;
            f(&table, &path)
        })
    }
}

/// Runs `job` on tokio's blocking pool, or right here outside a runtime
/// (tools, tests).
fn on_blocking_pool<T: Send + 'static>(
    job: impl FnOnce() -> StoreResult<T> + Send + 'static,
) -> StoreFuture<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => Box::pin(async move {
            rt.spawn_blocking(job).await.unwrap_or_else(|e| {
                Err(StoreError::Inconsistent {
                    reason: format!("read task failed: {e}"),
                })
            })
        }),
        Err(_) => Box::pin(ready(job())),
    }
}

/// The tables of a read transaction.
type ReadTables<'p> = Tables<
    'p,
    ReadOnlyTable<u64, &'static [u8]>,
    ReadOnlyTable<(&'static [u8], u64), ()>,
    ReadOnlyTable<&'static [u8], u64>,
>;

impl MessageStore for RedbStore {
    fn kind(&self) -> StorageKind {
        StorageKind::File
    }

    fn state(&self) -> StreamState {
        self.snapshot.lock().state
    }

    fn limits(&self) -> StoreLimits {
        self.snapshot.lock().limits
    }

    fn next_expiry(&self) -> Option<Timestamp> {
        self.snapshot.lock().next_expiry()
    }

    fn append(&self, msg: NewMessage, opts: AppendOptions) -> StoreFuture<u64> {
        self.submit(Op::Append(msg, opts))
    }

    fn append_deferred(&self, msg: NewMessage, opts: AppendOptions) -> StoreFuture<u64> {
        self.submit_with(Op::Append(msg, opts), |w, cmd| {
            w.push(cmd);
        })
    }

    fn commit_deferred(&self) {
        self.writes.drive();
    }

    fn remove(&self, seq: u64) -> StoreFuture<bool> {
        let done = self.submit(Op::Remove(seq));
        Box::pin(async move { done.await.map(|n| n == 1) })
    }

    fn purge(&self, req: PurgeRequest) -> StoreFuture<u64> {
        self.submit(Op::Purge(req))
    }

    fn compact(&self, seq: u64) -> StoreFuture<u64> {
        self.submit(Op::Compact(seq))
    }

    fn skip_to(&self, seq: u64) -> StoreFuture<u64> {
        self.submit(Op::SkipTo(seq))
    }

    fn expire(&self, now: Timestamp) -> StoreFuture<u64> {
        self.submit(Op::Expire(now))
    }

    fn set_limits(&self, limits: StoreLimits) -> StoreFuture<u64> {
        self.submit(Op::SetLimits(limits))
    }

    fn set_compression(&self, on: bool) {
        self.compress.store(on, Ordering::Relaxed);
    }

    fn load(&self, seq: u64) -> StoreFuture<Option<StoredMessage>> {
        self.read_now(move |t, _| t.get(seq))
    }

    fn load_next(&self, from: u64, filter: Option<&[u8]>) -> StoreFuture<Option<StoredMessage>> {
        let lookup = query::is_lookup(filter);
        let filter = filter.map(Bytes::copy_from_slice);
        let f =
            move |t: &ReadTables<'_>, _: &StreamState| query::load_next(t, from, filter.as_deref());
        if lookup {
            self.read_now(f)
        } else {
            self.read(f)
        }
    }

    fn load_batch(
        &self,
        from: u64,
        filter: Option<&[u8]>,
        max_msgs: usize,
        max_bytes: usize,
    ) -> StoreFuture<Vec<StoredMessage>> {
        let lookup = query::is_lookup(filter);
        let filter = filter.map(Bytes::copy_from_slice);
        let f = move |t: &ReadTables<'_>, _: &StreamState| {
            query::load_batch(t, from, filter.as_deref(), max_msgs, max_bytes)
        };
        if lookup {
            self.read_now(f)
        } else {
            self.read(f)
        }
    }

    fn load_last(&self, filter: &[u8]) -> StoreFuture<Option<StoredMessage>> {
        let lookup = query::is_lookup(Some(filter));
        let filter = Bytes::copy_from_slice(filter);
        let f = move |t: &ReadTables<'_>, _: &StreamState| query::load_last(t, &filter);
        if lookup {
            self.read_now(f)
        } else {
            self.read(f)
        }
    }

    fn last_per_subject(&self, filter: Option<&[u8]>) -> StoreFuture<Vec<u64>> {
        let filter = filter.map(Bytes::copy_from_slice);
        self.read(move |t, _| query::last_per_subject(t, filter.as_deref()))
    }

    fn filtered_state(&self, from: u64, filter: Option<&[u8]>) -> StoreFuture<SimpleState> {
        let filter = filter.map(Bytes::copy_from_slice);
        self.read(move |t, s| query::filtered_state(t, s, from, filter.as_deref()))
    }

    fn subjects_state(&self, filter: Option<&[u8]>) -> StoreFuture<BTreeMap<Bytes, u64>> {
        let filter = filter.map(Bytes::copy_from_slice);
        self.read(move |t, _| query::subjects_state(t, filter.as_deref()))
    }

    fn seq_from_time(&self, ts: Timestamp) -> StoreFuture<u64> {
        self.read(move |t, s| query::seq_from_time(t, s, ts))
    }

    fn deleted(&self) -> StoreFuture<Vec<u64>> {
        self.read(|t, s| query::deleted(t, s))
    }

    fn check_consistency(&self) -> StoreFuture<Result<(), String>> {
        self.read(|t, s| query::check_consistency(t, s, StorageKind::File))
    }

    fn close(&self) -> StoreFuture<()> {
        let done = self.submit_with(Op::Close, WritePath::close);
        // Reads that already hold the database finish.
        self.db.lock().take();
        Box::pin(async move {
            match done.await {
                Ok(_) | Err(StoreError::Closed) => Ok(()),
                Err(e) => Err(e),
            }
        })
    }
}

impl ConsumerStateStore for RedbStore {
    fn save_consumer_state(&self, name: &str, state: &ConsumerState) -> StoreFuture<()> {
        let done = self.submit(Op::SaveConsumer(name.to_owned(), state.encode()));
        Box::pin(async move { done.await.map(|_| ()) })
    }

    fn load_consumer_state(&self, name: &str) -> StoreFuture<Option<ConsumerState>> {
        let name = name.to_owned();
        self.read_consumers(move |table, path| {
            let Some(guard) = table.get(name.as_str()).map_err(|e| db_err(path, e))? else {
                return Ok(None);
            };
            ConsumerState::decode(guard.value())
                .map(Some)
                .map_err(|why| StoreError::Corrupt {
                    path: path.to_owned(),
                    reason: format!("consumer {name}: {why}"),
                })
        })
    }

    fn delete_consumer_state(&self, name: &str) -> StoreFuture<bool> {
        let done = self.submit(Op::DeleteConsumer(name.to_owned()));
        Box::pin(async move { done.await.map(|n| n == 1) })
    }

    fn consumer_names(&self) -> StoreFuture<Vec<String>> {
        self.read_consumers(|table, path| {
            let mut names = Vec::new();
            for entry in redb::ReadableTable::iter(table).map_err(|e| db_err(path, e))? {
                let (k, _) = entry.map_err(|e| db_err(path, e))?;
                names.push(k.value().to_owned());
            }
            Ok(names)
        })
    }
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .field("state", &self.state())
            .finish()
    }
}

/// Maps a redb error to the store's vocabulary: damage is `Corrupt`, I/O
/// is `Io`, the rest keeps redb's own words.
pub(super) fn db_err(path: &Path, err: impl Into<redb::Error>) -> StoreError {
    match err.into() {
        redb::Error::Corrupted(reason) => StoreError::Corrupt {
            path: path.to_owned(),
            reason,
        },
        redb::Error::Io(e) => io_err(path, e),
        redb::Error::ValueTooLarge(size) => StoreError::MessageTooLarge { size: size as u64 },
        other => StoreError::Database {
            path: path.to_owned(),
            source: Arc::new(other),
        },
    }
}

pub(super) fn io_err(path: &Path, err: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_owned(),
        source: Arc::new(err),
    }
}
