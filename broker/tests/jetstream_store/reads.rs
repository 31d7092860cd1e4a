//! Reads (last-by-subject, filtered iteration, batches, filtered counts,
//! time lookup), consumer state, a randomized consistency run, and
//! concurrent appends.

use std::sync::Arc;

use bytes::Bytes;
use tern::jetstream::store::{
    ConsumerState, MessageStore, PendingAck, PurgeRequest, SequencePair, SimpleState, StoreLimits,
};

use crate::{consistent, msg, put, Harness};

/// Subjects `orders.eu.new`, `orders.us.new`, `orders.eu.paid`, `billing`
/// repeating, seq 1..=12, ts = seq * 10.
async fn orders(s: &dyn MessageStore) {
    let subjects = [
        "orders.eu.new",
        "orders.us.new",
        "orders.eu.paid",
        "billing",
    ];
    for n in 1..=12u64 {
        let subject = subjects[(n as usize - 1) % 4];
        put(s, subject, &format!("m{n}"), n as i64 * 10).await;
    }
}

pub async fn load_last_by_subject(h: Harness) {
    let s = h.plain();
    orders(&*s).await;
    let last = |f: &'static str| {
        let s = &s;
        async move { s.load_last(f.as_bytes()).await.unwrap().map(|m| m.seq) }
    };
    assert_eq!(last("orders.eu.new").await, Some(9));
    assert_eq!(last("billing").await, Some(12));
    assert_eq!(last("orders.*.new").await, Some(10));
    assert_eq!(last("orders.>").await, Some(11));
    assert_eq!(last(">").await, Some(12));
    assert_eq!(last("nothing").await, None);
    assert!(s.remove(12).await.unwrap());
    assert_eq!(last("billing").await, Some(8));
    assert_eq!(
        s.last_per_subject(Some(b"orders.>")).await.unwrap(),
        vec![9, 10, 11]
    );
    assert_eq!(s.last_per_subject(None).await.unwrap(), vec![8, 9, 10, 11]);
}

pub async fn filtered_iteration_with_wildcards(h: Harness) {
    let s = h.plain();
    orders(&*s).await;
    let walk = |f: Option<&'static str>| {
        let s = &s;
        async move {
            let mut seqs = Vec::new();
            let mut from = 0;
            while let Some(m) = s.load_next(from, f.map(str::as_bytes)).await.unwrap() {
                if let Some(f) = f {
                    assert!(tern::subject::subject_matches(f.as_bytes(), &m.subject));
                }
                seqs.push(m.seq);
                from = m.seq + 1;
            }
            seqs
        }
    };
    assert_eq!(walk(Some("orders.eu.new")).await, vec![1, 5, 9]);
    assert_eq!(walk(Some("orders.*.new")).await, vec![1, 2, 5, 6, 9, 10]);
    assert_eq!(walk(Some("orders.eu.*")).await, vec![1, 3, 5, 7, 9, 11]);
    assert_eq!(walk(Some("orders.>")).await.len(), 9);
    assert_eq!(walk(Some("*")).await, vec![4, 8, 12]);
    assert_eq!(walk(None).await.len(), 12);
    assert_eq!(walk(Some("none.*")).await, Vec::<u64>::new());
    // Starting inside a gap finds the next match.
    assert!(s.remove(5).await.unwrap());
    let m = s
        .load_next(4, Some(b"orders.eu.new"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.seq, 9);
    let m = s.load_next(5, None).await.unwrap().unwrap();
    assert_eq!(m.seq, 6);
}

pub async fn batches_respect_limits(h: Harness) {
    let s = h.plain();
    orders(&*s).await;
    let batch = s
        .load_batch(0, Some(b"orders.*.new"), 4, usize::MAX)
        .await
        .unwrap();
    let seqs: Vec<u64> = batch.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![1, 2, 5, 6]);
    // 16 bytes fit one `orders.eu.new`+`m1` (15) but not two.
    let batch = s.load_batch(0, None, 10, 16).await.unwrap();
    assert_eq!(batch.len(), 1);
    // The first message comes back even when it alone is too big.
    let batch = s.load_batch(3, None, 10, 1).await.unwrap();
    assert_eq!(batch.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![3]);
    assert!(s.load_batch(13, None, 10, 100).await.unwrap().is_empty());
}

