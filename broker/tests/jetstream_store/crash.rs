//! Crash consistency: a child process (this test binary, re-executed with
//! an environment variable) appends with 32 concurrent writers as fast as it
//! can and prints every acknowledged sequence; the parent `kill -9`s it at a
//! random moment, reopens the store and checks that every acknowledged
//! message is there exactly once, at its sequence, and that the counters
//! match the contents. Several rounds on the same store.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tern::jetstream::store::{
    ConsumerState, ConsumerStateStore, MessageStore, NewMessage, RedbOptions, RedbStore,
    SequencePair, StoreLimits,
};

const DIR_VAR: &str = "TERN_STORE_CRASH_DIR";
const ROUND_VAR: &str = "TERN_STORE_CRASH_ROUND";
const WRITERS: usize = 32;
const ROUNDS: u32 = 6;

/// The writer. Does nothing unless the parent set `TERN_STORE_CRASH_DIR`.
#[test]
fn crash_writer_child() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return;
    };
    let round: u32 = std::env::var(ROUND_VAR)
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let store = RedbStore::open(dir.as_ref(), StoreLimits::default(), RedbOptions::default())
            .expect("child open");
        let store = Arc::new(store);
        let mut tasks = Vec::new();
        for t in 0..WRITERS {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                for i in 0u64.. {
                    let payload = format!("{round}-{t}-{i}");
                    let m = NewMessage::new(
                        Bytes::from(format!("crash.{t}")),
                        Bytes::from(payload.clone()),
                        i as i64,
                    );
                    match store.append(m, Default::default()).await {
                        Ok(seq) => println!("ACK {seq} {payload}"),
                        Err(e) => {
                            eprintln!("append failed: {e}");
                            return;
                        }
                    }
                }
            }));
        }
        // One task saves consumer state; the parent checks the last
        // acknowledged save survives.
        let consumer = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for k in (u64::from(round) << 32).. {
                let state = ConsumerState {
                    delivered: SequencePair {
                        consumer_seq: k,
                        stream_seq: k,
                    },
                    ..Default::default()
                };
                if consumer.save_consumer_state("dur", &state).await.is_err() {
                    return;
                }
                println!("CONSUMER {k}");
            }
        }));
        for task in tasks {
            let _ = task.await;
        }
    });
}

/// A xorshift generator seeded from the clock; the seed is printed.
fn rng() -> impl FnMut(u64) -> u64 {
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    eprintln!("crash test seed {seed}");
    let mut x = seed;
    move |n| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    }
}

#[test]
fn acknowledged_appends_survive_kill_9() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("crash");
    let exe = std::env::current_exe().expect("test binary");
    let mut random = rng();
    let mut acked: HashMap<u64, String> = HashMap::new();
    let mut consumer_acked: Option<u64> = None;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash::crash_writer_child", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(DIR_VAR, &dir)
            .env(ROUND_VAR, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn writer");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });

        // Let it get going, then kill it at a random moment.
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !seen.iter().any(|l: &String| l.starts_with("ACK ")) {
            assert!(Instant::now() < deadline, "writer never acknowledged");
            if let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) {
                seen.push(line);
            }
        }
        std::thread::sleep(Duration::from_millis(20 + random(400)));
        child.kill().expect("kill -9"); // SIGKILL on Unix
        child.wait().expect("reap");
        reader.join().expect("reader");
        seen.extend(lines.try_iter());

        let mut this_round = 0;
        for line in &seen {
            let mut parts = line.split(' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("ACK"), Some(seq), Some(payload)) => {
                    let seq: u64 = seq.parse().expect("seq");
                    let previous = acked.insert(seq, payload.to_owned());
                    assert!(previous.is_none(), "sequence {seq} acknowledged twice");
                    this_round += 1;
                }
                (Some("CONSUMER"), Some(k), None) => {
                    let k: u64 = k.parse().expect("k");
                    consumer_acked = consumer_acked.max(Some(k));
                }
                _ => {}
            }
        }
        eprintln!("round {round}: {this_round} acknowledged before kill -9");

        rt.block_on(verify(&dir, &acked, consumer_acked));
    }
    assert!(
        acked.len() > 100,
        "only {} appends acknowledged",
        acked.len()
    );
}

/// Reopens after the kill and checks everything acknowledged is there once.
async fn verify(dir: &std::path::Path, acked: &HashMap<u64, String>, consumer: Option<u64>) {
    let started = Instant::now();
    let store = RedbStore::open(dir, StoreLimits::default(), RedbOptions::default())
        .expect("reopen after kill -9");
    eprintln!(
        "reopened {} messages in {:?}",
        store.state().messages,
        started.elapsed()
    );
    assert_eq!(store.check_consistency().await.expect("scan"), Ok(()));
    let all = store
        .load_batch(0, None, usize::MAX, usize::MAX)
        .await
        .expect("load all");
    assert_eq!(all.len() as u64, store.state().messages);
    let mut payloads = HashSet::new();
    let mut by_seq = HashMap::new();
    for m in &all {
        let payload = String::from_utf8_lossy(&m.payload).into_owned();
        assert!(payloads.insert(payload.clone()), "{payload} stored twice");
        by_seq.insert(m.seq, payload);
    }
    for (seq, payload) in acked {
        assert_eq!(
            by_seq.get(seq),
            Some(payload),
            "acknowledged message {seq} lost or changed"
        );
    }
    if let Some(k) = consumer {
        let state = store
            .load_consumer_state("dur")
            .await
            .expect("read")
            .expect("acknowledged consumer state");
        assert!(state.delivered.stream_seq >= k, "consumer save {k} lost");
    }
    store.close().await.expect("close");
}
