//! Sequences, state counters, limits, discard policies, append conditions
//! and rollups.

use std::time::Duration;

use bytes::Bytes;
use tern::jetstream::store::{
    AppendOptions, DiscardPolicy, ExpectedSubjectSeq, NewMessage, Rollup, StorageKind, StoreError,
    StoreLimits,
};

use crate::{consistent, msg, put, Harness};

const SEC: i64 = 1_000_000_000;

pub async fn sequences_and_state(h: Harness) {
    let s = h.plain();
    let empty = s.state();
    assert_eq!((empty.first_seq, empty.last_seq, empty.messages), (0, 0, 0));
    assert_eq!(put(&*s, "a", "1", 10).await, 1);
    assert_eq!(put(&*s, "b", "22", 20).await, 2);
    assert_eq!(put(&*s, "a", "333", 30).await, 3);
    let st = s.state();
    assert_eq!((st.messages, st.first_seq, st.last_seq), (3, 1, 3));
    assert_eq!((st.first_ts, st.last_ts), (10, 30));
    assert_eq!((st.num_subjects, st.num_deleted), (2, 0));
    let m = s.load(2).await.unwrap().unwrap();
    assert_eq!((m.seq, m.timestamp), (2, 20));
    assert_eq!((&m.subject[..], &m.payload[..]), (&b"b"[..], &b"22"[..]));
    assert!(m.headers.is_empty());
    assert_eq!(s.load(4).await.unwrap(), None);
    assert_eq!(s.load(0).await.unwrap(), None);
    consistent(&*s).await;
}

pub async fn headers_and_byte_accounting(h: Harness) {
    let s = h.plain();
    let with_headers = NewMessage {
        subject: Bytes::from_static(b"orders.new"),
        headers: Bytes::from_static(b"NATS/1.0\r\nX: 1\r\n\r\n"),
        payload: Bytes::from_static(b"hello"),
        timestamp: 5,
    };
    s.append(with_headers.clone(), AppendOptions::default())
        .await
        .unwrap();
    put(&*s, "orders.new", "hello", 6).await;
    let back = s.load(1).await.unwrap().unwrap();
    assert_eq!(back.headers, with_headers.headers);
    assert_eq!(back.payload, with_headers.payload);
    // nats-server: file 22+subj+msg+8 (+4+hdr), memory subj+hdr+msg+16.
    let expected = match h.kind() {
        StorageKind::File => (30 + 4 + 10 + 18 + 5) + (30 + 10 + 5),
        StorageKind::Memory => (16 + 10 + 18 + 5) + (16 + 10 + 5),
    };
    assert_eq!(s.state().bytes, expected);
    consistent(&*s).await;
}

pub async fn max_msgs_discards_old(h: Harness) {
    let s = h.store(StoreLimits {
        max_msgs: Some(3),
        ..Default::default()
    });
    for i in 0..5 {
        put(&*s, "a", &i.to_string(), i).await;
    }
    let st = s.state();
    assert_eq!((st.messages, st.first_seq, st.last_seq), (3, 3, 5));
    assert_eq!(st.first_ts, 2);
    assert_eq!(s.load(2).await.unwrap(), None);
    consistent(&*s).await;
}

pub async fn max_bytes_discards_old(h: Harness) {
    let one = h.kind().msg_size(1, 0, 10);
    let s = h.store(StoreLimits {
        max_bytes: Some(one * 2 + 1),
        ..Default::default()
    });
    for i in 0..4 {
        put(&*s, "a", "0123456789", i).await;
    }
    let st = s.state();
    assert_eq!((st.messages, st.bytes, st.first_seq), (2, one * 2, 3));
    consistent(&*s).await;
}

pub async fn max_age_expires(h: Harness) {
    let s = h.store(StoreLimits {
        max_age: Some(Duration::from_secs(1)),
        ..Default::default()
    });
    assert_eq!(s.next_expiry(), None);
    put(&*s, "a", "old", 0).await;
    put(&*s, "a", "old", SEC / 2).await;
    assert_eq!(s.next_expiry(), Some(SEC));
    // Storing at t=1.6s ages out everything at or before 0.6s.
    put(&*s, "b", "new", SEC * 16 / 10).await;
    let st = s.state();
    assert_eq!((st.messages, st.first_seq), (1, 3));
    assert_eq!(s.expire(SEC * 2).await.unwrap(), 0);
    assert_eq!(s.expire(SEC * 3).await.unwrap(), 1);
    let st = s.state();
    assert_eq!((st.messages, st.first_seq, st.last_seq), (0, 4, 3));
    assert_eq!(s.next_expiry(), None);
    assert_eq!(put(&*s, "c", "x", SEC * 3).await, 4);
    consistent(&*s).await;
}

pub async fn max_msgs_per_subject_keeps_newest(h: Harness) {
    let s = h.store(StoreLimits {
        max_msgs_per_subject: Some(2),
        ..Default::default()
    });
    for (i, subject) in ["k1", "k2", "k1", "k1", "k2", "k1"].iter().enumerate() {
        put(&*s, subject, &i.to_string(), i as i64).await;
    }
    let counts = s.subjects_state(None).await.unwrap();
    assert_eq!(counts.get(&b"k1"[..]), Some(&2));
    assert_eq!(counts.get(&b"k2"[..]), Some(&2));
    let st = s.state();
    assert_eq!((st.messages, st.first_seq, st.num_deleted), (4, 2, 1));
    let last = s.load_last(b"k1").await.unwrap().unwrap();
    assert_eq!((last.seq, &last.payload[..]), (6, &b"5"[..]));
    consistent(&*s).await;
}

