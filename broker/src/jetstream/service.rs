//! The JetStream service: started by the server when JetStream is enabled,
//! it owns the streams (recovered from `<store_dir>/jetstream/$G/streams/`
//! at start-up), answers `$JS.API.>` ([`super::api`]) and enforces the
//! server-wide `max_memory_store`/`max_file_store`.
//!
//! JetStream serves one account: `$G` when no other accounts are
//! configured, else the account with `jetstream: enabled`. Its streams live
//! under the account's name, as in nats-server's on-disk layout.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokio::task::JoinHandle;

use crate::account::Account;
use crate::config::JetStreamConfig;
use crate::server::state::Shared;

use super::api;
use super::error::{ApiError, JetStreamError};
use super::store::redb_store::DEFAULT_SYNC_INTERVAL;
use super::store::{RedbOptions, StorageKind};
use super::stream::Stream;

/// A running JetStream.
pub struct JetStream {
    pub(crate) shared: Arc<Shared>,
    /// The account whose clients use it.
    pub(crate) account: Arc<Account>,
    pub(crate) config: JetStreamConfig,
    /// `<store_dir>/jetstream/<account>/streams`.
    streams_dir: PathBuf,
    pub(crate) streams: RwLock<BTreeMap<String, Arc<Stream>>>,
    /// Held across a create, update or delete so they do not interleave.
    pub(crate) admin: tokio::sync::Mutex<()>,
    pub(crate) api_total: AtomicU64,
    pub(crate) api_errors: AtomicU64,
    api_task: Mutex<Option<JoinHandle<()>>>,
}

impl JetStream {
    /// Creates the store directory, recovers every stream found there and
    /// starts answering `$JS.API.>`. A stream that cannot be recovered is
    /// reported and left out; the others serve.
    pub async fn start(
        shared: &Arc<Shared>,
        account: Arc<Account>,
    ) -> Result<Arc<JetStream>, JetStreamError> {
        let config = shared.config().jetstream.clone();
        let root = config.store_root();
        let streams_dir = root.join(&account.name).join("streams");
        match std::fs::metadata(&root) {
            Ok(meta) if !meta.is_dir() => {
                return Err(JetStreamError::NotADirectory { path: root });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                return Err(JetStreamError::NotADirectory { path: root });
            }
            _ => {}
        }
        tokio::fs::create_dir_all(&streams_dir)
            .await
            .map_err(|source| JetStreamError::StoreDir {
                path: streams_dir.clone(),
                source,
            })?;
        tracing::info!("Starting JetStream");
        if config.store_dir.is_none() {
            tracing::warn!("Temporary storage directory used, data could be lost on system reboot");
        }
        tracing::info!("  Store Directory: \"{}\"", root.display());
        let limit =
            |v: Option<u64>| v.map_or_else(|| "unlimited".to_string(), |b| format!("{b} bytes"));
        tracing::info!("  Max Memory:      {}", limit(config.max_memory_store));
        tracing::info!("  Max Storage:     {}", limit(config.max_file_store));
        if !config.lenient {
            tracing::info!("  Strict:          true");
        }
        let js = Arc::new(JetStream {
            shared: shared.clone(),
            account: account.clone(),
            config,
            streams_dir,
            streams: RwLock::new(BTreeMap::new()),
            admin: tokio::sync::Mutex::new(()),
            api_total: AtomicU64::new(0),
            api_errors: AtomicU64::new(0),
            api_task: Mutex::new(None),
        });
        shared.set_jetstream(&js);
        js.recover().await;
        let sub = shared
            .subscribe_internal(&account, "$JS.API.>", None)
            .map_err(|e| JetStreamError::Subscribe {
                subject: "$JS.API.>".to_string(),
                reason: e.to_string(),
            })?;
        *js.api_task.lock() = Some(tokio::spawn(api::serve(js.clone(), sub)));
        Ok(js)
    }

