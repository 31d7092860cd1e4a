//! Consumers: a stream's readers, durable or ephemeral, push or pull.
//!
//! ## Shape
//! Each consumer is one tokio task (the [`engine`]) that owns all of its
//! delivery state, so nothing on the path from the store to a client takes
//! a lock shared with other consumers. The task wakes when:
//! - the stream commits new messages (a `watch` on the last sequence),
//! - an ack arrives on its internal subscription `$JS.ACK.<stream>.<name>.>`,
//! - a pull request, info request, update or stop arrives as a [`Command`]
//!   from the `$JS.API` handlers,
//! - a deadline passes (ack wait, request expiry, heartbeat, inactivity).
//!
//! Messages leave through the broker's internal publish, routed to the
//! deliver subject (push) or the request's reply inbox (pull) while the
//! `MSG` line keeps the stream subject — what clients expect of JetStream.
//!
//! ## Files
//! [`config`] (the JSON config, defaults, checks), [`tracking`] (pending
//! acks, redelivery, ack floor), [`pull`] (requests and their queue),
//! [`pull_delivery`] (serving those requests), [`ack`] (ack subjects and
//! bodies), [`source`] (which message is next), [`engine`] (the task),
//! [`push`] (deliver subject, flow control, heartbeats), [`pause`]
//! (`pause_until`), [`priority`] (priority groups: overflow, pinned
//! client, prioritized), [`info`] (the `ConsumerInfo` JSON), [`persist`]
//! (config files next to the stream's store; state lives in the store
//! itself), [`retention`] (what the consumer still needs, for `interest`
//! and `workqueue` streams).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::jetstream::store::{SequencePair, Timestamp};

pub mod ack;
pub mod config;
pub(crate) mod engine;
pub mod info;
pub mod pause;
pub(crate) mod persist;
pub mod priority;
pub mod pull;
pub(crate) mod pull_delivery;
pub(crate) mod push;
pub mod retention;
pub(crate) mod source;
pub mod tracking;

pub use config::ConsumerConfig;

/// What the `$JS.API` side asks of a running consumer.
pub(crate) enum Command {
    /// A `MSG.NEXT` request (already parsed, or the parse error).
    Next {
        reply: Bytes,
        request: Result<pull::PullRequest, String>,
    },
    /// Report the counters for `CONSUMER.INFO`.
    Info(oneshot::Sender<Progress>),
    /// A checked config update.
    Update(Arc<ConsumerConfig>),
    /// Messages left the stream (purge, delete, limits): re-check positions.
    StreamChanged,
    /// `CONSUMER.UNPIN`: nobody is pinned any more.
    Unpin,
    /// Stop; `deleted` answers waiting pull requests with 409.
    Stop { deleted: bool },
}

/// The live counters of `ConsumerInfo`.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    pub delivered: SequencePair,
    pub ack_floor: SequencePair,
    pub num_ack_pending: u64,
    pub num_redelivered: u64,
    pub num_waiting: u64,
    pub num_pending: u64,
    pub push_bound: bool,
    /// When something was last delivered / acknowledged (0 = never).
    pub last_delivered: Timestamp,
    pub last_acked: Timestamp,
    /// The pinned client's id and since when (priority groups).
    pub pinned: Option<(String, Timestamp)>,
}

/// The counters as of the end of the task's last turn, readable without
/// asking the task (monitoring, metrics).
#[derive(Debug, Default)]
pub struct Snapshot {
    pub num_pending: AtomicU64,
    pub num_ack_pending: AtomicU64,
    pub num_redelivered: AtomicU64,
    pub num_waiting: AtomicU64,
    pub delivered_consumer_seq: AtomicU64,
    pub delivered_stream_seq: AtomicU64,
    pub ack_floor_consumer_seq: AtomicU64,
    pub ack_floor_stream_seq: AtomicU64,
}

impl Snapshot {
    pub(crate) fn store(&self, p: &Progress) {
        let set = |a: &AtomicU64, v: u64| a.store(v, Ordering::Relaxed);
        set(&self.num_pending, p.num_pending);
        set(&self.num_ack_pending, p.num_ack_pending);
        set(&self.num_redelivered, p.num_redelivered);
        set(&self.num_waiting, p.num_waiting);
        set(&self.delivered_consumer_seq, p.delivered.consumer_seq);
        set(&self.delivered_stream_seq, p.delivered.stream_seq);
        set(&self.ack_floor_consumer_seq, p.ack_floor.consumer_seq);
        set(&self.ack_floor_stream_seq, p.ack_floor.stream_seq);
    }

    /// The counters as a [`Progress`] (without activity times).
    pub fn load(&self) -> Progress {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Progress {
            delivered: SequencePair {
                consumer_seq: get(&self.delivered_consumer_seq),
                stream_seq: get(&self.delivered_stream_seq),
            },
            ack_floor: SequencePair {
                consumer_seq: get(&self.ack_floor_consumer_seq),
                stream_seq: get(&self.ack_floor_stream_seq),
            },
            num_ack_pending: get(&self.num_ack_pending),
            num_redelivered: get(&self.num_redelivered),
            num_waiting: get(&self.num_waiting),
            num_pending: get(&self.num_pending),
            ..Default::default()
        }
    }
}

/// A running consumer, as the stream and the API see it.
pub struct Consumer {
    pub name: String,
    pub stream: String,
    config: RwLock<Arc<ConsumerConfig>>,
    pub created: Timestamp,
    commands: mpsc::UnboundedSender<Command>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// What this consumer still needs, on `interest`/`workqueue` streams.
    pub(crate) view: Option<Arc<Mutex<retention::AckView>>>,
    pub snapshot: Arc<Snapshot>,
}

impl Consumer {
    pub fn config(&self) -> Arc<ConsumerConfig> {
        self.config.read().clone()
    }

    pub(crate) fn send(&self, cmd: Command) -> bool {
        self.commands.send(cmd).is_ok()
    }

    /// The live counters; `None` if the task has stopped.
    pub async fn progress(&self) -> Option<Progress> {
        let (tx, rx) = oneshot::channel();
        if !self.send(Command::Info(tx)) {
            return None;
        }
        rx.await.ok()
    }

    /// Applies a checked config update.
    pub(crate) fn update(&self, config: ConsumerConfig) {
        let config = Arc::new(config);
        *self.config.write() = config.clone();
        self.send(Command::Update(config));
    }

    /// Stops the task and waits for it.
    pub(crate) async fn stop(&self, deleted: bool) {
        self.send(Command::Stop { deleted });
        let task = self.task.lock().take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
