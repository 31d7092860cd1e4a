//! File store only: state and contents survive close and reopen; the file is
//! locked while open; a closed store refuses writes.

use std::path::Path;

use tern::jetstream::store::{
    ConsumerState, ConsumerStateStore, MessageStore, PurgeRequest, RedbOptions, RedbStore,
    SequencePair, StoreError, StoreLimits,
};

use crate::{consistent, put};

fn open(dir: &Path) -> RedbStore {
    RedbStore::open(dir, StoreLimits::default(), RedbOptions::default()).expect("open")
}

#[tokio::test]
async fn restart_recovers_state_messages_and_consumers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("orders");
    let s = open(&dir);
    for n in 1..=20 {
        put(&s, &format!("o.{}", n % 4), &format!("m{n}"), n).await;
    }
    s.remove(7).await.unwrap();
    s.purge(PurgeRequest {
        up_to_seq: Some(4),
        ..Default::default()
    })
    .await
    .unwrap();
    let consumer = ConsumerState {
        delivered: SequencePair {
            consumer_seq: 3,
            stream_seq: 12,
        },
        ..Default::default()
    };
    s.save_consumer_state("dur", &consumer).await.unwrap();
    let before = s.state();
    let before_msgs = s.load_batch(0, None, 100, usize::MAX).await.unwrap();
    s.close().await.unwrap();
    drop(s);

    let s = open(&dir);
    assert_eq!(s.state(), before);
    assert_eq!(
        s.load_batch(0, None, 100, usize::MAX).await.unwrap(),
        before_msgs
    );
    assert_eq!(s.load_consumer_state("dur").await.unwrap(), Some(consumer));
    assert_eq!(s.deleted().await.unwrap(), vec![7]);
    assert_eq!(put(&s, "o.1", "next", 21).await, 21);
    consistent(&s).await;
    s.close().await.unwrap();
}

#[tokio::test]
async fn emptied_store_reopens_after_its_last_sequence() {
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    for n in 1..=5 {
        put(&s, "a", "x", n).await;
    }
    s.purge(PurgeRequest::all()).await.unwrap();
    s.close().await.unwrap();
    drop(s);
    let s = open(tmp.path());
    let st = s.state();
    assert_eq!(
        (st.messages, st.first_seq, st.last_seq, st.last_ts),
        (0, 6, 5, 5)
    );
    assert_eq!(put(&s, "a", "x", 6).await, 6);
    s.close().await.unwrap();
}

#[tokio::test]
async fn second_open_is_refused_while_open() {
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    let again = RedbStore::open(tmp.path(), StoreLimits::default(), RedbOptions::default());
    assert!(
        matches!(again, Err(StoreError::AlreadyOpen { .. })),
        "{again:?}"
    );
    s.close().await.unwrap();
    drop(s);
    open(tmp.path()).close().await.unwrap();
}

#[tokio::test]
async fn closed_store_refuses_writes_and_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    put(&s, "a", "x", 1).await;
    s.close().await.unwrap();
    let err = s.append(crate::msg("a", "y", 2), Default::default()).await;
    assert!(matches!(err, Err(StoreError::Closed)), "{err:?}");
    assert!(matches!(s.load(1).await, Err(StoreError::Closed)));
    assert_eq!(
        s.state().messages,
        1,
        "the last committed state stays readable"
    );
}

#[test]
fn works_outside_a_runtime() {
    // Tools and `spawn_blocking` callers have no runtime: reads run inline,
    // and the futures can be driven by any executor.
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    let seq = block_on(s.append(crate::msg("a", "x", 1), Default::default()));
    assert_eq!(seq.unwrap(), 1);
    let m = block_on(s.load(1)).unwrap().unwrap();
    assert_eq!(&m.payload[..], b"x");
    block_on(s.close()).unwrap();
}

/// Drives a future on a throwaway current-thread runtime that is not
/// entered while the store call is made.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// With a sync interval (the default) acknowledged groups go to the journal
/// until a checkpoint (here: close) empties it — `crash.rs` shows they are
/// replayed after `kill -9`. With `sync_interval: always` every group is
/// fsync'd and the journal stays empty.
#[tokio::test]
async fn journal_carries_unsynced_groups_and_always_skips_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let journal = dir.join("journal.log");
    {
        let s = open(&dir);
        for n in 1..=5 {
            put(&s, "j.a", &format!("m{n}"), n).await;
        }
        assert!(std::fs::metadata(&journal).unwrap().len() > 0);
        s.close().await.unwrap();
        assert_eq!(std::fs::metadata(&journal).unwrap().len(), 0);
    }
    let s = open(&dir);
    assert_eq!(s.state().messages, 5);
    assert_eq!(std::fs::metadata(&journal).unwrap().len(), 0);
    consistent(&s).await;
    s.close().await.unwrap();

    let always = RedbOptions {
        sync_interval: None,
        ..RedbOptions::default()
    };
    let s = RedbStore::open(&dir, StoreLimits::default(), always).expect("open");
    put(&s, "j.a", "m6", 6).await;
    assert_eq!(std::fs::metadata(&journal).unwrap().len(), 0);
    assert_eq!(s.state().messages, 6);
    s.close().await.unwrap();
}