    async fn recover(self: &Arc<Self>) {
        let mut dirs = match tokio::fs::read_dir(&self.streams_dir).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("JetStream: cannot list {}: {e}", self.streams_dir.display());
                return;
            }
        };
        let mut found = Vec::new();
        while let Ok(Some(entry)) = dirs.next_entry().await {
            found.push(entry.path());
        }
        found.sort();
        for dir in found {
            let result = async {
                let (config, created) = Stream::read_config(&dir).await?;
                Stream::open(self, dir.clone(), config, created, false).await
            }
            .await;
            match result {
                Ok(stream) => {
                    let state = stream.store.state();
                    tracing::info!(
                        "  Restored {} messages for stream '{}'",
                        state.messages,
                        stream.name
                    );
                    self.streams.write().insert(stream.name.clone(), stream);
                }
                Err(e) => {
                    tracing::error!("JetStream: stream in {} not restored: {e}", dir.display())
                }
            }
        }
    }

    /// Stops answering requests, then stops every stream (answering what
    /// each had accepted) and closes the stores.
    pub async fn shutdown(&self) {
        let task = self.api_task.lock().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        let streams: Vec<_> = std::mem::take(&mut *self.streams.write())
            .into_values()
            .collect();
        for stream in streams {
            stream.stop().await;
        }
        tracing::info!("JetStream stopped");
    }

    pub fn stream(&self, name: &str) -> Option<Arc<Stream>> {
        self.streams.read().get(name).cloned()
    }

    /// The directory of stream `name`.
    pub(crate) fn stream_dir(&self, name: &str) -> PathBuf {
        self.streams_dir.join(name)
    }

    /// Bytes held by all streams of `kind`.
    pub fn used(&self, kind: StorageKind) -> u64 {
        self.streams
            .read()
            .values()
            .filter(|s| s.store.kind() == kind)
            .map(|s| s.store.state().bytes)
            .sum()
    }

    /// Refuses a message of `size` stored bytes that would take the
    /// server past `max_file_store`/`max_memory_store`.
    pub(crate) fn check_account_limit(&self, kind: StorageKind, size: u64) -> Result<(), ApiError> {
        let limit = match kind {
            StorageKind::File => self.config.max_file_store,
            StorageKind::Memory => self.config.max_memory_store,
        };
        match limit {
            Some(max) if self.used(kind).saturating_add(size) > max => {
                Err(ApiError::insufficient_resources())
            }
            _ => Ok(()),
        }
    }

    /// Where JetStream keeps its files (`<store_dir>/jetstream`).
    pub fn store_root(&self) -> PathBuf {
        self.config.store_root()
    }

    /// Requests answered, and how many of them with an error.
    pub fn api_counts(&self) -> (u64, u64) {
        (
            self.api_total.load(Ordering::Relaxed),
            self.api_errors.load(Ordering::Relaxed),
        )
    }

    /// Number of streams, and their messages and bytes together.
    pub fn totals(&self) -> (usize, u64, u64) {
        let streams = self.streams.read();
        let (messages, bytes) = streams.values().fold((0, 0), |(m, b), s| {
            let st = s.store.state();
            (m + st.messages, b + st.bytes)
        });
        (streams.len(), messages, bytes)
    }

    /// How file streams open their store: the configured sync policy.
    pub(crate) fn redb_options(&self) -> RedbOptions {
        RedbOptions {
            sync_interval: if self.config.sync_always {
                None
            } else {
                Some(self.config.sync_interval.unwrap_or(DEFAULT_SYNC_INTERVAL))
            },
            ..RedbOptions::default()
        }
    }

    /// Consumers over all streams.
    pub fn consumer_total(&self) -> usize {
        self.streams
            .read()
            .values()
            .map(|s| s.consumer_count())
            .sum()
    }

    /// A mirror that answers direct gets for stream `origin`, if any (the
    /// first by name).
    pub(crate) fn direct_mirror_of(&self, origin: &str) -> Option<Arc<Stream>> {
        self.streams
            .read()
            .values()
            .find(|s| s.serves_direct_for(origin))
            .cloned()
    }

    /// Every stream, by name.
    pub fn stream_list(&self) -> Vec<Arc<Stream>> {
        self.streams.read().values().cloned().collect()
    }

    pub(crate) fn count_request(&self, failed: bool) {
        self.api_total.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.api_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}
