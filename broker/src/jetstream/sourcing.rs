//! `sources` and `mirror`: a stream copying the messages of other streams
//! of this server. A mirror keeps its origin's sequences (skipping the
//! origin's gaps), subjects, headers and times; a source appends. One task per source follows its origin's store from a cursor
//! (woken by the origin's commits), optionally filtered or transformed,
//! and appends each message here with a `Nats-Stream-Source` header
//! (`<origin> <seq> <filter> <dest> <subject>`, nats-server's form). After
//! a restart the task resumes after the last origin sequence those headers
//! name. An origin that does not exist (yet) is looked for again every
//! second; the stream info shows each source's lag and last activity.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::subject::SubjectTransform;

use super::config::StreamSource;
use super::service::JetStream;
use super::store::{AppendOptions, NewMessage, StoredMessage};
use super::stream::Stream;
use super::wire::{header, now_ns, parse_time, with_headers};

/// How often a missing origin is looked for again.
const RETRY: Duration = Duration::from_secs(1);
/// Messages copied per store trip.
const BATCH: usize = 256;

/// What stream info reports for one source.
#[derive(Debug, Default)]
pub struct SourceProgress {
    /// The next origin sequence to copy.
    pub next_seq: u64,
    /// Origin messages not copied yet.
    pub lag: u64,
    pub last_active: Option<Instant>,
    /// The copy has come within [`CAUGHT_UP`] messages of its origin (a
    /// mirror with `mirror_direct` answers direct gets from then on).
    pub caught_up: bool,
}

/// nats-server's threshold for a mirror close enough to its origin to
/// answer direct gets for it: it may always be a little behind an active
/// origin.
pub const CAUGHT_UP: u64 = 10;

/// The running copier of one source.
pub(crate) struct Sourcer {
    pub config: StreamSource,
    pub progress: Arc<Mutex<SourceProgress>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sourcer {
    pub fn stop(&self) {
        self.task.abort();
    }
}

/// Starts one task per source of `stream` (or one for its mirror).
pub(crate) async fn start_all(js: &Arc<JetStream>, stream: &Arc<Stream>) -> Vec<Sourcer> {
    let config = stream.config();
    let mirror = config.mirror.is_some();
    let sources: Vec<StreamSource> = match &config.mirror {
        Some(m) => vec![m.clone()],
        None => config.sources.clone(),
    };
    let mut out = Vec::new();
    for source in sources {
        let resume = if mirror {
            let last = stream.store.state().last_seq;
            (last > 0).then_some(last)
        } else {
            resume_after(stream, &source).await
        };
        let progress = Arc::new(Mutex::new(SourceProgress::default()));
        let task = tokio::spawn(run(
            js.clone(),
            Arc::downgrade(stream),
            source.clone(),
            mirror,
            resume,
            progress.clone(),
        ));
        out.push(Sourcer {
            config: source,
            progress,
            task,
        });
    }
    out
}

/// The last origin sequence this stream holds from `source`, from the
/// `Nats-Stream-Source` headers (a full scan: done once per start).
async fn resume_after(stream: &Stream, source: &StreamSource) -> Option<u64> {
    let prefix = format!("{} ", source.name);
    let iname = source.index_name();
    let mut last = None;
    let mut from = stream.store.state().first_seq;
    loop {
        let batch = match stream.store.load_batch(from, None, 1024, 8 << 20).await {
            Ok(b) if !b.is_empty() => b,
            _ => return last,
        };
        for m in &batch {
            if let Some(h) = header(Some(&m.headers), "Nats-Stream-Source") {
                if let Some(seq) = origin_seq(h, &prefix, &iname) {
                    last = Some(seq);
                }
            }
        }
        from = batch.last().map_or(u64::MAX, |m| m.seq + 1);
    }
}

/// The origin sequence in a `Nats-Stream-Source` value written for the
/// source with index name `iname`.
fn origin_seq(value: &str, prefix: &str, iname: &str) -> Option<u64> {
    let rest = value.strip_prefix(prefix)?;
    let mut fields = rest.splitn(2, ' ');
    let seq = fields.next()?.parse().ok()?;
    let tail = fields.next().unwrap_or("");
    let wanted = iname.strip_prefix(prefix).unwrap_or("");
    tail.starts_with(wanted).then_some(seq)
}

/// The transforms of a source: its filter (none = all) and how subjects
/// change.
struct Route {
    filters: Vec<Bytes>,
    transforms: Vec<SubjectTransform>,
}

impl Route {
    fn new(source: &StreamSource) -> Route {
        if source.subject_transforms.is_empty() {
            let filters = if source.filter_subject.is_empty() {
                Vec::new()
            } else {
                vec![Bytes::from(source.filter_subject.clone())]
            };
            return Route {
                filters,
                transforms: Vec::new(),
            };
        }
        let or_all = |s: &str| {
            if s.is_empty() {
                ">".to_string()
            } else {
                s.to_string()
            }
        };
        Route {
            filters: source
                .subject_transforms
                .iter()
                .map(|t| Bytes::from(or_all(&t.src)))
                .collect(),
            transforms: source
                .subject_transforms
                .iter()
                .filter_map(|t| SubjectTransform::new(&or_all(&t.src), &or_all(&t.dest)).ok())
                .collect(),
        }
    }