pub async fn filtered_and_subject_state(h: Harness) {
    let s = h.plain();
    orders(&*s).await;
    let fs = |from, f: Option<&'static str>| {
        let s = &s;
        async move { s.filtered_state(from, f.map(str::as_bytes)).await.unwrap() }
    };
    let state = |messages, first, last| SimpleState {
        messages,
        first,
        last,
    };
    assert_eq!(fs(0, None).await, state(12, 1, 12));
    assert_eq!(fs(5, None).await, state(8, 5, 12));
    assert_eq!(fs(0, Some("orders.eu.new")).await, state(3, 1, 9));
    assert_eq!(fs(2, Some("orders.eu.new")).await, state(2, 5, 9));
    assert_eq!(fs(3, Some("orders.*.new")).await, state(4, 5, 10));
    assert_eq!(fs(0, Some("none")).await, SimpleState::default());
    let all = s.subjects_state(None).await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(all.values().all(|n| *n == 3));
    let eu = s.subjects_state(Some(b"orders.eu.*")).await.unwrap();
    let keys: Vec<&[u8]> = eu.keys().map(|k| &k[..]).collect();
    assert_eq!(keys, vec![&b"orders.eu.new"[..], &b"orders.eu.paid"[..]]);
    assert_eq!(s.subjects_state(Some(b"billing")).await.unwrap().len(), 1);
    assert_eq!(s.state().num_subjects, 4);
}

pub async fn seq_from_time(h: Harness) {
    let s = h.plain();
    orders(&*s).await;
    assert_eq!(s.seq_from_time(0).await.unwrap(), 1);
    assert_eq!(s.seq_from_time(50).await.unwrap(), 5);
    assert_eq!(s.seq_from_time(51).await.unwrap(), 6);
    assert_eq!(s.seq_from_time(1000).await.unwrap(), 13);
    assert!(s.remove(6).await.unwrap());
    assert_eq!(s.seq_from_time(51).await.unwrap(), 7);
}

pub async fn consumer_state(h: Harness) {
    let s = h.plain();
    assert_eq!(s.load_consumer_state("c1").await.unwrap(), None);
    let mut state = ConsumerState {
        delivered: SequencePair {
            consumer_seq: 5,
            stream_seq: 9,
        },
        ack_floor: SequencePair {
            consumer_seq: 3,
            stream_seq: 6,
        },
        ..Default::default()
    };
    state.pending.insert(
        8,
        PendingAck {
            consumer_seq: 4,
            timestamp: 77,
        },
    );
    state.redelivered.insert(8, 2);
    s.save_consumer_state("c1", &state).await.unwrap();
    s.save_consumer_state("c0", &ConsumerState::default())
        .await
        .unwrap();
    assert_eq!(
        s.load_consumer_state("c1").await.unwrap(),
        Some(state.clone())
    );
    state.ack_floor.stream_seq = 8;
    state.pending.clear();
    s.save_consumer_state("c1", &state).await.unwrap();
    assert_eq!(s.load_consumer_state("c1").await.unwrap(), Some(state));
    assert_eq!(s.consumer_names().await.unwrap(), vec!["c0", "c1"]);
    assert!(s.delete_consumer_state("c0").await.unwrap());
    assert!(!s.delete_consumer_state("c0").await.unwrap());
    assert_eq!(s.consumer_names().await.unwrap(), vec!["c1"]);
}

/// A small deterministic generator, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

pub async fn random_operations_stay_consistent(h: Harness) {
    let s = h.store(StoreLimits {
        max_msgs: Some(300),
        max_msgs_per_subject: Some(40),
        ..Default::default()
    });
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..40 {
        for i in 0..25 {
            let subject = format!("r.{}.{}", rng.below(4), rng.below(5));
            put(&*s, &subject, &format!("{round}-{i}"), round * 100 + i).await;
        }
        match rng.below(5) {
            0 => {
                let last = s.state().last_seq;
                s.remove(last.saturating_sub(rng.below(50))).await.unwrap();
            }
            1 => {
                let req = PurgeRequest {
                    filter: Some(Bytes::from(format!("r.{}.*", rng.below(4)))),
                    keep: Some(rng.below(10)),
                    ..Default::default()
                };
                s.purge(req).await.unwrap();
            }
            2 => {
                let first = s.state().first_seq;
                s.compact(first + rng.below(20)).await.unwrap();
            }
            _ => {}
        }
        consistent(&*s).await;
    }
}

pub async fn concurrent_appends_get_unique_sequences(h: Harness) {
    let s: Arc<dyn MessageStore> = Arc::from(h.plain());
    let tasks: Vec<_> = (0..64)
        .map(|t| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..20 {
                    let m = msg(&format!("c.{t}"), &format!("{t}-{i}"), i);
                    seqs.push((s.append(m, Default::default()).await.unwrap(), t, i));
                }
                seqs
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_unstable();
    let seqs: Vec<u64> = all.iter().map(|a| a.0).collect();
    assert_eq!(seqs, (1..=1280).collect::<Vec<_>>());
    for (seq, t, i) in all {
        let m = s.load(seq).await.unwrap().unwrap();
        assert_eq!(m.payload, Bytes::from(format!("{t}-{i}")));
    }
    // Each task's messages are in its submission order.
    let per_task = s.filtered_state(0, Some(b"c.7")).await.unwrap();
    assert_eq!(per_task.messages, 20);
    consistent(&*s).await;
}
