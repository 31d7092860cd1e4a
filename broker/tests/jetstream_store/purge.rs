//! Purge in every form nats-server's purge request allows, compact, and
//! single-message removal with the gaps it leaves.

use bytes::Bytes;
use tern::jetstream::store::{MessageStore, PurgeRequest, StoreError};

use crate::{consistent, put, Harness};

/// Ten messages: seq n (1-based) on `s.<n % 3>`.
async fn ten(s: &dyn MessageStore) {
    for n in 1..=10 {
        put(s, &format!("s.{}", n % 3), &n.to_string(), n).await;
    }
}

fn filter(f: &'static str) -> Option<Bytes> {
    Some(Bytes::from_static(f.as_bytes()))
}

pub async fn purge_all_continues_sequence(h: Harness) {
    let s = h.plain();
    ten(&*s).await;
    assert_eq!(s.purge(PurgeRequest::all()).await.unwrap(), 10);
    let st = s.state();
    assert_eq!((st.messages, st.bytes, st.num_subjects), (0, 0, 0));
    assert_eq!(
        (st.first_seq, st.last_seq, st.first_ts, st.last_ts),
        (11, 10, 0, 10)
    );
    assert_eq!(st.num_deleted, 0);
    assert_eq!(put(&*s, "s.1", "x", 11).await, 11);
    assert_eq!(s.state().first_seq, 11);
    // `>` is "everything" too.
    let all = PurgeRequest {
        filter: filter(">"),
        ..Default::default()
    };
    assert_eq!(s.purge(all).await.unwrap(), 1);
    consistent(&*s).await;
}

pub async fn purge_by_filter(h: Harness) {
    let s = h.plain();
    ten(&*s).await;
    let req = PurgeRequest {
        filter: filter("s.1"),
        ..Default::default()
    };
    assert_eq!(s.purge(req).await.unwrap(), 4); // 1, 4, 7, 10
    let st = s.state();
    assert_eq!((st.messages, st.first_seq, st.last_seq), (6, 2, 10));
    assert_eq!((st.num_subjects, st.num_deleted), (2, 3));
    let req = PurgeRequest {
        filter: filter("s.*"),
        ..Default::default()
    };
    assert_eq!(s.purge(req).await.unwrap(), 6);
    let st = s.state();
    assert_eq!((st.messages, st.first_seq, st.last_seq), (0, 11, 10));
    consistent(&*s).await;
}

pub async fn purge_keep(h: Harness) {
    let s = h.plain();
    ten(&*s).await;
    // Keep the newest 2 of s.1 (7 and 10): purges 1 and 4.
    let req = PurgeRequest {
        filter: filter("s.1"),
        keep: Some(2),
        ..Default::default()
    };
    assert_eq!(s.purge(req).await.unwrap(), 2);
    assert_eq!(s.subjects_state(None).await.unwrap()[&b"s.1"[..]], 2);
    // Keep more than there are: nothing.
    let req = PurgeRequest {
        keep: Some(100),
        ..Default::default()
    };
    assert_eq!(s.purge(req).await.unwrap(), 0);
    // Keep the newest 3 overall.
    let req = PurgeRequest {
        keep: Some(3),
        ..Default::default()
    };
    assert_eq!(s.purge(req).await.unwrap(), 5);
    let st = s.state();
    assert_eq!((st.messages, st.first_seq, st.last_seq), (3, 8, 10));
    consistent(&*s).await;
}

pub async fn purge_up_to_sequence(h: Harness) {
    let s = h.plain();
    ten(&*s).await;
    // Filtered, below 8: s.2 has 2, 5, 8 -> purges 2 and 5.
    let req = PurgeRequest {
        filter: filter("s.2"),
        up_to_seq: Some(8),
        ..Default::default()
    };
    assert_eq!(s.purge(req).await.unwrap(), 2);
    // Unfiltered, below 6: 1, 3, 4 remain there -> 3 purged.
    let req = PurgeRequest {
        up_to_seq: Some(6),
        ..Default::default()
    };
    assert_eq!(s.purge(req).await.unwrap(), 3);
    let st = s.state();
    assert_eq!((st.messages, st.first_seq), (5, 6));
    consistent(&*s).await;
}

pub async fn purge_rejects_seq_with_keep(h: Harness) {
    let s = h.plain();
    ten(&*s).await;
    let req = PurgeRequest {
        up_to_seq: Some(5),
        keep: Some(1),
        ..Default::default()
    };
    let err = s.purge(req).await;
    assert!(matches!(err, Err(StoreError::InvalidPurge(_))), "{err:?}");
    assert_eq!(s.state().messages, 10);
}

pub async fn compact_below_and_past_end(h: Harness) {
    let s = h.plain();
    ten(&*s).await;
    assert_eq!(s.compact(4).await.unwrap(), 3);
    assert_eq!(s.compact(2).await.unwrap(), 0);
    let st = s.state();
    assert_eq!((st.messages, st.first_seq, st.first_ts), (7, 4, 4));
    // Past the end: empty, and the next message gets sequence 50.
    assert_eq!(s.compact(50).await.unwrap(), 7);
    let st = s.state();
    assert_eq!((st.messages, st.first_seq, st.last_seq), (0, 50, 49));
    assert_eq!(put(&*s, "s.0", "x", 50).await, 50);
    consistent(&*s).await;
}

pub async fn removal_gaps(h: Harness) {
    let s = h.plain();
    ten(&*s).await;
    assert!(s.remove(5).await.unwrap());
    assert!(s.remove(6).await.unwrap());
    assert!(!s.remove(6).await.unwrap(), "already gone");
    assert!(!s.remove(99).await.unwrap(), "never existed");
    let st = s.state();
    assert_eq!((st.messages, st.num_deleted), (8, 2));
    assert_eq!(s.deleted().await.unwrap(), vec![5, 6]);
    // Removing the first moves first_seq/first_ts to the next message.
    assert!(s.remove(1).await.unwrap());
    let st = s.state();
    assert_eq!((st.first_seq, st.first_ts, st.num_deleted), (2, 2, 2));
    // Removing the last keeps last_seq: it is a gap at the end.
    assert!(s.remove(10).await.unwrap());
    let st = s.state();
    assert_eq!((st.last_seq, st.num_deleted), (10, 3));
    assert_eq!(s.deleted().await.unwrap(), vec![5, 6, 10]);
    assert_eq!(put(&*s, "s.0", "x", 11).await, 11);
    // Subject counts follow removals: s.1 had 1, 4, 7, 10 → 4, 7.
    assert_eq!(s.subjects_state(None).await.unwrap()[&b"s.1"[..]], 2);
    consistent(&*s).await;
}

/// `skip_to` (mirrors following their origin's gaps): the next append takes
/// the given sequence; an empty store starts there; nothing happens for a
/// sequence not past the end.
pub async fn skip_to_leaves_a_gap(h: Harness) {
    let s = h.plain();
    assert_eq!(s.skip_to(5).await.unwrap(), 4);
    let st = s.state();
    assert_eq!((st.messages, st.first_seq, st.last_seq), (0, 5, 4));
    assert_eq!(put(&*s, "s.1", "a", 1).await, 5);
    assert_eq!(s.skip_to(9).await.unwrap(), 3);
    assert_eq!(put(&*s, "s.1", "b", 2).await, 9);
    let st = s.state();
    assert_eq!(
        (st.messages, st.first_seq, st.last_seq, st.num_deleted),
        (2, 5, 9, 3)
    );
    assert_eq!(s.skip_to(3).await.unwrap(), 0);
    assert_eq!(s.state().last_seq, 9);
    consistent(&*s).await;
}
