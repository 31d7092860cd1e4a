//! One stream: its configuration, its message store, and its ingest task
//! ([`super::ingest`]).
//!
//! A file stream lives in `<store_dir>/jetstream/$G/streams/<name>/`: its
//! config as `config.json` next to the store's `stream.redb`, both
//! recovered at start-up. A memory stream has no directory and, as on a
//! single nats-server, does not outlive the process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::config::{Retention, Storage, StreamConfig};
use super::consumer::retention::AckView;
use super::consumer::{self, Command, Consumer, ConsumerConfig};
use super::error::ApiError;
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
    pub(crate) consumers: RwLock<BTreeMap<String, Arc<Consumer>>>,
    /// The last sequence committed, watched by the consumers.
    appended: watch::Sender<u64>,
    /// Expiry of messages stored with `Nats-TTL`.
    pub(crate) ttl: super::ttl::TtlIndex,
    /// One copier per entry of `sources`.
    pub(crate) sourcers: Mutex<Vec<super::sourcing::Sourcer>>,
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
                RedbStore::open_async(
                    dir.clone(),
                    limits,
                    RedbOptions {
                        compress: config.compressed(),
                        ..js.redb_options()
                    },
                )
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
        let last_seq = store.state().last_seq;
        let stream = Arc::new(Stream {
            name: config.name.clone(),
            dir,
            config: RwLock::new(Arc::new(config)),
            created,
            store,
            control,
            task: Mutex::new(None),
            consumers: RwLock::new(BTreeMap::new()),
            appended: watch::Sender::new(last_seq),
            ttl: super::ttl::TtlIndex::default(),
            sourcers: Mutex::new(Vec::new()),
        });
        if !persist {
            stream.recover_consumers(js).await;
        }
        let sourcers = super::sourcing::start_all(js, &stream).await;
        *stream.sourcers.lock() = sourcers;
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
        self.store.set_compression(config.compressed());
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
        let sources_changed = old.sources != config.sources || old.mirror != config.mirror;
        *self.config.write() = Arc::new(config);
        if sources_changed {
            self.stop_sourcing();
            if let Some(me) = js.stream(&self.name) {
                let sourcers = super::sourcing::start_all(js, &me).await;
                *self.sourcers.lock() = sourcers;
            }
        }
        Ok(())
    }

    fn stop_sourcing(&self) {
        for s in std::mem::take(&mut *self.sourcers.lock()) {
            s.stop();
        }
    }

    /// Whether this stream answers direct gets for stream `origin`: it
    /// mirrors `origin` with `mirror_direct` and has caught up with it.
    pub(crate) fn serves_direct_for(&self, origin: &str) -> bool {
        let config = self.config();
        let mirrors_origin = config
            .mirror
            .as_ref()
            .is_some_and(|m| m.name == origin && m.external.is_none());
        config.mirror_direct
            && mirrors_origin
            && self
                .sourcers
                .lock()
                .first()
                .is_some_and(|s| s.progress.lock().caught_up)
    }

    /// `sources` (or `mirror`) in stream info: lag and last activity.
    pub(crate) fn sources_json(&self) -> Option<(&'static str, serde_json::Value)> {
        let sourcers = self.sourcers.lock();
        if sourcers.is_empty() {
            return None;
        }
        let list: Vec<serde_json::Value> = sourcers
            .iter()
            .map(|s| {
                let p = s.progress.lock();
                let active = p.last_active.map_or(-1, |t| {
                    i64::try_from(t.elapsed().as_nanos()).unwrap_or(i64::MAX)
                });
                let mut v = serde_json::json!({
                    "name": s.config.name,
                    "lag": p.lag,
                    "active": active,
                });
                if !s.config.filter_subject.is_empty() {
                    v["filter_subject"] = s.config.filter_subject.clone().into();
                }
                if !s.config.subject_transforms.is_empty() {
                    v["subject_transforms"] =
                        serde_json::to_value(&s.config.subject_transforms).unwrap_or_default();
                }
                v
            })
            .collect();
        if self.config().mirror.is_some() {
            return list.into_iter().next().map(|m| ("mirror", m));
        }
        Some(("sources", list.into()))
    }

    /// Whether consumers of this stream keep their config and state on disk.
    fn persists(&self) -> bool {
        self.store.kind() == super::store::StorageKind::File
    }

    /// The last committed sequence, for consumers to wait on.
    pub(crate) fn watch_appended(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// A message was committed at `seq`.
    pub(crate) fn notify_appended(&self, seq: u64) {
        self.appended.send_replace(seq);
    }

    /// Messages left the stream other than by the consumers' own doing.
    pub(crate) fn notify_removed(&self) {
        for c in self.consumers.read().values() {
            c.send(Command::StreamChanged);
        }
    }

    pub fn consumer(&self, name: &str) -> Option<Arc<Consumer>> {
        self.consumers.read().get(name).cloned()
    }

    /// The stream's state as nats-server reports it (stream info, `/jsz`).
    pub fn state_json(&self) -> serde_json::Value {
        let s = self.store.state();
        let mut state = serde_json::json!({
            "messages": s.messages,
            "bytes": s.bytes,
            "first_seq": s.first_seq,
            "first_ts": super::wire::time_string(s.first_ts),
            "last_seq": s.last_seq,
            "last_ts": super::wire::time_string(s.last_ts),
            "consumer_count": self.consumer_count(),
        });
        if s.num_subjects > 0 {
            state["num_subjects"] = s.num_subjects.into();
        }
        if s.num_deleted > 0 {
            state["num_deleted"] = s.num_deleted.into();
        }
        state
    }

    pub fn consumer_count(&self) -> usize {
        self.consumers.read().len()
    }

    /// Starts a new consumer and records it (on disk for file streams).
    pub(crate) async fn add_consumer(
        self: &Arc<Self>,
        js: &Arc<JetStream>,
        name: String,
        config: ConsumerConfig,
        created: super::store::Timestamp,
    ) -> Result<Arc<Consumer>, ApiError> {
        let persist = self.persists() && !config.memory_storage;
        if persist {
            consumer::persist::write(&self.dir, &name, &config, created)
                .await
                .map_err(|e| {
                    ApiError::new(
                        500,
                        10104,
                        format!("error creating store for consumer: {e}"),
                    )
                })?;
        }
        let c =
            consumer::engine::start(js, self, name.clone(), config, created, None, persist).await?;
        self.consumers.write().insert(name, c.clone());
        Ok(c)
    }

    /// Persists an updated config and hands it to the running consumer.
    pub(crate) async fn update_consumer(
        &self,
        c: &Consumer,
        config: ConsumerConfig,
    ) -> Result<(), ApiError> {
        if self.persists() && !config.memory_storage {
            consumer::persist::write(&self.dir, &c.name, &config, c.created)
                .await
                .map_err(|e| ApiError::new(500, 10012, e.to_string()))?;
        }
        c.update(config);
        Ok(())
    }

    /// Stops and removes consumer `name` with its files and state. On an
    /// `interest` stream, messages nobody else needs go with it.
    pub(crate) async fn delete_consumer(&self, name: &str) -> bool {
        let Some(c) = self.consumers.write().remove(name) else {
            return false;
        };
        c.stop(true).await;
        self.erase_consumer(name).await;
        if self.config().retention == Retention::Interest {
            self.drop_unwanted().await;
        }
        true
    }

    /// The views of every consumer but `except`.
    fn views_except(&self, except: &str) -> Vec<Arc<Mutex<AckView>>> {
        self.consumers
            .read()
            .values()
            .filter(|c| c.name != except)
            .filter_map(|c| c.view.clone())
            .collect()
    }

    /// Is any consumer interested in `subject` (`interest` retention: a
    /// message nobody wants is not kept)?
    pub(crate) fn has_consumer_for(&self, subject: &[u8]) -> bool {
        self.views_except("")
            .iter()
            .any(|v| v.lock().interested_in(subject))
    }

    /// Consumer `by` acknowledged `seqs`: on a `workqueue` stream they go;
    /// on an `interest` stream those no other consumer needs go.
    pub(crate) async fn release(&self, by: &str, seqs: Vec<u64>) {
        let retention = self.config().retention;
        let others = match retention {
            Retention::Limits => return,
            Retention::WorkQueue => Vec::new(),
            Retention::Interest => self.views_except(by),
        };
        for seq in seqs {
            if !others.is_empty() {
                let Ok(Some(m)) = self.store.load(seq).await else {
                    continue;
                };
                if others.iter().any(|v| v.lock().needs(seq, &m.subject)) {
                    continue;
                }
            }
            if let Err(e) = self.store.remove(seq).await {
                tracing::error!(
                    "JetStream stream '{}': removing acknowledged message {seq}: {e}",
                    self.name
                );
            }
        }
    }

    /// Removes every message no consumer needs (`interest` retention, after
    /// a consumer went away).
    async fn drop_unwanted(&self) {
        let views = self.views_except("");
        let mut from = self.store.state().first_seq;
        loop {
            let batch = match self.store.load_batch(from, None, 1024, 8 << 20).await {
                Ok(b) if !b.is_empty() => b,
                _ => return,
            };
            for m in &batch {
                if !views.iter().any(|v| v.lock().needs(m.seq, &m.subject)) {
                    let _ = self.store.remove(m.seq).await;
                }
            }
            from = batch.last().map_or(u64::MAX, |m| m.seq + 1);
        }
    }

    /// Called by a consumer's own task when it found itself inactive: it
    /// leaves the map now; its files go in the background.
    pub(crate) fn forget_consumer(self: &Arc<Self>, name: &str) {
        self.consumers.write().remove(name);
        let stream = self.clone();
        let name = name.to_string();
        tokio::spawn(async move { stream.erase_consumer(&name).await });
    }

    async fn erase_consumer(&self, name: &str) {
        if !self.persists() {
            return;
        }
        if let Err(e) = consumer::persist::remove(&self.dir, name).await {
            tracing::error!(
                "JetStream consumer '{} > {name}': removing its file: {e}",
                self.name
            );
        }
        if let Err(e) = self.store.delete_consumer_state(name).await {
            tracing::error!(
                "JetStream consumer '{} > {name}': removing its state: {e}",
                self.name
            );
        }
    }

    /// Brings back the consumers saved with a file stream.
    async fn recover_consumers(self: &Arc<Self>, js: &Arc<JetStream>) {
        if !self.persists() {
            return;
        }
        for (name, saved) in consumer::persist::read_all(&self.dir).await {
            let result = match saved {
                Ok(p) => {
                    let state = self.store.load_consumer_state(&name).await;
                    match state {
                        Ok(state) => consumer::engine::start(
                            js,
                            self,
                            name.clone(),
                            p.config,
                            p.created,
                            Some(state.unwrap_or_default()),
                            true,
                        )
                        .await
                        .map_err(|e| e.description),
                        Err(e) => Err(e.to_string()),
                    }
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(c) => {
                    self.consumers.write().insert(name, c);
                }
                Err(e) => tracing::error!(
                    "JetStream consumer '{} > {name}' not restored: {e}",
                    self.name
                ),
            }
        }
    }

    /// Stops ingesting (answering what was already accepted), stops the
    /// consumers, and closes the store.
    pub(crate) async fn stop(&self) {
        self.stop_sourcing();
        let consumers: Vec<_> = std::mem::take(&mut *self.consumers.write())
            .into_values()
            .collect();
        for c in consumers {
            c.stop(false).await;
        }
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
