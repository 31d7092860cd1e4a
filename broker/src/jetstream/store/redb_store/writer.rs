//! The writer of one redb store: group commit.
//!
//! Every mutation is a [`Command`]. A group of them (whoever runs the
//! writer takes what is queued, see `write_path.rs`) is applied in order
//! inside a redb write transaction, made durable, the new state is
//! published, and only then is each caller answered.
//!
//! "Durable" has two levels, chosen by `sync_interval` (nats-server's
//! option of the same name):
//! - an interval (the default, 2 minutes as on nats-server): the group is
//!   appended to the [`Journal`] with one `write` — safe against `kill -9`
//!   of the broker, since the kernel keeps the written data — and left in
//!   the open transaction ([`OpenTxn`]), committed to redb without fsync
//!   once a reader needs it or shortly after; every interval a durable
//!   redb commit (checkpoint) makes everything safe against power loss too;
//! - `always`: every group is committed with `Durability::Immediate`, one
//!   fsync per group, safe against power loss before the caller hears `Ok`.
//!
//! A refusal (wrong expected sequence, discard new) answers one command and
//! writes nothing. Any other error aborts the transaction: the whole group
//! gets the error and the in-memory counters roll back with it; if the open
//! transaction also held earlier (acknowledged, journaled) groups, the
//! store fails, as it does when a commit fails (redb then refuses further
//! writes until reopened): every later write gets [`StoreError::Failed`],
//! and the next open replays the journal.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redb::{Database, Durability, WriteTransaction};
use tokio::sync::oneshot;

use super::super::engine::Engine;
use super::super::error::StoreError;
use super::super::types::{AppendOptions, NewMessage, PurgeRequest, StoreLimits, Timestamp};
use super::super::view::StoreResult;
use super::db_err;
use super::journal::{Journal, MAX_JOURNAL_BYTES};
use super::open_txn::OpenTxn;
use super::tables::{write_meta, Tables, CONSUMERS, MESSAGES, META, SUBJECTS, SUBJECT_INDEX};

/// The `meta` key holding the id of the last group a commit contains.
pub(super) const GROUP_KEY: &str = "journal_group";

/// One mutation.
pub(super) enum Op {
    Append(NewMessage, AppendOptions),
    Remove(u64),
    Purge(PurgeRequest),
    Compact(u64),
    SkipTo(u64),
    Expire(Timestamp),
    SetLimits(StoreLimits),
    SaveConsumer(String, Vec<u8>),
    DeleteConsumer(String),
    /// Commit what came before, release the file, stop.
    Close,
}

/// A mutation and where to send its outcome: the new sequence for an
/// append, a count for purges and limits, 0/1 for remove and delete.
pub(super) struct Command {
    pub op: Op,
    pub reply: oneshot::Sender<StoreResult<u64>>,
}

impl Command {
    pub(super) fn is_close(&self) -> bool {
        matches!(self.op, Op::Close)
    }

    /// Roughly how many bytes the command adds to a transaction.
    pub(super) fn weight(&self) -> usize {
        match &self.op {
            Op::Append(m, _) => 64 + m.subject.len() * 2 + m.headers.len() + m.payload.len(),
            Op::SaveConsumer(n, s) => n.len() + s.len(),
            _ => 64,
        }
    }
}

/// The engine state as of the last commit, shared with the store handle.
pub(super) type Snapshot = Arc<Mutex<Engine>>;

pub(super) struct Writer {
    pub path: Arc<Path>,
    pub db: Option<Arc<Database>>,
    pub engine: Engine,
    pub snapshot: Snapshot,
    /// Set when a commit failed; every later write gets it.
    pub failed: Option<StoreError>,
    /// `None` with `sync_interval: always`.
    pub journal: Option<Journal>,
    pub sync_interval: Duration,
    /// Id of the last group applied.
    pub group: u64,
    /// When the first write after the last durable commit was made.
    pub unsynced_since: Option<Instant>,
    /// Set by the first write after a checkpoint, until the store thread
    /// is told to arm its timer.
    pub newly_unsynced: bool,
    /// Groups applied and journaled, not yet committed to redb.
    pub open: OpenTxn,
    /// Compress inserted payloads (the stream's `compression`).
    pub compress: Arc<AtomicBool>,
}

impl Writer {
    /// How long until the next checkpoint is due; `None` when everything
    /// applied is durable already.
    pub(super) fn checkpoint_wait(&self) -> Option<Duration> {
        self.unsynced_since
            .map(|since| self.sync_interval.saturating_sub(since.elapsed()))
    }

    /// Whether a checkpoint is due: the interval has passed since the first
    /// write after the last one, or the journal has grown big.
    pub(super) fn checkpoint_due(&self) -> bool {
        self.checkpoint_wait().is_some_and(|w| w.is_zero()) || self.journal_full()
    }

