//! Ingest: a stream's task that takes messages published on its subjects
//! (internal subscriptions, one per subject), checks them (`max_msg_size`,
//! sealed, the `Nats-*` headers, `Nats-Msg-Id` dedupe, the server's
//! `max_file_store`/`max_memory_store`), and submits them to the store
//! **in arrival order** — the order sequences are assigned in.
//!
//! Acknowledgements are the acker's job (a second task): it awaits each
//! append's future in submission order and only then publishes the PubAck
//! to the reply subject, so an acknowledged message is durable. The ingest
//! task takes everything that has arrived (up to [`BURST`]) before it
//! commits, so under load many publishes share one group commit.
//!
//! Messages on different subjects of one stream arrive through different
//! inboxes; their relative order is the order the task sees them in.
//! When the task starts it first rebuilds the dedupe window from the stored
//! messages inside it, so a retry after a restart is still recognised.

use std::collections::{HashMap, VecDeque};
use std::future::{pending, poll_fn};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::mpsc::{self, error::TryRecvError};

use crate::server::delivery::PendingFlush;
use crate::server::internal::{InternalMessage, InternalSubscription};

use super::config::{Retention, StreamConfig};
use super::error::{ApiError, JetStreamError};
use super::markers;
use super::republish::{LastSequences, ToRepublish, Transforms};
use super::service::JetStream;
use super::store::{
    AppendOptions, ExpectedSubjectSeq, NewMessage, Rollup, StoreError, StoreFuture, Timestamp,
};
use super::stream::Stream;
use super::ttl::parse_ttl;
use super::wire::{header, now_ns};

/// Orders for a running ingest task.
pub(crate) enum Control {
    /// The subjects changed (stream update): take what is waiting on the
    /// old subscriptions, then switch.
    Resubscribe(Vec<InternalSubscription>),
    /// Stop (stream deleted, server shutting down).
    Stop,
}

/// The error code of a PubAck for a message a stream-filter plugin dropped
/// (nats-server's general stream failure code; it has no plugins).
const PLUGIN_DROPPED_ERR_CODE: u16 = 10051;

/// At most this many messages are taken from the inbox before committing.
const BURST: usize = 1024;

/// One internal subscription per stream subject.
pub(crate) fn subscribe(
    js: &Arc<JetStream>,
    config: &StreamConfig,
) -> Result<Vec<InternalSubscription>, JetStreamError> {
    config
        .subjects
        .iter()
        .map(|s| {
            js.shared
                .subscribe_internal(&js.account, s, None)
                .map_err(|e| JetStreamError::Subscribe {
                    subject: s.clone(),
                    reason: e.to_string(),
                })
        })
        .collect()
}

/// What the acker is handed, in submission order.
enum Pending {
    Append {
        fut: StoreFuture<u64>,
        reply: Option<Bytes>,
        msg_id: Option<String>,
        /// `interest` retention with no consumer for the subject: the
        /// message takes a sequence and is acknowledged, but not kept.
        unwanted: bool,
        /// When a `Nats-TTL` makes it expire.
        expires: Option<Timestamp>,
        /// The copy `republish` sends once the append committed.
        republish: Option<ToRepublish>,
    },
    Duplicate {
        reply: Option<Bytes>,
        msg_id: String,
    },
    Refused {
        reply: Option<Bytes>,
        err: ApiError,
    },
}

/// `Nats-Msg-Id`s seen within the duplicate window, with the sequence once
/// their append has committed.
#[derive(Default)]
struct Dedupe {
    ids: HashMap<String, (Timestamp, Option<u64>)>,
    order: VecDeque<(Timestamp, String)>,
}

impl Dedupe {
    fn prune(&mut self, now: Timestamp, window: i64) {
        while let Some((ts, _)) = self.order.front() {
            if now.saturating_sub(*ts) <= window {
                break;
            }
            if let Some((ts, id)) = self.order.pop_front() {
                if self.ids.get(&id).is_some_and(|(t, _)| *t == ts) {
                    self.ids.remove(&id);
                }
            }
        }
    }
}

/// The PubAck JSON.
#[derive(Serialize)]
struct PubAck<'a> {
    stream: &'a str,
    seq: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    duplicate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a ApiError>,
}

