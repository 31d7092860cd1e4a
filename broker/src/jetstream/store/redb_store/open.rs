//! Opening a redb stream store: creating a new file atomically, opening an
//! existing one (redb repairs after a crash), classifying a damaged file as
//! a precise [`StoreError`], and rebuilding the in-memory state from the
//! persisted counters with cheap agreement checks.
//!
//! Recovery reads no messages: the counters in `meta` were committed in the
//! same transactions as the messages they count, so they are exact after any
//! crash. With `verify_on_open` redb checksums every page first, which is
//! what turns a garbled file into an error instead of a panic later on.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;
use redb::{Builder, Database, DatabaseError, ReadableDatabase, StorageBackend, StorageError};

use super::super::error::StoreError;
use super::super::types::StreamState;
use super::super::view::StoreResult;
use super::tables::{
    check_meta, read_meta, write_meta, Tables, CONSUMERS, FORMAT_VERSION, MESSAGES, META, SUBJECTS,
    SUBJECT_INDEX,
};
use super::{db_err, io_err, RedbOptions};

/// The database file inside a stream's directory.
pub(super) const FILE_NAME: &str = "stream.redb";
/// Where a new database is built before it is renamed into place, so a
/// crash during creation never leaves a half-made `stream.redb`.
const NEW_FILE_NAME: &str = "stream.redb.new";

/// Opens (creating if needed) the database in `dir` and returns it with the
/// committed state.
pub(super) fn open_database(
    dir: &Path,
    options: &RedbOptions,
) -> StoreResult<(Arc<Database>, StreamState)> {
    fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let path = dir.join(FILE_NAME);
    let mut created = false;
    match fs::metadata(&path) {
        Ok(meta) if meta.len() == 0 => {
            return Err(StoreError::Corrupt {
                path,
                reason: "the file is empty".into(),
            })
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create(dir, &path)?;
            created = true;
        }
        Err(e) => return Err(io_err(&path, e)),
    }

    let repaired = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&repaired);
    let mut builder = Builder::new();
    // A file this call just built (and synced) needs no checking; redb's
    // integrity check rewrites and fsyncs it, which made creating a stream
    // cost tens of milliseconds.
    let verify = options.verify_on_open && !created;
    builder
        .set_cache_size(options.cache_bytes)
        .set_check_integrity_on_open(verify)
        .set_repair_callback(move |_| flag.store(true, Ordering::Relaxed));
    let db = builder.open(&path).map_err(|e| open_err(&path, e))?;
    if repaired.load(Ordering::Relaxed) {
        if verify {
            // redb reports its integrity check through the repair callback,
            // clean file or not: not worth a warning.
            tracing::debug!(path = %path.display(), "stream store checked page by page");
        } else {
            tracing::warn!(path = %path.display(), "stream store was not closed cleanly; redb repaired it");
        }
    }

    let state = {
        let txn = db.begin_read().map_err(|e| db_err(&path, e))?;
        let missing = |e: redb::TableError| match e {
            redb::TableError::TableDoesNotExist(name) => StoreError::Corrupt {
                path: path.clone(),
                reason: format!("table {name} is missing"),
            },
            other => db_err(&path, other),
        };
        let meta = txn.open_table(META).map_err(missing)?;
        let (format, state) = read_meta(&path, &meta)?;
        if format != FORMAT_VERSION {
            return Err(StoreError::UnsupportedVersion {
                path,
                found: format,
                supported: FORMAT_VERSION,
            });
        }
        let tables = Tables {
            path: &path,
            messages: txn.open_table(MESSAGES).map_err(missing)?,
            index: txn.open_table(SUBJECT_INDEX).map_err(missing)?,
            subjects: txn.open_table(SUBJECTS).map_err(missing)?,
            compress: false,
        };
        check_meta(&tables, &state)?;
        txn.open_table(CONSUMERS).map_err(missing)?;
        state
    };
    Ok((Arc::new(db), state))
}

/// The id of the last write group the durable state contains (0 for a
/// store that never journaled).
pub(super) fn durable_group(db: &Database, path: &Path) -> StoreResult<u64> {
    let txn = db.begin_read().map_err(|e| db_err(path, e))?;
    let meta = txn.open_table(META).map_err(|e| db_err(path, e))?;
    let group = meta
        .get(super::writer::GROUP_KEY)
        .map_err(|e| db_err(path, e))?
        .map_or(0, |g| g.value());
    Ok(group)
}