    pub(super) fn is_unsynced(&self) -> bool {
        self.unsynced_since.is_some()
    }

    /// Whether `Close` has been applied.
    pub(super) fn is_closed(&self) -> bool {
        self.db.is_none()
    }

    fn journal_full(&self) -> bool {
        self.journal
            .as_ref()
            .is_some_and(|j| j.len() > MAX_JOURNAL_BYTES)
    }

    /// Whether the store thread must re-arm its timers (the first write
    /// since the last checkpoint, or into a new open transaction) or
    /// checkpoint now (journal full).
    pub(super) fn wants_thread(&mut self) -> bool {
        let arm =
            std::mem::take(&mut self.newly_unsynced) | std::mem::take(&mut self.open.arm_timer);
        arm || self.journal_full()
    }

    /// Fails the store: every later write gets `reason`. Groups waiting in
    /// the open transaction are dropped from redb's view (they are in the
    /// journal and come back at the next open).
    fn fail(&mut self, reason: String) {
        self.failed = Some(StoreError::Failed {
            path: self.path.to_path_buf(),
            reason,
        });
        drop(self.open.take());
        self.open.settled();
    }

    /// Commits the open transaction without fsync, so readers see its
    /// groups. A failure fails the store.
    pub(super) fn commit_open_or_fail(&mut self) {
        let Some(mut txn) = self.open.take() else {
            self.open.settled();
            return;
        };
        let committed = self
            .write_state(&mut txn)
            .and_then(|()| txn.commit().map_err(|e| db_err(&self.path, e)));
        match committed {
            Ok(()) => self.open.settled(),
            Err(e) => {
                tracing::error!("stream store {}: commit failed: {e}", self.path.display());
                self.fail(e.to_string());
            }
        }
    }

    /// Records the counters and the last group in `txn`'s meta table.
    fn write_state(&self, txn: &mut WriteTransaction) -> StoreResult<()> {
        let path = &*self.path;
        let mut meta = txn.open_table(META).map_err(|e| db_err(path, e))?;
        write_meta(path, &mut meta, &self.engine.state)?;
        meta.insert(GROUP_KEY, self.group)
            .map_err(|e| db_err(path, e))?;
        Ok(())
    }

    /// A checkpoint; a failure is logged and fails every later write.
    pub(super) fn checkpoint_or_fail(&mut self) {
        if self.failed.is_some() {
            return;
        }
        if let Err(e) = self.checkpoint() {
            tracing::error!(
                "stream store {}: checkpoint failed: {e}",
                self.path.display()
            );
            self.fail(e.to_string());
        }
    }

    /// Makes everything applied so far durable with one fsync'd redb
    /// commit (the open transaction's groups included), then empties the
    /// journal it makes redundant.
    pub(super) fn checkpoint(&mut self) -> StoreResult<()> {
        let Some(db) = self.db.clone() else {
            return Ok(());
        };
        let path = &*self.path;
        let mut txn = match self.open.take() {
            Some(txn) => txn,
            None => db.begin_write().map_err(|e| db_err(path, e))?,
        };
        txn.set_durability(Durability::Immediate)
            .map_err(|e| db_err(path, e))?;
        self.write_state(&mut txn)?;
        txn.commit().map_err(|e| db_err(path, e))?;
        self.open.settled();
        if let Some(j) = self.journal.as_mut() {
            j.reset()?;
        }
        self.unsynced_since = None;
        Ok(())
    }

    /// Applies and commits one group, answers every command in it.
    pub(super) fn commit_batch(&mut self, batch: &mut Vec<Command>) {
        let close = batch.iter().position(|c| matches!(c.op, Op::Close));
        // Commands after a Close are refused, not applied.
        let late: Vec<Command> = match close {
            Some(i) => batch.drain(i + 1..).collect(),
            None => Vec::new(),
        };
        let outcome = match (&self.failed, &self.db) {
            (Some(err), _) => Err(err.clone()),
            (None, None) => Err(StoreError::Closed),
            (None, Some(db)) => {
                let db = Arc::clone(db);
                let before = self.engine.clone();
                self.group += 1;
                let result = self
                    .apply(&db, batch.iter().map(|c| &c.op))
                    .and_then(|results| self.journal_group(batch).map(|()| results));
                if result.is_err() {
                    self.engine = before;
                }
                result
            }
        };
        match outcome {
            Ok(results) => {
                *self.snapshot.lock() = self.engine.clone();
                if close.is_some() {
                    self.checkpoint_or_fail();
                    // Release the file before anyone hears the close is done,
                    // so they can reopen it at once.
                    self.db = None;
                }
                for (cmd, result) in batch.drain(..).zip(results) {
                    let _ = cmd.reply.send(result);
                }
            }
            Err(err) => {
                for cmd in batch.drain(..) {
                    let _ = cmd.reply.send(Err(err.clone()));
                }
            }
        }
        for cmd in late {
            let _ = cmd.reply.send(Err(StoreError::Closed));
        }
    }