/// The ingest task of `stream`.
pub(crate) async fn run(
    js: Arc<JetStream>,
    stream: Arc<Stream>,
    mut subs: Vec<InternalSubscription>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let dedupe = Arc::new(Mutex::new(rebuild_dedupe(&stream).await));
    let (ack_tx, ack_rx) = mpsc::unbounded_channel();
    let acker = tokio::spawn(ack_loop(js.clone(), stream.clone(), dedupe.clone(), ack_rx));
    let mut ingest = Ingest {
        js,
        stream,
        dedupe,
        acks: ack_tx,
        last_msg_id: None,
        transforms: None,
    };
    let last_seq = ingest.stream.store.state().last_seq;
    if let Ok(Some(last)) = ingest.stream.store.load(last_seq).await {
        ingest.last_msg_id = header(Some(&last.headers), "Nats-Msg-Id").map(str::to_string);
    }
    if ingest.stream.config().allow_msg_ttl {
        rebuild_ttl(&ingest.stream).await;
    }
    // Commits can give an empty stream its first expiry time: with no timer
    // armed, the loop also wakes on them.
    let mut appended = ingest.stream.watch_appended();
    loop {
        let expiry = match (ingest.stream.store.next_expiry(), ingest.stream.ttl.next()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timer = async move {
            match expiry {
                Some(at) => {
                    let wait = u64::try_from(at.saturating_sub(now_ns())).unwrap_or(0);
                    tokio::time::sleep(Duration::from_nanos(wait).max(Duration::from_millis(20)))
                        .await
                }
                None => pending().await,
            }
        };
        tokio::select! {
            biased;
            c = control.recv() => match c {
                Some(Control::Resubscribe(new)) => {
                    for sub in &mut subs {
                        while let Some(m) = sub.try_recv() {
                            ingest.accept(m);
                        }
                    }
                    subs = new;
                }
                Some(Control::Stop) | None => break,
            },
            m = next_message(&mut subs) => {
                if let Some(m) = m {
                    ingest.accept(m);
                    // What else has arrived joins the same commit.
                    for _ in 1..BURST {
                        let Some(m) = subs.iter_mut().find_map(InternalSubscription::try_recv) else {
                            break;
                        };
                        ingest.accept(m);
                    }
                }
            }
            () = ingest.stream.ttl.changed() => {}
            _ = appended.changed(), if expiry.is_none() => {}
            () = timer => ingest.expire(now_ns()).await,
        }
        // Appends are deferred (`accept`): commit them before waiting again.
        ingest.stream.store.commit_deferred();
    }
    drop(subs);
    drop(ingest);
    let _ = acker.await;
}

/// The expiry of every stored message with a `Nats-TTL`.
async fn rebuild_ttl(stream: &Stream) {
    let mut from = stream.store.state().first_seq;
    loop {
        let batch = match stream.store.load_batch(from, None, 1024, 8 << 20).await {
            Ok(b) if !b.is_empty() => b,
            _ => break,
        };
        for m in &batch {
            if let Some(Ok(Some(ns))) = header(Some(&m.headers), "Nats-TTL").map(parse_ttl) {
                stream.ttl.add(m.timestamp.saturating_add(ns), m.seq);
            }
        }
        from = batch.last().map_or(u64::MAX, |m| m.seq.saturating_add(1));
    }
}

/// The `Nats-Msg-Id`s of the stored messages still inside the window.
async fn rebuild_dedupe(stream: &Stream) -> Dedupe {
    let mut dedupe = Dedupe::default();
    let window = stream.config().duplicate_window;
    if stream.store.state().messages == 0 || window <= 0 {
        return dedupe;
    }
    let since = now_ns().saturating_sub(window);
    let Ok(mut from) = stream.store.seq_from_time(since).await else {
        return dedupe;
    };
    loop {
        let batch = match stream.store.load_batch(from, None, 1024, 8 << 20).await {
            Ok(b) if !b.is_empty() => b,
            _ => break,
        };
        for m in &batch {
            if let Some(id) = header(Some(&m.headers), "Nats-Msg-Id").filter(|id| !id.is_empty()) {
                dedupe
                    .ids
                    .insert(id.to_string(), (m.timestamp, Some(m.seq)));
                dedupe.order.push_back((m.timestamp, id.to_string()));
            }
        }
        from = batch.last().map_or(u64::MAX, |m| m.seq.saturating_add(1));
    }
    dedupe
}

/// The next message on any of `subs`.
async fn next_message(subs: &mut [InternalSubscription]) -> Option<InternalMessage> {
    poll_fn(|cx| {
        for sub in subs.iter_mut() {
            if let Poll::Ready(Some(m)) = sub.poll_recv(cx) {
                return Poll::Ready(Some(m));
            }
        }
        Poll::Pending
    })
    .await
}

struct Ingest {
    js: Arc<JetStream>,
    stream: Arc<Stream>,
    dedupe: Arc<Mutex<Dedupe>>,
    acks: mpsc::UnboundedSender<Pending>,
    /// The `Nats-Msg-Id` of the last message submitted (`None` when it had
    /// none), for `Nats-Expected-Last-Msg-Id`.
    last_msg_id: Option<String>,
    /// `subject_transform` and `republish` of the current config.
    transforms: Option<Transforms>,
}

impl Ingest {
    /// Age and per-message TTL remove what is due; with subject delete
    /// markers configured, a subject's last message is replaced by a marker
    /// (whose roll-up removes it) instead.
    async fn expire(&mut self, now: Timestamp) {
        let config = self.stream.config();
        let marker_ttl = config.subject_delete_marker_ttl;
        let store = self.stream.store.clone();
        let name = self.stream.name.clone();
        if marker_ttl > 0 {
            // A no-op through the writer: once it is done, every append this
            // task submitted has committed, so "last of its subject" below
            // cannot be overtaken by one still in flight.
            let _ = store.skip_to(0).await;
        }
        if marker_ttl > 0 && config.max_age > 0 {
            let cutoff = now.saturating_sub(config.max_age);
            for subject in markers::emptied_by_age(store.as_ref(), cutoff).await {
                self.leave_marker(subject, marker_ttl, now);
            }
        }
        if let Err(e) = store.expire(now).await {
            tracing::error!("JetStream stream '{name}': expiring messages: {e}");
        }
        let due = self.stream.ttl.take_due(now);
        if due.is_empty() {
            return;
        }
        for seq in due {
            if marker_ttl > 0 {
                if let Some(subject) = markers::needs_marker(store.as_ref(), seq).await {
                    self.leave_marker(subject, marker_ttl, now);
                    continue;
                }
            }
            if let Err(e) = store.remove(seq).await {
                tracing::error!("JetStream stream '{name}': expiring message {seq}: {e}");
            }
        }
        self.stream.notify_removed();
    }

    /// Stores a subject delete marker on `subject`, through the acker like
    /// any message (so its own TTL is tracked and consumers hear of it).
    fn leave_marker(&mut self, subject: Bytes, ttl: i64, now: Timestamp) {
        let fut = self.stream.store.append(
            NewMessage {
                subject,
                headers: markers::marker_headers(ttl),
                payload: Bytes::new(),
                timestamp: now,
            },
            AppendOptions {
                rollup: Some(Rollup::Subject),
                ..Default::default()
            },
        );
        let _ = self.acks.send(Pending::Append {
            fut,
            reply: None,
            msg_id: None,
            unwanted: false,
            expires: Some(now.saturating_add(ttl)),
            republish: None,
        });
    }

    fn accept(&mut self, msg: InternalMessage) {
        let config = self.stream.config();
        let reply = if config.no_ack {
            None
        } else {
            msg.reply.clone()
        };
        // Stream-filter plugins (crate::plugin), before any other check: a
        // dropped message is refused like any other, with an error PubAck.
        let msg = match crate::plugin::filter_for_ingest(&self.js.shared, &self.stream.name, msg) {
            Ok(msg) => msg,
            Err(why) => {
                let err = ApiError::new(400, PLUGIN_DROPPED_ERR_CODE, why);
                let _ = self.acks.send(Pending::Refused { reply, err });
                return;
            }
        };
        let pending = match self.check_and_submit(&config, msg) {
            Ok(p) => p,
            Err(err) => Pending::Refused { reply: None, err },
        };
        let pending = match pending {
            Pending::Append {
                fut,
                msg_id,
                unwanted,
                expires,
                republish,
                ..
            } => Pending::Append {
                fut,
                reply,
                msg_id,
                unwanted,
                expires,
                republish,
            },
            Pending::Duplicate { msg_id, .. } => Pending::Duplicate { reply, msg_id },
            Pending::Refused { err, .. } => Pending::Refused { reply, err },
        };
        let _ = self.acks.send(pending);
    }

    fn check_and_submit(
        &mut self,
        config: &Arc<StreamConfig>,
        msg: InternalMessage,
    ) -> Result<Pending, ApiError> {
        let hdrs = msg.headers.as_deref();
        if config.sealed {
            return Err(ApiError::sealed());
        }
        let size = hdrs.map_or(0, <[u8]>::len) + msg.payload.len();
        if config.max_msg_size > 0 && size as i64 > config.max_msg_size {
            return Err(ApiError::message_too_big());
        }
        if let Some(expected) = header(hdrs, "Nats-Expected-Stream") {
            if expected != self.stream.name {
                return Err(ApiError::stream_not_match());
            }
        }
        let now = now_ns();
        let mut expires = None;
        if let Some(ttl) = header(hdrs, "Nats-TTL") {
            if !config.allow_msg_ttl {
                return Err(ApiError::new(400, 10166, "per-message TTL is disabled"));
            }
            expires = parse_ttl(ttl)?.map(|ns| now.saturating_add(ns));
        }
        let msg_id = header(hdrs, "Nats-Msg-Id")
            .filter(|id| !id.is_empty())
            .map(str::to_string);
        if let Some(id) = &msg_id {
            let mut d = self.dedupe.lock();
            d.prune(now, config.duplicate_window);
            if d.ids.contains_key(id) {
                return Ok(Pending::Duplicate {
                    reply: None,
                    msg_id: id.clone(),
                });
            }
        }
        if let Some(expected) = header(hdrs, "Nats-Expected-Last-Msg-Id") {
            let last = self.last_msg_id.as_deref().unwrap_or("");
            if expected != last {
                return Err(ApiError::wrong_last_msg_id(last));
            }
        }
        let mut opts = AppendOptions::default();
        if let Some(v) = header(hdrs, "Nats-Expected-Last-Sequence") {
            opts.expected_last_seq = Some(v.parse().map_err(|_| ApiError::bad_request())?);
        }
        if let Some(v) = header(hdrs, "Nats-Expected-Last-Subject-Sequence") {
            opts.expected_last_subject_seq = Some(ExpectedSubjectSeq {
                seq: v.parse().map_err(|_| ApiError::bad_request())?,
                subject: header(hdrs, "Nats-Expected-Last-Subject-Sequence-Subject")
                    .map(|s| Bytes::copy_from_slice(s.as_bytes())),
            });
        }
        if let Some(v) = header(hdrs, "Nats-Rollup") {
            if !config.allow_rollup_hdrs {
                return Err(ApiError::rollup_failed("rollup not permitted"));
            }
            opts.rollup = Some(match v.to_lowercase().as_str() {
                "sub" => Rollup::Subject,
                "all" => Rollup::All,
                _ => {
                    return Err(ApiError::rollup_failed(format!(
                        "rollup value invalid: {v}"
                    )))
                }
            });
        }
        let kind = config.storage.kind();
        let stored = kind.msg_size(
            msg.subject.len(),
            hdrs.map_or(0, <[u8]>::len),
            msg.payload.len(),
        );
        self.js.check_account_limit(kind, stored)?;
        if let Some(id) = &msg_id {
            let mut d = self.dedupe.lock();
            d.ids.insert(id.clone(), (now, None));
            d.order.push_back((now, id.clone()));
        }
        self.last_msg_id.clone_from(&msg_id);
        if !self.transforms.as_ref().is_some_and(|t| t.is_for(config)) {
            self.transforms = Some(Transforms::new(config));
        }
        let transforms = self.transforms.as_ref();
        let subject = match transforms {
            Some(t) => t.stored_subject(msg.subject),
            None => msg.subject,
        };
        let unwanted =
            config.retention == Retention::Interest && !self.stream.has_consumer_for(&subject);
        let headers = msg.headers.unwrap_or_default();
        let republish = transforms
            .filter(|t| t.republishes())
            .and_then(|t| t.republish_target(&subject))
            .map(|(dest, headers_only)| ToRepublish {
                dest,
                headers_only,
                subject: subject.clone(),
                headers: headers.clone(),
                payload: msg.payload.clone(),
                timestamp: now,
            });
        let fut = self.stream.store.append_deferred(
            NewMessage {
                subject,
                headers,
                payload: msg.payload,
                timestamp: now,
            },
            opts,
        );
        Ok(Pending::Append {
            fut,
            reply: None,
            msg_id,
            unwanted,
            expires,
            republish,
        })
    }
}

/// Awaits appends in order and publishes their acknowledgements.
async fn ack_loop(
    js: Arc<JetStream>,
    stream_ref: Arc<Stream>,
    dedupe: Arc<Mutex<Dedupe>>,
    mut rx: mpsc::UnboundedReceiver<Pending>,
) {
    let stream = stream_ref.name.clone();
    let mut last_sequences = LastSequences::default();
    // PubAcks go out together: one socket write per publisher for all
    // that are ready, flushed before the task waits for anything.
    let mut out = PendingFlush::default();
    loop {
        let p = match rx.try_recv() {
            Ok(p) => p,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                out.flush();
                match rx.recv().await {
                    Some(p) => p,
                    None => break,
                }
            }
        };
        let (reply, seq, duplicate, err) = match p {
            Pending::Append {
                mut fut,
                reply,
                msg_id,
                unwanted,
                expires,
                republish,
            } => match committed(&mut fut, &mut out).await {
                Ok(seq) => {
                    if let Some(r) = republish {
                        r.send(&js.shared, &js.account, &stream, seq, &mut last_sequences);
                    }
                    if let Some(at) = expires {
                        stream_ref.ttl.add(at, seq);
                    }
                    // Gone before the PubAck, so nobody sees it stored.
                    if unwanted {
                        out.flush();
                        if let Err(e) = stream_ref.store.remove(seq).await {
                            tracing::error!(
                                "JetStream stream '{stream}': dropping message {seq} nobody wants: {e}"
                            );
                        }
                    }
                    stream_ref.notify_appended(seq);
                    if let Some(id) = msg_id {
                        if let Some(entry) = dedupe.lock().ids.get_mut(&id) {
                            entry.1 = Some(seq);
                        }
                    }
                    (reply, seq, false, None)
                }
                Err(e) => {
                    if let Some(id) = msg_id {
                        dedupe.lock().ids.remove(&id);
                    }
                    if !e.is_refusal() {
                        tracing::error!("JetStream stream '{stream}': storing a message: {e}");
                    }
                    (reply, 0, false, Some(ApiError::from_store(&e)))
                }
            },
            Pending::Duplicate { reply, msg_id } => {
                let seq = dedupe.lock().ids.get(&msg_id).and_then(|e| e.1);
                match seq {
                    Some(seq) => (reply, seq, true, None),
                    // The first copy failed to store after this one was
                    // judged its duplicate.
                    None => (
                        reply,
                        0,
                        false,
                        Some(ApiError::new(
                            409,
                            10158,
                            "duplicate message id is in process",
                        )),
                    ),
                }
            }
            Pending::Refused { reply, err } => (reply, 0, false, Some(err)),
        };
        if let Some(reply) = reply {
            let ack = PubAck {
                stream: &stream,
                seq,
                duplicate,
                error: err.as_ref(),
            };
            if let Ok(body) = serde_json::to_vec(&ack) {
                js.shared
                    .publish_internal_batched(&js.account, &reply, &body, &mut out);
            }
        }
    }
    out.flush();
}

/// `fut`'s outcome: at once if its commit was done in place, else after
/// flushing `out` (nothing may sit unsent while the task waits).
async fn committed<T>(fut: &mut StoreFuture<T>, out: &mut PendingFlush) -> Result<T, StoreError> {
    if let Poll::Ready(result) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        return result;
    }
    out.flush();
    fut.await
}
