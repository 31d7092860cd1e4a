//! The consumer task: one per consumer, owner of its [`Tracker`], its
//! [`Source`] and its pull requests. Each turn it handles what woke it
//! (a command, acks, new messages, a deadline), delivers what it can, and
//! saves its state when that changed (one save in flight at a time; acks
//! that asked for a confirmation are confirmed once their save is durable).

use std::future::pending;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{mpsc, watch};

use crate::protocol::encode::Delivery;
use crate::server::delivery::PendingFlush;
use crate::server::internal::{InternalMessage, InternalSubscription};

use crate::jetstream::error::ApiError;
use crate::jetstream::service::JetStream;
use crate::jetstream::store::{ConsumerState, StoreFuture, StoredMessage, Timestamp};
use crate::jetstream::stream::Stream;
use crate::jetstream::wire::{now_ns, status_headers, with_headers};

use super::ack::{ack_subject, parse_ack, parse_ack_subject, Ack, AckKind, ACK_PREFIX};
use super::config::{AckPolicy, ConsumerConfig, DeliverPolicy, ReplayPolicy};
use super::priority::{Pin, PriorityPolicy};
use super::pull::WaitingQueue;
use super::push::Push;
use super::retention::AckView;
use super::source::{Origin, Source};
use super::tracking::Tracker;
use super::{Command, Consumer, Progress, Snapshot};
use crate::jetstream::config::Retention;

/// How often a push consumer without interest looks again.
const INTEREST_POLL: Duration = Duration::from_millis(100);
/// How stale the pending count monitoring sees may get: an idle consumer
/// recounts at most this often after new messages.
const RECOUNT_EVERY: Duration = Duration::from_millis(250);
/// State changes nobody waits on (plain acks, deliveries) are saved at
/// most this often; an ack that asked for confirmation is saved at once.
const SAVE_EVERY: Duration = Duration::from_millis(25);

pub(crate) struct Engine {
    pub(super) js: Arc<JetStream>,
    pub(super) stream: Arc<Stream>,
    pub(super) name: String,
    pub(super) config: Arc<ConsumerConfig>,
    pub(super) tracker: Tracker,
    pub(super) source: Source,
    pub(super) waiting: WaitingQueue,
    pub(super) push: Option<Push>,
    /// The pinned client (priority policy `pinned_client`).
    pub(super) pin: Option<Pin>,
    /// Whether state is saved in the stream's store.
    persist: bool,
    dirty: bool,
    last_save: Instant,
    last_recount: Instant,
    /// Acks waiting for the save that makes them durable.
    confirm_after_save: Vec<Bytes>,
    last_activity: Instant,
    pub(super) last_delivered: Timestamp,
    last_acked: Timestamp,
    /// Replay `original`: the wall clock and stream time of the first
    /// message replayed.
    replay_anchor: Option<(Instant, Timestamp)>,
    replay_wait: Option<Instant>,
    /// Set when the inactivity threshold deleted this consumer.
    gone: bool,
    /// On `interest`/`workqueue` streams: what this consumer still needs,
    /// and the acknowledged sequences the stream may now let go.
    view: Option<Arc<Mutex<AckView>>>,
    released: Vec<u64>,
    /// Deliveries of the current round, written to the sockets together
    /// when the round ends ([`Engine::deliver`]).
    out: PendingFlush,
    snapshot: Arc<Snapshot>,
}

