//! Damaged files: every kind of damage is a precise `StoreError` from
//! `open`, never a panic, and a healthy store beside it is unaffected.

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use redb::TableDefinition;
use tern::jetstream::store::{MessageStore, RedbOptions, RedbStore, StoreError, StoreLimits};

use crate::put;

fn open(dir: &Path) -> Result<RedbStore, StoreError> {
    RedbStore::open(dir, StoreLimits::default(), RedbOptions::default())
}

/// A closed store with `n` messages; returns its file.
async fn filled(dir: &Path, n: i64) -> std::path::PathBuf {
    let s = open(dir).expect("open");
    for i in 0..n {
        put(&s, &format!("f.{}", i % 7), &"x".repeat(200), i).await;
    }
    let path = s.path().to_owned();
    s.close().await.unwrap();
    path
}

fn assert_corrupt(result: Result<RedbStore, StoreError>, what: &str) {
    match result {
        Err(StoreError::Corrupt { path, reason }) => {
            assert!(path.ends_with("stream.redb"), "{what}: {path:?}");
            assert!(!reason.is_empty(), "{what}");
        }
        other => panic!("{what}: expected Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn truncated_file_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let file = filled(tmp.path(), 2000).await;
    let len = fs::metadata(&file).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    assert_corrupt(open(tmp.path()), "truncated to half");
}

#[tokio::test]
async fn garbled_pages_are_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let file = filled(tmp.path(), 2000).await;
    let len = fs::metadata(&file).unwrap().len();
    let mut f = OpenOptions::new().write(true).open(&file).unwrap();
    // Overwrite every fourth 4 KiB page past the header: whatever the
    // layout of this run (commit batching varies it), message pages are
    // among them. One 8 KiB stretch in the middle sometimes hit free pages.
    let mut at = 64 * 1024;
    while at + 4096 < len {
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(&[0xA5; 4096]).unwrap();
        at += 16 * 1024;
    }
    f.sync_all().unwrap();
    drop(f);
    assert_corrupt(open(tmp.path()), "garbled pages");
}

#[tokio::test]
async fn garbled_header_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let file = filled(tmp.path(), 10).await;
    let mut f = OpenOptions::new().write(true).open(&file).unwrap();
    f.write_all(&[0u8; 512]).unwrap();
    drop(f);
    assert_corrupt(open(tmp.path()), "zeroed header");
}

#[tokio::test]
async fn empty_and_foreign_files_are_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("stream.redb"), b"").unwrap();
    assert_corrupt(open(tmp.path()), "empty file");
    fs::write(tmp.path().join("stream.redb"), vec![7u8; 100_000]).unwrap();
    assert_corrupt(open(tmp.path()), "not a redb file");
}

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Rewrites one metadata key through redb itself, leaving the file valid.
fn set_meta(file: &Path, key: &str, value: u64) {
    let db = redb::Database::open(file).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(META).unwrap().insert(key, value).unwrap();
    txn.commit().unwrap();
}

#[tokio::test]
async fn counters_disagreeing_with_contents_are_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let file = filled(tmp.path(), 10).await;
    set_meta(&file, "messages", 11);
    assert_corrupt(open(tmp.path()), "meta says 11 messages");
}

#[tokio::test]
async fn unknown_format_version_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let file = filled(tmp.path(), 1).await;
    set_meta(&file, "format", 99);
    let err = open(tmp.path());
    assert!(
        matches!(
            err,
            Err(StoreError::UnsupportedVersion {
                found: 99,
                supported: 1,
                ..
            })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn damage_stays_in_its_own_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad");
    let good = tmp.path().join("good");
    let file = filled(&bad, 500).await;
    filled(&good, 500).await;
    let len = fs::metadata(&file).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len / 3)
        .unwrap();
    assert_corrupt(open(&bad), "truncated");
    let s = open(&good).expect("the other stream opens");
    assert_eq!(s.state().messages, 500);
    s.close().await.unwrap();
}