/// Writes an empty database under a temporary name and renames it into
/// place; the rename (and the directory fsync after it) is the commit
/// point. The bytes come from [`empty_database`], so a new stream costs
/// one data sync and one directory sync (redb's own creation and first
/// commit sync eight times, which made creating a stream cost several
/// times nats-server's).
fn create(dir: &Path, path: &Path) -> StoreResult<()> {
    let tmp = dir.join(NEW_FILE_NAME);
    let bytes = empty_database(&tmp)?;
    {
        let mut file = fs::File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_data())
            .map_err(|e| io_err(&tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| io_err(path, e))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// The bytes of an empty stream database (tables made, counters zero),
/// built once in memory: it is the same for every stream.
fn empty_database(for_path: &Path) -> StoreResult<&'static [u8]> {
    static EMPTY: OnceLock<Vec<u8>> = OnceLock::new();
    if let Some(bytes) = EMPTY.get() {
        return Ok(bytes);
    }
    let memory = MemoryFile::default();
    {
        let db = Builder::new()
            .create_with_backend(memory.clone())
            .map_err(|e| open_err(for_path, e))?;
        let txn = db.begin_write().map_err(|e| db_err(for_path, e))?;
        {
            let e = |err| db_err(for_path, err);
            txn.open_table(MESSAGES).map_err(e)?;
            txn.open_table(SUBJECT_INDEX).map_err(e)?;
            txn.open_table(SUBJECTS).map_err(e)?;
            txn.open_table(CONSUMERS).map_err(e)?;
            let mut meta = txn.open_table(META).map_err(e)?;
            write_meta(for_path, &mut meta, &StreamState::default())?;
        }
        txn.commit().map_err(|e| db_err(for_path, e))?;
        // Dropped here: redb writes its clean-shutdown header.
    }
    let bytes = std::mem::take(&mut *memory.0.write());
    Ok(EMPTY.get_or_init(|| bytes))
}

/// A redb storage backend in memory whose bytes can be taken out once the
/// database is dropped (redb's own in-memory backend keeps them).
#[derive(Debug, Clone, Default)]
struct MemoryFile(Arc<RwLock<Vec<u8>>>);

impl MemoryFile {
    fn out_of_range() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "offset out of range")
    }
}

impl StorageBackend for MemoryFile {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.0.read().len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        let bytes = self.0.read();
        let start = usize::try_from(offset).map_err(|_| Self::out_of_range())?;
        let part = bytes
            .get(start..start + out.len())
            .ok_or_else(Self::out_of_range)?;
        out.copy_from_slice(part);
        Ok(())
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        let len = usize::try_from(len).map_err(|_| Self::out_of_range())?;
        self.0.write().resize(len, 0);
        Ok(())
    }

    fn sync_data(&self) -> std::io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let mut bytes = self.0.write();
        let start = usize::try_from(offset).map_err(|_| Self::out_of_range())?;
        let part = bytes
            .get_mut(start..start + data.len())
            .ok_or_else(Self::out_of_range)?;
        part.copy_from_slice(data);
        Ok(())
    }
}

/// Classifies an open failure: damage is `Corrupt`, a lock is `AlreadyOpen`.
fn open_err(path: &Path, err: DatabaseError) -> StoreError {
    let corrupt = |reason: String| StoreError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    match err {
        DatabaseError::DatabaseAlreadyOpen => StoreError::AlreadyOpen {
            path: path.to_owned(),
        },
        DatabaseError::RepairAborted => corrupt("redb could not repair the file".into()),
        DatabaseError::Storage(StorageError::Corrupted(why)) => corrupt(why),
        DatabaseError::Storage(StorageError::Io(e)) => match e.kind() {
            std::io::ErrorKind::UnexpectedEof => corrupt(format!("the file is truncated ({e})")),
            // redb's word for a file that is not (or no longer) a database,
            // e.g. a destroyed header: "magic number mismatch".
            std::io::ErrorKind::InvalidData => corrupt(e.to_string()),
            _ => io_err(path, e),
        },
        other => db_err(path, other),
    }
}