/// Creates the consumer's task. `state` is what was saved (recovery) or
/// `None` for a new consumer, which starts where its deliver policy says.
pub(crate) async fn start(
    js: &Arc<JetStream>,
    stream: &Arc<Stream>,
    name: String,
    config: ConsumerConfig,
    created: Timestamp,
    state: Option<ConsumerState>,
    persist: bool,
) -> Result<Arc<Consumer>, ApiError> {
    let subscribe = |subject: String| {
        js.shared
            .subscribe_internal(&js.account, &subject, None)
            .map_err(|e| ApiError::new(500, 10012, e.to_string()))
    };
    let acks = subscribe(format!("{ACK_PREFIX}{}.{name}.>", stream.name))?;
    let flow = if config.flow_control {
        Some(subscribe(format!("$JS.FC.{}.{name}.>", stream.name))?)
    } else {
        None
    };
    let filters: Vec<Bytes> = config
        .filters()
        .into_iter()
        .filter(|f| f != ">")
        .map(Bytes::from)
        .collect();
    let store = stream.store.clone();
    let now = now_ns();
    let fresh = state.is_none();
    let mut state = state.unwrap_or_default();
    let source = if fresh {
        let (start, last_per_subject) = start_position(stream, &config, &filters).await?;
        state.delivered.stream_seq = start.saturating_sub(1);
        state.ack_floor.stream_seq = start.saturating_sub(1);
        let mut source = match last_per_subject {
            Some(seqs) => {
                let mut source = Source::new(store, filters, stream.store.state().last_seq + 1);
                source.set_last_per_subject(seqs);
                source
            }
            None => Source::new(store, filters, start),
        };
        let _ = source.num_pending().await;
        source
    } else {
        Source::new(store, filters, state.delivered.stream_seq + 1)
    };
    let tracker = Tracker::new(
        state,
        config.ack_policy,
        config.max_deliver,
        config.ack_wait,
        now,
    );
    let view = (stream.config().retention != Retention::Limits).then(|| {
        Arc::new(Mutex::new(AckView {
            filters: config
                .filters()
                .into_iter()
                .filter(|f| f != ">")
                .map(Bytes::from)
                .collect(),
            delivered_upto: tracker.state.delivered.stream_seq,
            pending: tracker.state.pending.keys().copied().collect(),
        }))
    });
    let config = Arc::new(config);
    let (tx, rx) = mpsc::unbounded_channel();
    let consumer = Arc::new(Consumer {
        name: name.clone(),
        stream: stream.name.clone(),
        config: RwLock::new(config.clone()),
        created,
        commands: tx,
        task: Mutex::new(None),
        view: view.clone(),
        snapshot: Arc::new(Snapshot::default()),
    });
    let push = config.is_push().then(|| Push::new(&config, Instant::now()));
    let mut waiting = WaitingQueue::default();
    waiting.set_prioritized(config.priority_policy == PriorityPolicy::Prioritized);
    let engine = Engine {
        js: js.clone(),
        stream: stream.clone(),
        name,
        config,
        tracker,
        source,
        waiting,
        push,
        pin: None,
        persist,
        dirty: fresh && persist,
        last_save: Instant::now(),
        last_recount: Instant::now(),
        confirm_after_save: Vec::new(),
        last_activity: Instant::now(),
        last_delivered: 0,
        last_acked: 0,
        replay_anchor: None,
        replay_wait: None,
        gone: false,
        view,
        released: Vec::new(),
        out: PendingFlush::default(),
        snapshot: consumer.snapshot.clone(),
    };
    let appended = stream.watch_appended();
    let task = tokio::spawn(engine.run(rx, acks, flow, appended));
    *consumer.task.lock() = Some(task);
    Ok(consumer)
}