pub async fn discard_new_refuses(h: Harness) {
    let s = h.store(StoreLimits {
        max_msgs: Some(2),
        discard: DiscardPolicy::New,
        ..Default::default()
    });
    put(&*s, "a", "1", 1).await;
    put(&*s, "a", "2", 2).await;
    let err = s.append(msg("a", "3", 3), Default::default()).await;
    assert!(matches!(err, Err(StoreError::MaxMsgs)), "{err:?}");
    assert_eq!(s.state().last_seq, 2, "a refusal uses no sequence");

    let size = h.kind().msg_size(1, 0, 4);
    let s = h.store(StoreLimits {
        max_bytes: Some(size * 2),
        discard: DiscardPolicy::New,
        ..Default::default()
    });
    put(&*s, "a", "1234", 1).await;
    put(&*s, "a", "1234", 2).await;
    let err = s.append(msg("a", "1234", 3), Default::default()).await;
    assert!(matches!(err, Err(StoreError::MaxBytes)), "{err:?}");

    let s = h.store(StoreLimits {
        max_msgs_per_subject: Some(1),
        discard: DiscardPolicy::New,
        discard_new_per_subject: true,
        ..Default::default()
    });
    put(&*s, "k", "1", 1).await;
    put(&*s, "j", "1", 1).await;
    let err = s.append(msg("k", "2", 2), Default::default()).await;
    assert!(matches!(err, Err(StoreError::MaxMsgsPerSubject)), "{err:?}");
    assert!(err.is_err_and(|e| e.is_refusal()));
    consistent(&*s).await;
}

pub async fn expected_sequences(h: Harness) {
    let s = h.plain();
    let expect_last = |seq| AppendOptions {
        expected_last_seq: Some(seq),
        ..Default::default()
    };
    assert_eq!(
        s.append(msg("a.1", "x", 1), expect_last(0)).await.unwrap(),
        1
    );
    let err = s.append(msg("a.1", "x", 1), expect_last(0)).await;
    assert!(matches!(
        err,
        Err(StoreError::WrongLastSequence { current: 1 })
    ));
    s.append(msg("a.2", "x", 1), expect_last(1)).await.unwrap();

    let expect_subject = |seq, subject: Option<&'static str>| AppendOptions {
        expected_last_subject_seq: Some(ExpectedSubjectSeq {
            seq,
            subject: subject.map(|s| Bytes::from_static(s.as_bytes())),
        }),
        ..Default::default()
    };
    // a.1 is at 1; a.3 has nothing yet (0).
    s.append(msg("a.1", "x", 1), expect_subject(1, None))
        .await
        .unwrap();
    s.append(msg("a.3", "x", 1), expect_subject(0, None))
        .await
        .unwrap();
    let err = s.append(msg("a.1", "x", 1), expect_subject(1, None)).await;
    assert!(matches!(
        err,
        Err(StoreError::WrongLastSubjectSequence { current: 3 })
    ));
    // Against a wildcard: the last of a.* is 4.
    let err = s
        .append(msg("a.9", "x", 1), expect_subject(3, Some("a.*")))
        .await;
    assert!(matches!(
        err,
        Err(StoreError::WrongLastSubjectSequence { current: 4 })
    ));
    s.append(msg("a.9", "x", 1), expect_subject(4, Some("a.*")))
        .await
        .unwrap();
    assert_eq!(s.state().last_seq, 5);
    consistent(&*s).await;
}

pub async fn rollups(h: Harness) {
    let s = h.plain();
    for i in 0..3 {
        put(&*s, "r.a", "v", i).await;
        put(&*s, "r.b", "v", i).await;
    }
    let rollup = |r| AppendOptions {
        rollup: Some(r),
        ..Default::default()
    };
    let seq = s
        .append(msg("r.a", "sum", 9), rollup(Rollup::Subject))
        .await
        .unwrap();
    let counts = s.subjects_state(None).await.unwrap();
    assert_eq!((counts[&b"r.a"[..]], counts[&b"r.b"[..]]), (1, 3));
    assert_eq!(s.load_last(b"r.a").await.unwrap().unwrap().seq, seq);
    let seq = s
        .append(msg("r.c", "all", 10), rollup(Rollup::All))
        .await
        .unwrap();
    let st = s.state();
    assert_eq!((st.messages, st.first_seq, st.last_seq), (1, seq, seq));
    consistent(&*s).await;
}

pub async fn set_limits_applies_at_once(h: Harness) {
    let s = h.plain();
    for i in 0..10 {
        put(&*s, if i % 2 == 0 { "even" } else { "odd" }, "x", i).await;
    }
    let removed = s
        .set_limits(StoreLimits {
            max_msgs_per_subject: Some(3),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(removed, 4);
    let removed = s
        .set_limits(StoreLimits {
            max_msgs: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(removed, 4);
    assert_eq!(s.limits().max_msgs, Some(2));
    let st = s.state();
    assert_eq!((st.messages, st.first_seq, st.last_seq), (2, 9, 10));
    consistent(&*s).await;
}
