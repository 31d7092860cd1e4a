//! A quick measurement of the redb message store (not a test): durable
//! appends per second with group commit for 1 and 64 concurrent appenders,
//! and the time to reopen a store holding many small messages.
//!
//! ```text
//! cargo run --release -p tern --example store_bench -- [open_messages]
//! ```
//! `open_messages` defaults to 1,000,000. Work happens in a temp directory
//! that is removed at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tern::jetstream::store::{
    MessageStore, NewMessage, RedbOptions, RedbStore, StoreError, StoreLimits,
};

/// Appends `total` messages from `appenders` concurrent tasks; returns the
/// elapsed time.
async fn appends(
    store: &Arc<RedbStore>,
    appenders: usize,
    total: usize,
    payload: &Bytes,
) -> Result<Duration, StoreError> {
    let started = Instant::now();
    let per_task = total / appenders;
    let mut tasks = Vec::new();
    for t in 0..appenders {
        let store = Arc::clone(store);
        let payload = payload.clone();
        tasks.push(tokio::spawn(async move {
            let subject = Bytes::from(format!("bench.{}", t % 100));
            for i in 0..per_task {
                let msg = NewMessage::new(subject.clone(), payload.clone(), i as i64);
                store.append(msg, Default::default()).await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for task in tasks {
        task.await.map_err(|e| StoreError::Inconsistent {
            reason: e.to_string(),
        })??;
    }
    Ok(started.elapsed())
}

fn open(dir: &std::path::Path, verify: bool) -> Result<(RedbStore, Duration), StoreError> {
    let options = RedbOptions {
        verify_on_open: verify,
        ..Default::default()
    };
    let started = Instant::now();
    let store = RedbStore::open(dir, StoreLimits::default(), options)?;
    Ok((store, started.elapsed()))
}

/// The child half of the crash measurement: append a little to the store in
/// `dir`, then die without closing it, as `kill -9` would leave it.
async fn append_and_abort(dir: &str) -> Result<(), Box<dyn std::error::Error>> {
    let store = Arc::new(open(dir.as_ref(), false)?.0);
    appends(&store, 10, 1000, &Bytes::from_static(b"crash")).await?;
    std::process::abort();
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, dir] = args.as_slice() {
        if flag == "--append-and-abort" {
            return append_and_abort(dir).await;
        }
    }
    let open_messages: usize = match args.get(1) {
        Some(n) => n.parse()?,
        None => 1_000_000,
    };
    let tmp = tempfile::tempdir()?;
    let payload = Bytes::from(vec![b'x'; 128]);

    for (appenders, total) in [(1usize, 2_000usize), (64, 64_000)] {
        let dir = tmp.path().join(format!("rate-{appenders}"));
        let store = Arc::new(open(&dir, true)?.0);
        let elapsed = appends(&store, appenders, total, &payload).await?;
        println!(
            "{appenders:>3} appender(s): {total} durable appends of 128 B in {:.2?} = {:.0} appends/s",
            elapsed,
            total as f64 / elapsed.as_secs_f64()
        );
        store.close().await?;
    }

    let dir = tmp.path().join("open");
    let store = Arc::new(open(&dir, true)?.0);
    let small = Bytes::from_static(b"0123456789abcdef");
    let elapsed = appends(&store, 1000, open_messages, &small).await?;
    let stored = store.state().messages;
    println!(
        "filled {stored} messages of 16 B (1000 appenders) in {:.2?} = {:.0} appends/s",
        elapsed,
        stored as f64 / elapsed.as_secs_f64()
    );
    let file_size = std::fs::metadata(store.path())?.len();
    store.close().await?;
    drop(store);
    println!("file size {:.1} MiB", file_size as f64 / (1 << 20) as f64);
    for verify in [true, false] {
        let (store, took) = open(&dir, verify)?;
        println!(
            "open {} messages, verify_on_open={verify}: {:.2?}",
            store.state().messages,
            took
        );
        store.close().await?;
    }

    // An unclean shutdown: redb walks the file to repair it on the next open.
    let status = std::process::Command::new(std::env::current_exe()?)
        .arg("--append-and-abort")
        .arg(&dir)
        .status()?;
    println!("writer child ended by {status} (abort, no close)");
    for verify in [true, false] {
        let (store, took) = open(&dir, verify)?;
        println!(
            "open {} messages after abort, verify_on_open={verify}: {:.2?}",
            store.state().messages,
            took
        );
        store.close().await?;
        if verify {
            // The first open repaired the file; abort again for the second.
            std::process::Command::new(std::env::current_exe()?)
                .arg("--append-and-abort")
                .arg(&dir)
                .status()?;
        }
    }
    Ok(())
}