/// Where a new consumer starts: the first stream sequence it may deliver,
/// and for `last_per_subject` the last message of each matching subject.
async fn start_position(
    stream: &Stream,
    config: &ConsumerConfig,
    filters: &[Bytes],
) -> Result<(u64, Option<Vec<u64>>), ApiError> {
    let store_err =
        |e: crate::jetstream::store::StoreError| ApiError::new(500, 10012, e.to_string());
    let state = stream.store.state();
    let after_last = state.last_seq + 1;
    let start = match config.deliver_policy {
        DeliverPolicy::All => state.first_seq.max(1),
        DeliverPolicy::New => after_last,
        DeliverPolicy::ByStartSequence => config.opt_start_seq,
        DeliverPolicy::ByStartTime => {
            let ts = config.start_time_ns().unwrap_or(0);
            stream.store.seq_from_time(ts).await.map_err(store_err)?
        }
        DeliverPolicy::Last if filters.is_empty() => {
            if state.messages > 0 {
                state.last_seq
            } else {
                after_last
            }
        }
        DeliverPolicy::Last => {
            let mut last = None;
            for f in filters {
                if let Some(m) = stream.store.load_last(f).await.map_err(store_err)? {
                    last = last.max(Some(m.seq));
                }
            }
            last.unwrap_or(after_last)
        }
        DeliverPolicy::LastPerSubject => {
            let mut seqs = Vec::new();
            for f in filters {
                seqs.extend(
                    stream
                        .store
                        .last_per_subject(Some(f))
                        .await
                        .map_err(store_err)?,
                );
            }
            seqs.sort_unstable();
            seqs.dedup();
            let first = seqs.first().copied().unwrap_or(after_last);
            return Ok((first, Some(seqs)));
        }
    };
    Ok((start, None))
}