    fn subject(&self, subject: &Bytes) -> Bytes {
        let Ok(s) = std::str::from_utf8(subject) else {
            return subject.clone();
        };
        self.transforms
            .iter()
            .find_map(|t| t.apply(s))
            .map_or_else(|| subject.clone(), Bytes::from)
    }
}

async fn run(
    js: Arc<JetStream>,
    stream: std::sync::Weak<Stream>,
    source: StreamSource,
    mirror: bool,
    resume: Option<u64>,
    progress: Arc<Mutex<SourceProgress>>,
) {
    let route = Route::new(&source);
    let iname = source.index_name();
    let (src_filter, dest) = iname
        .split_once(' ')
        .map(|(_, rest)| rest.split_once(' ').unwrap_or((rest, ">")))
        .unwrap_or((">", ">"));
    let (src_filter, dest) = (src_filter.to_string(), dest.to_string());
    let mut next: Option<u64> = resume.map(|s| s + 1);
    loop {
        let Some(origin) = js.stream(&source.name) else {
            tokio::time::sleep(RETRY).await;
            continue;
        };
        let mut appended: watch::Receiver<u64> = origin.watch_appended();
        let from = match next {
            Some(n) => n,
            None => start_seq(&origin, &source).await,
        };
        next = Some(from);
        loop {
            let Some(this) = stream.upgrade() else {
                return;
            };
            let cursor = next.unwrap_or(1);
            let batch = load(&origin, cursor, &route.filters).await;
            let lag = pending(&origin, cursor, &route.filters).await;
            {
                let mut p = progress.lock();
                p.next_seq = cursor;
                p.lag = lag;
                p.caught_up |= lag < CAUGHT_UP;
            }
            if batch.is_empty() {
                drop(this);
                tokio::select! {
                    r = appended.changed() => if r.is_err() { break },
                    () = tokio::time::sleep(RETRY) => {
                        if js.stream(&source.name).is_none_or(|s| !Arc::ptr_eq(&s, &origin)) {
                            break;
                        }
                    }
                }
                continue;
            }
            for m in batch {
                let seq = m.seq;
                let copied = if mirror {
                    mirror_one(&js, &this, &route, m).await
                } else {
                    copy(&js, &this, &route, &src_filter, &dest, &source.name, m).await
                };
                if copied {
                    next = Some(seq + 1);
                    progress.lock().last_active = Some(Instant::now());
                } else {
                    // Refused (limits, store trouble): try again shortly.
                    tokio::time::sleep(RETRY).await;
                    break;
                }
            }
        }
    }
}

/// Where copying starts without a resume point: `opt_start_seq`,
/// `opt_start_time`, or the origin's first message.
async fn start_seq(origin: &Stream, source: &StreamSource) -> u64 {
    if source.opt_start_seq > 0 {
        return source.opt_start_seq;
    }
    if let Some(ts) = source.opt_start_time.as_deref().and_then(parse_time) {
        if let Ok(seq) = origin.store.seq_from_time(ts).await {
            return seq;
        }
    }
    origin.store.state().first_seq.max(1)
}

/// The next origin messages from `from` matching any of `filters`.
async fn load(origin: &Stream, from: u64, filters: &[Bytes]) -> Vec<StoredMessage> {
    let store = &origin.store;
    match filters {
        [] => store
            .load_batch(from, None, BATCH, 8 << 20)
            .await
            .unwrap_or_default(),
        [one] => store
            .load_batch(from, Some(one), BATCH, 8 << 20)
            .await
            .unwrap_or_default(),
        many => {
            // One message at a time across several filters: the lowest next.
            let mut best: Option<StoredMessage> = None;
            for f in many {
                if let Ok(Some(m)) = store.load_next(from, Some(f)).await {
                    if best.as_ref().is_none_or(|b| m.seq < b.seq) {
                        best = Some(m);
                    }
                }
            }
            best.into_iter().collect()
        }
    }
}

async fn pending(origin: &Stream, from: u64, filters: &[Bytes]) -> u64 {
    if filters.is_empty() {
        return origin
            .store
            .filtered_state(from, None)
            .await
            .map_or(0, |s| s.messages);
    }
    let mut n = 0;
    for f in filters {
        n += origin
            .store
            .filtered_state(from, Some(f))
            .await
            .map_or(0, |s| s.messages);
    }
    n
}

/// Stores origin message `m` under its own sequence (skipping the origin's
/// gap before it), subject (transformed if configured), headers and time.
async fn mirror_one(js: &JetStream, stream: &Stream, route: &Route, m: StoredMessage) -> bool {
    let kind = stream.store.kind();
    let size = kind.msg_size(m.subject.len(), m.headers.len(), m.payload.len());
    if js.check_account_limit(kind, size).is_err() {
        return false;
    }
    if m.seq > stream.store.state().last_seq + 1 {
        if let Err(e) = stream.store.skip_to(m.seq).await {
            tracing::warn!(
                "JetStream mirror '{}': skipping to {}: {e}",
                stream.name,
                m.seq
            );
            return false;
        }
    }
    let msg = NewMessage {
        subject: route.subject(&m.subject),
        headers: m.headers,
        payload: m.payload,
        timestamp: m.timestamp,
    };
    match stream.store.append(msg, AppendOptions::default()).await {
        Ok(seq) => {
            if seq != m.seq {
                tracing::warn!(
                    "JetStream mirror '{}': stored origin message {} as {seq}",
                    stream.name,
                    m.seq
                );
            }
            stream.notify_appended(seq);
            true
        }
        Err(e) => {
            tracing::warn!("JetStream mirror '{}': storing {}: {e}", stream.name, m.seq);
            false
        }
    }
}

/// Appends one origin message here; false if it was refused.
async fn copy(
    js: &JetStream,
    stream: &Stream,
    route: &Route,
    src_filter: &str,
    dest: &str,
    origin: &str,
    m: StoredMessage,
) -> bool {
    let original = String::from_utf8_lossy(&m.subject).into_owned();
    let value = format!("{origin} {} {src_filter} {dest} {original}", m.seq);
    let hdr = with_headers(&m.headers, &[("Nats-Stream-Source", value)]);
    let subject = route.subject(&m.subject);
    let kind = stream.store.kind();
    let size = kind.msg_size(subject.len(), hdr.len(), m.payload.len());
    if js.check_account_limit(kind, size).is_err() {
        return false;
    }
    let msg = NewMessage {
        subject,
        headers: Bytes::from(hdr),
        payload: m.payload,
        timestamp: now_ns(),
    };
    match stream.store.append(msg, AppendOptions::default()).await {
        Ok(seq) => {
            stream.notify_appended(seq);
            true
        }
        Err(e) => {
            tracing::warn!(
                "JetStream stream '{}': copying {origin} message {}: {e}",
                stream.name,
                m.seq
            );
            false
        }
    }
}
