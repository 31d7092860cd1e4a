//! The write transaction that carries groups applied but not yet committed
//! to redb (journal mode).
//!
//! A group is acknowledged once it is applied and journaled: the journal is
//! what survives `kill -9`. Committing it to redb right away would add a
//! commit (about as much work again as applying a one-message group) to
//! every acknowledgement, so groups pile up in one open transaction, and
//! it is committed (without fsync) when a reader needs to see them, when
//! the store thread's short timer fires, when it holds many groups, or at a
//! checkpoint. Readers check [`OpenTxn::unseen`] first: a read never misses
//! a write whose acknowledgement was sent before the read began.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::WriteTransaction;

/// Groups older than this are committed by the store thread.
const COMMIT_AFTER: Duration = Duration::from_millis(2);
/// At most this many groups wait in the open transaction.
const MAX_GROUPS: usize = 256;

#[derive(Default)]
pub(super) struct OpenTxn {
    txn: Option<WriteTransaction>,
    /// When its first group was applied.
    since: Option<Instant>,
    groups: usize,
    /// Set (before any of its groups is acknowledged) while the open
    /// transaction holds groups readers cannot see.
    unseen: Arc<AtomicBool>,
    /// Set by the first group of a new open transaction, until the store
    /// thread is told to arm its timer.
    pub arm_timer: bool,
}

impl OpenTxn {
    /// The flag readers check.
    pub(super) fn unseen(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.unseen)
    }

    /// The transaction, with whether it already holds groups.
    pub(super) fn take(&mut self) -> Option<WriteTransaction> {
        self.txn.take()
    }

    pub(super) fn holds_groups(&self) -> bool {
        self.groups > 0
    }

    /// Keeps `txn`, which now holds one more applied group.
    pub(super) fn keep(&mut self, txn: WriteTransaction) {
        self.unseen.store(true, Ordering::Release);
        self.txn = Some(txn);
        self.groups += 1;
        if self.since.is_none() {
            self.since = Some(Instant::now());
            self.arm_timer = true;
        }
    }

    /// Its groups were committed (or are gone with a failed store).
    pub(super) fn settled(&mut self) {
        self.txn = None;
        self.since = None;
        self.groups = 0;
        self.unseen.store(false, Ordering::Release);
    }

    /// How long until the store thread should commit it.
    pub(super) fn wait(&self) -> Option<Duration> {
        self.since
            .map(|since| COMMIT_AFTER.saturating_sub(since.elapsed()))
    }

    pub(super) fn commit_due(&self) -> bool {
        self.groups >= MAX_GROUPS || self.wait().is_some_and(|w| w.is_zero())
    }
}
