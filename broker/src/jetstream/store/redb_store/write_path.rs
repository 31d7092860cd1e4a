//! Who runs the writer: group commit without a hand-off per write.
//!
//! Every mutation is a [`Command`] pushed on one queue. With a journal
//! (`sync_interval` set, the default) a group commit costs a redb commit
//! without fsync and one `write`: tens of microseconds, less than waking
//! another thread and being woken back. So the submitter itself **combines**:
//! it takes the writer's lock if it is free and commits everything queued —
//! its own command and whatever others queued meanwhile — as one group. A
//! submitter finding the lock taken leaves its command to the holder, who
//! looks at the queue again after letting go of the lock, so no command is
//! ever stranded. A burst (a stream's ingest draining its inbox) queues with
//! [`WritePath::push`] first and commits once with [`WritePath::drive`].
//! A long queue means load: then the store thread commits it, so the
//! submitter (the ingest task) goes on taking messages in parallel and the
//! next group builds up meanwhile.
//!
//! The store's own thread (`store:<stream>`) does what must not block a
//! tokio worker for long: the periodic checkpoint (an fsync), the
//! checkpoint asked for when the journal grows big, long queues, and — with
//! `sync_interval: always`, where every group is fsync'd — all the
//! committing, as a classic writer thread.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;

use parking_lot::Mutex;

use super::super::error::StoreError;
use super::writer::{Command, Writer};

/// Submitters commit inline only while at most this many commands wait.
const INLINE_MAX: usize = 16;

/// Group limits: a commit carries at most this many commands or bytes, so
/// one huge burst cannot make the first caller wait for all of it.
pub(super) struct BatchLimits {
    pub max_commands: usize,
    pub max_bytes: usize,
}

#[derive(Default)]
struct Queue {
    commands: VecDeque<Command>,
    /// Set once `Close` is queued: later commands are refused at once.
    closed: bool,
}

/// The queue, the writer, and who drives it.
pub(super) struct WritePath {
    queue: Mutex<Queue>,
    writer: Mutex<Writer>,
    limits: BatchLimits,
    /// Submitters commit themselves (journal mode); otherwise the thread.
    inline: bool,
    /// Wakes the store thread; dropped with the store, which ends it.
    kick: Mutex<Option<Sender<()>>>,
}

impl WritePath {
    /// Starts the store thread named `name` for `writer`.
    pub(super) fn start(
        writer: Writer,
        limits: BatchLimits,
        name: String,
    ) -> std::io::Result<Arc<WritePath>> {
        let inline = writer.journal.is_some();
        let (tx, rx) = std::sync::mpsc::channel();
        let path = Arc::new(WritePath {
            queue: Mutex::new(Queue::default()),
            writer: Mutex::new(writer),
            limits,
            inline,
            kick: Mutex::new(Some(tx)),
        });
        let weak = Arc::downgrade(&path);
        std::thread::Builder::new()
            .name(name)
            .spawn(move || store_thread(&weak, &rx))?;
        Ok(path)
    }

    /// Queues `cmd` without committing; `false` (and `cmd` answered with
    /// `Closed`) once the store is closed.
    pub(super) fn push(&self, cmd: Command) -> bool {
        let mut q = self.queue.lock();
        if q.closed {
            drop(q);
            let _ = cmd.reply.send(Err(StoreError::Closed));
            return false;
        }
        q.closed = cmd.is_close();
        q.commands.push_back(cmd);
        true
    }

    /// Queues `cmd` and commits it (with whatever else is queued).
    pub(super) fn submit(&self, cmd: Command) {
        if self.push(cmd) {
            self.drive();
        }
    }

    /// Commits what is queued: here, one group, when submitters combine,
    /// the writer is free and the queue is short (a long queue is load:
    /// the store thread commits it while this task goes on with its work,
    /// and if the writer is busy its holder looks at the queue again when
    /// done).
    pub(super) fn drive(&self) {
        if !self.inline {
            self.kick();
            return;
        }
        loop {
            if self.queue.lock().commands.len() > INLINE_MAX {
                self.kick();
                return;
            }
            let Some(mut writer) = self.writer.try_lock() else {
                return;
            };
            let mut batch = self.take_batch();
            if !batch.is_empty() {
                writer.commit_batch(&mut batch);
            }
            let wants_thread = writer.wants_thread();
            drop(writer);
            if wants_thread {
                self.kick();
            }
            // A command queued while we held the lock found it taken and
            // relies on us.
            if self.queue.lock().commands.is_empty() {
                return;
            }
        }
    }

    /// Takes one group off the queue, within the batch limits.
    fn take_batch(&self) -> Vec<Command> {
        let mut batch = Vec::new();
        let mut q = self.queue.lock();
        let mut weight = 0;
        while batch.len() < self.limits.max_commands && weight < self.limits.max_bytes {
            let Some(cmd) = q.commands.pop_front() else {
                break;
            };
            weight += cmd.weight();
            batch.push(cmd);
        }
        batch
    }

    /// Commits the queue in groups until it is empty.
    fn drain(&self, writer: &mut Writer) {
        loop {
            let mut batch = self.take_batch();
            if batch.is_empty() {
                return;
            }
            writer.commit_batch(&mut batch);
        }
    }

    /// Commits the writer's open transaction (a reader needs its groups),
    /// then takes care of what was queued meanwhile.
    pub(super) fn commit_open(&self) {
        self.writer.lock().commit_open_or_fail();
        // Whoever held the writer looks at the queue after letting go.
        if self.inline && !self.queue.lock().commands.is_empty() {
            self.drive();
        }
    }

    fn kick(&self) {
        if let Some(tx) = &*self.kick.lock() {
            let _ = tx.send(());
        }
    }

    /// Queues `Close` for the store thread (its last checkpoint is an
    /// fsync, not for a tokio worker) and lets the thread end after it.
    pub(super) fn close(&self, cmd: Command) {
        if self.push(cmd) {
            self.kick();
        }
        self.kick.lock().take();
    }
}

/// The store thread: commits in `always` mode and long queues, checkpoints
/// every `sync_interval`, on request and at close. A store dropped without
/// a close leaves its journal to be replayed at the next open.
fn store_thread(path: &std::sync::Weak<WritePath>, rx: &Receiver<()>) {
    loop {
        let wait = match path.upgrade() {
            Some(p) => {
                let w = p.writer.lock();
                match (w.checkpoint_wait(), w.open.wait()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            None => break,
        };
        let woken = match wait {
            Some(wait) => rx.recv_timeout(wait),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let Some(p) = path.upgrade() else { break };
        {
            let mut writer = p.writer.lock();
            p.drain(&mut writer);
            // The timers are re-armed below in any case.
            writer.newly_unsynced = false;
            writer.open.arm_timer = false;
            if writer.open.commit_due() {
                writer.commit_open_or_fail();
            }
            let gone = matches!(woken, Err(RecvTimeoutError::Disconnected));
            if writer.checkpoint_due() || (gone && writer.is_unsynced()) {
                writer.checkpoint_or_fail();
            }
            if gone || writer.is_closed() {
                break;
            }
        }
        // What was queued while the thread held the writer.
        if p.inline {
            p.drive();
        }
    }
}
