//! One stream: its configuration, its message store, and its ingest task
//! ([`super::ingest`]).
//!
//! A file stream lives in `<store_dir>/jetstream/$G/streams/<name>/`: its
//! config as `config.json` next to the store's `stream.redb`, both
//! recovered at start-up. A memory stream has no directory and, as on a
//! single nats-server, does not outlive the process.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::config::{Storage, StreamConfig};
use super::error::JetStreamError;
use super::ingest::{self, Control};
use super::service::JetStream;
use super::store::{MemoryStore, MessageStore, RedbOptions, RedbStore, StoreError, Timestamp};

const CONFIG_FILE: &str = "config.json";

/// What `config.json` holds.
#[derive(Serialize, Deserialize)]
struct Persisted {
    config: StreamConfig,
    /// Nanoseconds since the epoch.
    created: Timestamp,
}

/// A live stream.
pub struct Stream {
    pub name: String,
    dir: PathBuf,
    config: RwLock<Arc<StreamConfig>>,
    pub created: Timestamp,
    pub store: Arc<dyn MessageStore>,
    control: mpsc::UnboundedSender<Control>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Stream {
    /// Opens (creating when new) the store of `config` in `dir`, writes the
    /// config when `persist`, and starts ingesting.
    pub(crate) async fn open(
        js: &Arc<JetStream>,
        dir: PathBuf,
        config: StreamConfig,
        created: Timestamp,
        persist: bool,
    ) -> Result<Arc<Stream>, JetStreamError> {
        let store_err = |source: StoreError| JetStreamError::Store {
            name: config.name.clone(),
            source,
        };
        let dir_err = |source: std::io::Error| JetStreamError::StoreDir {
            path: dir.clone(),
            source,
        };
        let limits = config.store_limits();
        let file = config.storage == Storage::File;
        let store: Arc<dyn MessageStore> = if file {
            tokio::fs::create_dir_all(&dir).await.map_err(dir_err)?;
            Arc::new(
                RedbStore::open_async(dir.clone(), limits, RedbOptions::default())
                    .await
                    .map_err(store_err)?,
            )
        } else {
            Arc::new(MemoryStore::new(limits))
        };
        if persist {
            if config.first_seq > 1 && store.state().last_seq == 0 {
                store.compact(config.first_seq).await.map_err(store_err)?;
            }
            if file {
                write_config(&dir, &config, created).await?;
            }
        }
        let subscriptions = ingest::subscribe(js, &config)?;
        let (control, control_rx) = mpsc::unbounded_channel();
        let stream = Arc::new(Stream {
            name: config.name.clone(),
            dir,
            config: RwLock::new(Arc::new(config)),
            created,
            store,
            control,
            task: Mutex::new(None),
        });
        let task = tokio::spawn(ingest::run(
            js.clone(),
            stream.clone(),
            subscriptions,
            control_rx,
        ));
        *stream.task.lock() = Some(task);
        Ok(stream)
    }

    /// Reads `<dir>/config.json` back: the config and creation time.
    pub(crate) async fn read_config(
        dir: &Path,
    ) -> Result<(StreamConfig, Timestamp), JetStreamError> {
        let path = dir.join(CONFIG_FILE);
        let bad = |reason: String| JetStreamError::BadConfig {
            path: path.clone(),
            reason,
        };
        let text = tokio::fs::read(&path)
            .await
            .map_err(|e| bad(e.to_string()))?;
        let p: Persisted = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
        Ok((p.config, p.created))
    }

    pub fn config(&self) -> Arc<StreamConfig> {
        self.config.read().clone()
    }

    /// Replaces the configuration (already checked as an update): persists
    /// it, applies the new limits, and re-subscribes when subjects changed.
    pub(crate) async fn update(
        &self,
        js: &Arc<JetStream>,
        config: StreamConfig,
    ) -> Result<(), JetStreamError> {
        let old = self.config();
        if config.storage == Storage::File {
            write_config(&self.dir, &config, self.created).await?;
        }
        let limits = config.store_limits();
        if limits != self.store.limits() {
            self.store
                .set_limits(limits)
                .await
                .map_err(|source| JetStreamError::Store {
                    name: self.name.clone(),
                    source,
                })?;
        }
        if old.subjects != config.subjects {
            let subs = ingest::subscribe(js, &config)?;
            let _ = self.control.send(Control::Resubscribe(subs));
        }
        *self.config.write() = Arc::new(config);
        Ok(())
    }

    /// Stops ingesting (answering what was already accepted) and closes
    /// the store.
    pub(crate) async fn stop(&self) {
        let _ = self.control.send(Control::Stop);
        let task = self.task.lock().take();
        if let Some(task) = task {
            let _ = task.await;
        }
        if let Err(e) = self.store.close().await {
            tracing::error!("JetStream stream '{}': closing store: {e}", self.name);
        }
    }

    /// Stops the stream and removes its directory.
    pub(crate) async fn delete(&self) -> std::io::Result<()> {
        self.stop().await;
        match tokio::fs::remove_dir_all(&self.dir).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Writes the config atomically (temp file, then rename).
async fn write_config(
    dir: &Path,
    config: &StreamConfig,
    created: Timestamp,
) -> Result<(), JetStreamError> {
    let persisted = Persisted {
        config: config.clone(),
        created,
    };
    let text = serde_json::to_vec_pretty(&persisted).map_err(|e| JetStreamError::BadConfig {
        path: dir.join(CONFIG_FILE),
        reason: e.to_string(),
    })?;
    let tmp = dir.join("config.json.tmp");
    let io = |source| JetStreamError::StoreDir {
        path: dir.to_path_buf(),
        source,
    };
    tokio::fs::write(&tmp, text).await.map_err(io)?;
    tokio::fs::rename(&tmp, dir.join(CONFIG_FILE))
        .await
        .map_err(io)?;
    Ok(())
}