impl Engine {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut acks: InternalSubscription,
        mut flow: Option<InternalSubscription>,
        mut appended: watch::Receiver<u64>,
    ) {
        let mut saving: Option<(StoreFuture<()>, Vec<Bytes>)> = None;
        let mut stop = None;
        while stop.is_none() && !self.gone {
            self.deliver().await;
            if !self.released.is_empty() {
                let released = std::mem::take(&mut self.released);
                self.stream.release(&self.name, released).await;
            }
            if saving.is_none() && self.save_due() {
                saving = Some(self.save());
            } else if !self.persist {
                let confirms = std::mem::take(&mut self.confirm_after_save);
                self.confirm(confirms);
            }
            if self.source.count_is_stale() && self.last_recount.elapsed() >= RECOUNT_EVERY {
                self.last_recount = Instant::now();
                let _ = self.source.num_pending().await;
            }
            self.snapshot.store(&self.progress_now());
            let wake = self.next_wake(saving.is_some());
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(Command::Stop { deleted }) => stop = Some(deleted),
                    None => stop = Some(false),
                    Some(cmd) => self.command(cmd).await,
                },
                m = acks.recv() => {
                    if let Some(m) = m {
                        self.on_ack(m);
                        while let Some(m) = acks.try_recv() {
                            self.on_ack(m);
                        }
                    }
                }
                m = recv_opt(&mut flow) => {
                    if let (Some(m), Some(push)) = (m, self.push.as_mut()) {
                        push.flow_reply(&m.subject);
                    }
                }
                r = appended.changed() => {
                    if r.is_err() {
                        stop = Some(false);
                    }
                    self.source.appended();
                }
                r = wait_save(&mut saving) => {
                    let confirms = saving.take().map(|(_, c)| c).unwrap_or_default();
                    if let Err(e) = r {
                        tracing::error!(
                            "JetStream consumer '{} > {}': saving state: {e}",
                            self.stream.name, self.name
                        );
                    }
                    self.confirm(confirms);
                }
                () = sleep_until(wake) => self.on_timer(),
            }
        }
        if let Some((fut, confirms)) = saving.take() {
            let _ = fut.await;
            self.confirm(confirms);
        }
        if self.dirty && !self.gone {
            let (fut, confirms) = self.save();
            let _ = fut.await;
            self.confirm(confirms);
        }
        if stop == Some(true) {
            let hdr = status_headers(409, "Consumer Deleted", &[]);
            while let Some(w) = self.waiting.pop() {
                self.js
                    .shared
                    .publish_internal(&self.js.account, &w.reply, None, Some(&hdr), b"");
            }
        }
    }

    /// Whether to save now: something changed, and either an ack waits for
    /// its confirmation or the last save is [`SAVE_EVERY`] old.
    fn save_due(&self) -> bool {
        self.dirty
            && (!self.confirm_after_save.is_empty() || self.last_save.elapsed() >= SAVE_EVERY)
    }

    fn save(&mut self) -> (StoreFuture<()>, Vec<Bytes>) {
        self.dirty = false;
        self.last_save = Instant::now();
        let fut = self
            .stream
            .store
            .save_consumer_state(&self.name, &self.tracker.state);
        (fut, std::mem::take(&mut self.confirm_after_save))
    }

    /// Answers acks that asked for confirmation (`AckSync`).
    fn confirm(&self, replies: Vec<Bytes>) {
        for reply in replies {
            self.js
                .shared
                .publish_internal(&self.js.account, &reply, None, None, b"");
        }
    }

    async fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Next { reply, request } => {
                self.last_activity = Instant::now();
                self.pull_request(reply, request).await;
            }
            Command::Info(tx) => {
                let progress = self.progress().await;
                let _ = tx.send(progress);
            }
            Command::Update(config) => {
                self.source.set_filters(
                    config
                        .filters()
                        .into_iter()
                        .filter(|f| f != ">")
                        .map(Bytes::from)
                        .collect(),
                );
                self.tracker.set_limits(config.max_deliver);
                if let Some(push) = self.push.as_mut() {
                    push.update(&config);
                }
                self.waiting
                    .set_prioritized(config.priority_policy == PriorityPolicy::Prioritized);
                self.config = config;
            }
            Command::Unpin => self.unpin(),
            Command::StreamChanged => {
                let first = self.stream.store.state().first_seq;
                self.tracker.purged_below(first);
                self.source.reset();
                self.dirty |= self.persist;
            }
            Command::Stop { .. } => {}
        }
    }

    /// The counters with an exact pending count (one store trip at most).
    async fn progress(&mut self) -> Progress {
        let _ = self.source.num_pending().await;
        self.progress_now()
    }

    /// The counters as known without a store trip.
    fn progress_now(&self) -> Progress {
        let num_pending = self.source.pending_hint();
        Progress {
            delivered: self.tracker.state.delivered,
            ack_floor: self.tracker.state.ack_floor,
            num_ack_pending: self.tracker.num_ack_pending() as u64,
            num_redelivered: self.tracker.num_redelivered() as u64,
            num_waiting: self.waiting.len() as u64,
            num_pending,
            push_bound: self.push.as_ref().is_some_and(|p| p.bound),
            last_delivered: self.last_delivered,
            last_acked: self.last_acked,
            pinned: self.pin.as_ref().map(|p| (p.id.clone(), p.since)),
        }
    }

    fn on_ack(&mut self, m: InternalMessage) {
        let Some(target) = parse_ack_subject(&m.subject) else {
            return;
        };
        let Some(kind) = parse_ack(&m.payload) else {
            return;
        };
        self.last_activity = Instant::now();
        let ack = Ack {
            target,
            kind,
            reply: m.reply,
        };
        let seq = ack.target.stream_seq;
        let now = now_ns();
        match ack.kind {
            AckKind::Ack | AckKind::Term => self.acked(seq, now),
            AckKind::Nak { delay } => self.tracker.nak(seq, delay, now),
            AckKind::Progress => {
                let wait = self.config.ack_wait_for(self.tracker.delivery_count(seq));
                self.tracker.progress(seq, now, wait);
            }
            AckKind::Next(request) => {
                self.acked(seq, now);
                self.dirty |= self.persist;
                if let Some(reply) = ack.reply {
                    self.enqueue_pull(reply, request);
                }
                return;
            }
        }
        self.dirty |= self.persist;
        if let Some(reply) = ack.reply {
            self.confirm_after_save.push(reply);
        }
    }

    /// Records an ack of `seq` (and, with ack policy `all`, of what it
    /// covers).
    fn acked(&mut self, seq: u64, now: Timestamp) {
        let acked = self.tracker.ack(seq);
        if acked.is_empty() {
            return;
        }
        self.last_acked = now;
        if let Some(view) = &self.view {
            let mut v = view.lock();
            for s in &acked {
                v.pending.remove(s);
            }
            drop(v);
            self.released.extend(acked);
        }
    }

    /// Delivers what it can: to pull requests, or to the deliver subject.
    async fn deliver(&mut self) {
        if self.pause_deadline().is_some() {
            self.while_paused();
            return;
        }
        let idle = match &self.push {
            Some(p) => p.stalled(),
            None => self.waiting.is_empty(),
        };
        if idle {
            return;
        }
        if let Some(at) = self.replay_wait {
            if Instant::now() < at {
                return;
            }
            self.replay_wait = None;
        }
        if let Err(e) = self.source.num_pending().await {
            tracing::error!(
                "JetStream consumer '{} > {}': counting pending messages: {e}",
                self.stream.name,
                self.name
            );
        }
        if self.push.is_some() {
            self.deliver_push().await;
        } else {
            self.deliver_pull().await;
        }
        self.out.flush();
    }

    /// Whether `max_ack_pending` holds back new messages.
    pub(super) fn at_ack_limit(&self) -> bool {
        let max = self.config.max_ack_pending;
        self.config.ack_policy != AckPolicy::None
            && max > 0
            && self.tracker.num_ack_pending() >= max as usize
    }

    /// The next message that may go out now, honouring max ack pending and
    /// replay `original`.
    pub(super) async fn next_message(&mut self, want: usize) -> Option<(StoredMessage, Origin)> {
        let room = !self.at_ack_limit();
        let next = match self.source.next(&mut self.tracker, room, want).await {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(
                    "JetStream consumer '{} > {}': reading the stream: {e}",
                    self.stream.name,
                    self.name
                );
                None
            }
        };
        let (m, origin) = next?;
        if self.config.replay_policy == ReplayPolicy::Original && origin == Origin::New {
            let now = Instant::now();
            let (at, ts) = *self.replay_anchor.get_or_insert((now, m.timestamp));
            let offset = u64::try_from(m.timestamp.saturating_sub(ts)).unwrap_or(0);
            let due = at + Duration::from_nanos(offset);
            if due > now {
                self.replay_wait = Some(due);
                self.source.put_back(m, origin);
                return None;
            }
        }
        Some((m, origin))
    }

    /// Sends `m` to `to` with its ack subject (and the pin id of a pinned
    /// client); records the delivery if someone received it.
    pub(super) fn send(
        &mut self,
        to: &[u8],
        m: &StoredMessage,
        origin: Origin,
        pin: Option<&str>,
    ) -> bool {
        let redelivery = origin == Origin::Redelivery;
        let count = if redelivery {
            self.tracker.delivery_count(m.seq) + 1
        } else {
            1
        };
        let dseq = self.tracker.state.delivered.consumer_seq + 1;
        let pending = self.source_pending_hint();
        let reply = ack_subject(
            &self.stream.name,
            &self.name,
            count,
            m.seq,
            dseq,
            m.timestamp,
            pending,
        );
        // Headers nats-server adds, in its order.
        let mut added = Vec::new();
        if self.config.headers_only {
            added.push(("Nats-Msg-Size", m.payload.len().to_string()));
        }
        if let Some(id) = pin {
            added.push((super::priority::PIN_ID_HEADER, id.to_string()));
        }
        let extended;
        let headers: Option<&[u8]> = if added.is_empty() {
            (!m.headers.is_empty()).then_some(&m.headers[..])
        } else {
            extended = with_headers(&m.headers, &added);
            Some(&extended)
        };
        let payload: &[u8] = if self.config.headers_only {
            b""
        } else {
            &m.payload
        };
        let delivered = self.js.shared.deliver_internal_batched(
            &self.js.account,
            to,
            &Delivery {
                subject: &m.subject,
                reply: Some(reply.as_bytes()),
                headers,
                payload,
            },
            &mut self.out,
        );
        if delivered {
            let now = now_ns();
            let config = self.config.clone();
            self.tracker
                .delivered(m.seq, redelivery, now, |n| config.ack_wait_for(n));
            self.last_delivered = now;
            self.dirty |= self.persist;
            if let Some(view) = &self.view {
                let mut v = view.lock();
                if !redelivery {
                    v.delivered_upto = v.delivered_upto.max(m.seq);
                }
                if self.config.ack_policy == AckPolicy::None {
                    drop(v);
                    self.released.push(m.seq);
                } else {
                    v.pending.insert(m.seq);
                }
            }
        }
        delivered
    }

    /// The pending count for an ack subject: known without a store trip
    /// once [`Source::num_pending`] ran in this turn.
    fn source_pending_hint(&self) -> u64 {
        self.source.pending_hint()
    }

    /// When the task must wake without an event.
    fn next_wake(&self, saving: bool) -> Option<Instant> {
        let now = Instant::now();
        let mut wake: Option<Instant> = None;
        let mut at = |t: Instant| wake = Some(wake.map_or(t, |w| w.min(t)));
        if let Some(deadline) = self.tracker.next_deadline() {
            let wait = u64::try_from(deadline.saturating_sub(now_ns())).unwrap_or(0);
            at(now + Duration::from_nanos(wait));
        }
        if let Some(t) = self.waiting.next_deadline() {
            at(t);
        }
        if let Some(t) = self.replay_wait {
            at(t);
        }
        if let Some(t) = self.pause_deadline() {
            at(t);
        }
        if let Some(pin) = &self.pin {
            at(pin.expires);
        }
        if self.dirty && !saving {
            at(self.last_save + SAVE_EVERY);
        }
        if self.source.count_is_stale() {
            at(self.last_recount + RECOUNT_EVERY);
        }
        if let Some(push) = &self.push {
            if let Some(t) = push.next_heartbeat() {
                at(t);
            }
            if !push.bound {
                at(now + INTEREST_POLL);
            }
        }
        if self.config.inactive_threshold > 0 {
            at(self.inactive_deadline());
        }
        wake
    }

    fn inactive_deadline(&self) -> Instant {
        let threshold = Duration::from_nanos(self.config.inactive_threshold as u64);
        let since = match &self.push {
            Some(p) if !p.bound => p.unbound_since,
            Some(_) => Instant::now(),
            None if !self.waiting.is_empty() => Instant::now(),
            None => self.last_activity,
        };
        since + threshold
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        self.tracker.expire(now_ns());
        // A request's own deadline (expiry or heartbeat) passing with
        // nothing delivered to it since is nats-server's end of the stream
        // for `no_wait` requests, even when max_ack_pending held messages
        // back: they end with 404 before their heartbeat goes out.
        let request_due = self.waiting.next_deadline().is_some_and(|t| t <= now);
        self.expire_requests(now, request_due);
        self.pin_timer(now);
        if self.push.is_some() {
            self.push_timers(now);
        }
        if self.config.inactive_threshold > 0 && self.inactive_deadline() <= now {
            tracing::debug!(
                "JetStream consumer '{} > {}' inactive: deleting it",
                self.stream.name,
                self.name
            );
            self.gone = true;
            self.stream.forget_consumer(&self.name);
        }
    }
}

/// An idle heartbeat's headers, with the stalled flow-control subject when
/// delivery waits for one.
pub(super) fn heartbeat_headers(dseq: u64, sseq: u64, stalled: Option<&str>) -> Vec<u8> {
    let mut extra = vec![
        ("Nats-Last-Consumer", dseq.to_string()),
        ("Nats-Last-Stream", sseq.to_string()),
    ];
    if let Some(s) = stalled {
        extra.push(("Nats-Consumer-Stalled", s.to_string()));
    }
    status_headers(100, "Idle Heartbeat", &extra)
}

async fn recv_opt(sub: &mut Option<InternalSubscription>) -> Option<InternalMessage> {
    match sub {
        Some(s) => s.recv().await,
        None => pending().await,
    }
}

async fn wait_save(saving: &mut Option<(StoreFuture<()>, Vec<Bytes>)>) -> Result<(), String> {
    match saving {
        Some((fut, _)) => fut.await.map_err(|e| e.to_string()),
        None => pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => pending().await,
    }
}
