//! The message store's behavioural suite, run against both implementations,
//! plus the file store's own tests: restart recovery, kill -9 crash
//! consistency (the test binary re-executes itself as the writer), and
//! damaged files.
//!
//! Each suite test is a plain `async fn(Harness)`; [`suite!`] instantiates
//! it once with a memory store and once with a redb store, so both must
//! behave identically (byte counts aside, which follow nats-server per kind).

use bytes::Bytes;
use std::cell::Cell;
use tempfile::TempDir;
use tern::jetstream::store::{
    MemoryStore, MessageStore, NewMessage, RedbOptions, RedbStore, StorageKind, StoreLimits,
};

mod corrupt;
mod crash;
mod limits;
mod purge;
mod reads;
mod recovery;

/// Makes stores of one kind; file stores go in a fresh temp directory each.
pub struct Harness {
    dir: Option<TempDir>,
    next: Cell<u32>,
}

impl Harness {
    pub fn memory() -> Self {
        Harness {
            dir: None,
            next: Cell::new(0),
        }
    }

    pub fn file() -> Self {
        Harness {
            dir: Some(tempfile::tempdir().expect("temp dir")),
            next: Cell::new(0),
        }
    }

    pub fn kind(&self) -> StorageKind {
        if self.dir.is_some() {
            StorageKind::File
        } else {
            StorageKind::Memory
        }
    }

    pub fn store(&self, limits: StoreLimits) -> Box<dyn MessageStore> {
        match &self.dir {
            None => Box::new(MemoryStore::new(limits)),
            Some(dir) => {
                let n = self.next.get();
                self.next.set(n + 1);
                let path = dir.path().join(format!("stream-{n}"));
                Box::new(RedbStore::open(&path, limits, RedbOptions::default()).expect("open"))
            }
        }
    }

    /// A store without limits.
    pub fn plain(&self) -> Box<dyn MessageStore> {
        self.store(StoreLimits::default())
    }
}

/// A header-less message.
pub fn msg(subject: &str, payload: &str, ts: i64) -> NewMessage {
    NewMessage::new(
        Bytes::copy_from_slice(subject.as_bytes()),
        Bytes::copy_from_slice(payload.as_bytes()),
        ts,
    )
}

/// Appends and unwraps the sequence.
pub async fn put(store: &dyn MessageStore, subject: &str, payload: &str, ts: i64) -> u64 {
    store
        .append(msg(subject, payload, ts), Default::default())
        .await
        .expect("append")
}

/// Asserts the counters agree with the contents.
pub async fn consistent(store: &dyn MessageStore) {
    let check = store.check_consistency().await.expect("read");
    assert_eq!(check, Ok(()), "{:?}", store.state());
}

/// Runs each listed `module::test` against both stores.
macro_rules! suite {
    ($($module:ident: [$($test:ident),* $(,)?]),* $(,)?) => {
        mod memory {
            $(mod $module {
                $(#[tokio::test]
                async fn $test() {
                    crate::$module::$test(crate::Harness::memory()).await
                })*
            })*
        }
        mod file {
            $(mod $module {
                $(#[tokio::test]
                async fn $test() {
                    crate::$module::$test(crate::Harness::file()).await
                })*
            })*
        }
    };
}

suite! {
    limits: [
        sequences_and_state,
        headers_and_byte_accounting,
        max_msgs_discards_old,
        max_bytes_discards_old,
        max_age_expires,
        max_msgs_per_subject_keeps_newest,
        discard_new_refuses,
        expected_sequences,
        rollups,
        set_limits_applies_at_once,
    ],
    purge: [
        purge_all_continues_sequence,
        purge_by_filter,
        purge_keep,
        purge_up_to_sequence,
        purge_rejects_seq_with_keep,
        compact_below_and_past_end,
        removal_gaps,
        skip_to_leaves_a_gap,
    ],
    reads: [
        load_last_by_subject,
        filtered_iteration_with_wildcards,
        batches_respect_limits,
        filtered_and_subject_state,
        seq_from_time,
        consumer_state,
        random_operations_stay_consistent,
        concurrent_appends_get_unique_sequences,
    ],
}