/// Without any close, the store thread checkpoints `sync_interval` after
/// the first unsynced write, and again after later writes (the timer is
/// re-armed by the first write after each checkpoint).
#[tokio::test]
async fn the_sync_interval_checkpoints_without_a_close() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    let journal = dir.join("journal.log");
    let options = RedbOptions {
        sync_interval: Some(std::time::Duration::from_millis(100)),
        ..RedbOptions::default()
    };
    let s = RedbStore::open(&dir, StoreLimits::default(), options).expect("open");
    let journal_len = || std::fs::metadata(&journal).unwrap().len();
    for round in 0..2u64 {
        for n in 1..=3 {
            put(&s, "t.a", &format!("r{round}m{n}"), (round * 3 + n) as i64).await;
        }
        assert!(journal_len() > 0, "round {round}: groups are journaled");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while journal_len() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: no checkpoint within 5 s of a 100 ms sync interval"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    assert_eq!(s.state().messages, 6);
    consistent(&s).await;
    s.close().await.unwrap();
}

/// An acknowledged write is visible to every read begun after its
/// acknowledgement, although the journal — not a redb commit — made it
/// durable: a read first commits what waits in the writer's open
/// transaction. Lookups (in place) and scans (blocking pool) alike.
#[tokio::test]
async fn acknowledged_writes_are_visible_to_reads_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    for n in 1..=200u64 {
        let seq = put(&s, "v.a", &format!("m{n}"), n as i64).await;
        let m = s.load(seq).await.unwrap().expect("just acknowledged");
        assert_eq!(&m.payload[..], format!("m{n}").as_bytes());
        let last = s.load_last(b"v.a").await.unwrap().map(|m| m.seq);
        assert_eq!(last, Some(seq));
        let counted = s.filtered_state(1, Some(b"v.*")).await.unwrap();
        assert_eq!((counted.messages, counted.last), (n, seq));
    }
    consistent(&s).await;
    s.close().await.unwrap();
}

#[tokio::test]
async fn compressed_records_read_back_after_reopen_in_less_space() {
    let tmp = tempfile::tempdir().unwrap();
    let reading = |n: u64| format!(r#"{{"device":"d{n}","celsius":21.5,"ok":true}}"#).repeat(30);
    let mut sizes = Vec::new();
    let mut states = Vec::new();
    for compress in [false, true] {
        let dir = tmp.path().join(format!("compress-{compress}"));
        let options = RedbOptions {
            compress,
            ..RedbOptions::default()
        };
        let s = RedbStore::open(&dir, StoreLimits::default(), options).expect("open");
        for n in 1..=500 {
            put(&s, &format!("t.{}", n % 5), &reading(n), n as i64).await;
        }
        put(&s, "t.short", "tiny", 501).await;
        s.remove(10).await.unwrap();
        s.close().await.unwrap();
        drop(s);
        // Reopened without compression: the records say how they are kept.
        let s = open(&dir);
        for n in [1, 11, 250, 500] {
            let m = s.load(n).await.unwrap().expect("stored");
            assert_eq!(m.payload, reading(n).as_bytes(), "message {n}");
        }
        assert_eq!(&s.load(501).await.unwrap().unwrap().payload[..], b"tiny");
        let last = s.load_last(b"t.0").await.unwrap().expect("stored");
        assert_eq!(
            (last.seq, &last.payload[..]),
            (500, reading(500).as_bytes())
        );
        put(&s, "t.1", &reading(502), 502).await;
        consistent(&s).await;
        states.push(s.state());
        s.close().await.unwrap();
        drop(s);
        sizes.push(std::fs::metadata(dir.join("stream.redb")).unwrap().len());
    }
    assert_eq!(
        states[0], states[1],
        "byte counts are of the messages as published"
    );
    assert!(
        sizes[1] * 3 < sizes[0],
        "compressed file {} bytes, plain {} bytes",
        sizes[1],
        sizes[0]
    );
}