    /// Journals the group just applied (without a journal the commit was
    /// durable already). A failed write fails the store: the group is in
    /// redb but would not survive a crash, so nobody may hear `Ok` for it.
    fn journal_group(&mut self, batch: &[Command]) -> StoreResult<()> {
        let Some(journal) = self.journal.as_mut() else {
            return Ok(());
        };
        if let Err(e) = journal.append(self.group, batch.iter().map(|c| &c.op)) {
            self.fail(e.to_string());
            return Err(e);
        }
        if self.unsynced_since.is_none() {
            self.unsynced_since = Some(Instant::now());
            self.newly_unsynced = true;
        }
        Ok(())
    }

    /// Runs the ops in a write transaction. With a journal the transaction
    /// stays open for later groups ([`OpenTxn`]); without one it is
    /// committed durably here. `Err` means nothing of this group was kept.
    pub(super) fn apply<'a>(
        &mut self,
        db: &Database,
        ops: impl Iterator<Item = &'a Op>,
    ) -> StoreResult<Vec<StoreResult<u64>>> {
        let path = Arc::clone(&self.path);
        let lazy = self.journal.is_some();
        let earlier = self.open.holds_groups();
        let mut txn = match self.open.take() {
            Some(txn) => txn,
            None => {
                let mut txn = db.begin_write().map_err(|e| db_err(&path, e))?;
                let durability = if lazy {
                    Durability::None
                } else {
                    Durability::Immediate
                };
                txn.set_durability(durability)
                    .map_err(|e| db_err(&path, e))?;
                txn
            }
        };
        let results = match self.apply_ops(&mut txn, ops) {
            Ok(results) => results,
            Err(err) => {
                // Dropping the transaction aborts it, with any earlier
                // (acknowledged, journaled) groups it held.
                drop(txn);
                if earlier {
                    self.fail(format!(
                        "a write failed after acknowledged ones it was grouped with: {err}"
                    ));
                } else {
                    self.open.settled();
                }
                return Err(err);
            }
        };
        if lazy {
            self.open.keep(txn);
            return Ok(results);
        }
        self.write_state(&mut txn)?;
        if let Err(err) = txn.commit() {
            let err = db_err(&path, err);
            // redb refuses new write transactions after a failed commit;
            // only a reopen (which repairs) brings the store back.
            self.fail(err.to_string());
            return Err(err);
        }
        Ok(results)
    }

    /// The ops of one group inside `txn`; a refusal answers its op and
    /// changes nothing, any other error stops the group.
    fn apply_ops<'a>(
        &mut self,
        txn: &mut WriteTransaction,
        ops: impl Iterator<Item = &'a Op>,
    ) -> StoreResult<Vec<StoreResult<u64>>> {
        let path = &*self.path;
        let mut results = Vec::new();
        let mut tables = Tables {
            path,
            messages: txn.open_table(MESSAGES).map_err(|e| db_err(path, e))?,
            index: txn.open_table(SUBJECT_INDEX).map_err(|e| db_err(path, e))?,
            subjects: txn.open_table(SUBJECTS).map_err(|e| db_err(path, e))?,
            compress: self.compress.load(Ordering::Relaxed),
        };
        let mut consumers = txn.open_table(CONSUMERS).map_err(|e| db_err(path, e))?;
        let e = &mut self.engine;
        for op in ops {
            let result = match op {
                Op::Append(msg, opts) => e.append(&mut tables, msg, opts),
                Op::Remove(seq) => e.remove(&mut tables, *seq).map(u64::from),
                Op::Purge(req) => e.purge(&mut tables, req),
                Op::Compact(seq) => e.compact(&mut tables, *seq),
                Op::SkipTo(seq) => e.skip_to(&mut tables, *seq),
                Op::Expire(now) => e.expire(&mut tables, *now),
                Op::SetLimits(limits) => e.set_limits(&mut tables, *limits),
                Op::SaveConsumer(name, state) => consumers
                    .insert(name.as_str(), state.as_slice())
                    .map(|_| 0)
                    .map_err(|err| db_err(path, err)),
                Op::DeleteConsumer(name) => consumers
                    .remove(name.as_str())
                    .map(|old| u64::from(old.is_some()))
                    .map_err(|err| db_err(path, err)),
                Op::Close => Ok(0),
            };
            match result {
                Err(err) if !err.is_refusal() => return Err(err),
                result => results.push(result),
            }
        }
        Ok(results)
    }
}
