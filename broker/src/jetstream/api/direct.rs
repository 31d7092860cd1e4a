//! `$JS.API.DIRECT.GET.<stream>` (JSON request: by sequence, last or next
//! by subject, from a start time, batches, the last of several subjects
//! with `multi_last`) and
//! `$JS.API.DIRECT.GET.<stream>.<subject>` (last message on that subject,
//! what KV `get` uses). Answers are the stored message itself with
//! `Nats-Stream`, `Nats-Subject`, `Nats-Sequence`, `Nats-Time-Stamp`
//! headers, or a status (`404 Message Not Found`, `408 Bad Request`, ...);
//! batches end with `204 EOB`. Only streams with `allow_direct` answer.

use bytes::Bytes;
use serde::Deserialize;

use super::Answer;
use crate::jetstream::store::{MessageStore, StoredMessage};
use crate::jetstream::stream::Stream;
use crate::jetstream::wire::{parse_time, status_headers, time_string, with_headers};

/// nats-server's default `max_pending` (64 MiB): the byte cap of a batch
/// without `max_bytes`.
const DEFAULT_MAX_BYTES: usize = 64 << 20;

#[derive(Default, Deserialize)]
struct Request {
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    last_by_subj: String,
    #[serde(default)]
    next_by_subj: String,
    #[serde(default)]
    batch: usize,
    #[serde(default)]
    max_bytes: usize,
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    multi_last: Vec<String>,
    #[serde(default)]
    up_to_seq: u64,
    #[serde(default)]
    up_to_time: Option<String>,
    #[serde(default)]
    no_hdr: bool,
}

/// The request body, parsed as the handlers parse it (for
/// [`super::parse_request_bodies`]).
pub(super) fn parse_request_bodies(body: &[u8]) {
    let _ = serde_json::from_slice::<Request>(body);
}

fn status(code: u16, text: &str) -> Answer {
    Answer::Raw(vec![(status_headers(code, text, &[]), Bytes::new())])
}

/// `DIRECT.GET.<stream>` with a JSON body.
pub(crate) async fn get(stream: &Stream, body: &[u8]) -> Answer {
    if body.trim_ascii().is_empty() {
        return status(408, "Empty Request");
    }
    let Ok(req) = serde_json::from_slice::<Request>(body) else {
        return status(408, "Malformed Request");
    };
    let has_start = req.start_time.is_some();
    let has_last = !req.last_by_subj.is_empty();
    let has_next = !req.next_by_subj.is_empty();
    let multi = !req.multi_last.is_empty();
    if req.seq == 0 && !has_last && !has_next && !multi && !has_start {
        return status(408, "Empty Request");
    }
    let has_seq = req.seq > 0;
    let conflicts = [
        has_seq && (has_last || has_start),
        has_last && (has_start || has_next || req.batch > 0 || multi),
        has_next && multi,
        req.up_to_seq > 0 && req.up_to_time.is_some(),
    ];
    if conflicts.contains(&true) {
        return status(408, "Bad Request");
    }
    if multi {
        return multi_last(stream, req).await;
    }
    serve(stream, req).await
}

/// `DIRECT.GET.<stream>.<subject>`: the last message on `subject`.
pub(crate) async fn get_last_for(stream: &Stream, subject: &str, body: &[u8]) -> Answer {
    let mut req = Request::default();
    if !body.trim_ascii().is_empty() {
        match serde_json::from_slice::<Request>(body) {
            Ok(r) => req = r,
            Err(_) => return status(408, "Malformed Request"),
        }
    }
    if subject.is_empty()
        || !req.last_by_subj.is_empty()
        || !req.next_by_subj.is_empty()
        || !req.multi_last.is_empty()
        || req.seq != 0
        || req.batch != 0
        || req.start_time.is_some()
        || req.up_to_seq != 0
        || req.up_to_time.is_some()
    {
        return status(408, "Bad Request");
    }
    req.last_by_subj = subject.to_string();
    serve(stream, req).await
}

async fn serve(stream: &Stream, req: Request) -> Answer {
    let store = &stream.store;
    let not_found = || status(404, "Message Not Found");
    let mut seq = match &req.start_time {
        Some(t) => match parse_time(t) {
            Some(ts) => store.seq_from_time(ts).await.unwrap_or(u64::MAX),
            None => return status(408, "Malformed Request"),
        },
        None => req.seq,
    };
    if !req.last_by_subj.is_empty() {
        return match store.load_last(req.last_by_subj.as_bytes()).await {
            Ok(Some(m)) => Answer::Raw(vec![reply(stream, &m, None, req.no_hdr)]),
            _ => not_found(),
        };
    }
    let filter = (!req.next_by_subj.is_empty()).then_some(req.next_by_subj.as_bytes());
    let batch_mode = req.batch > 0;
    if !batch_mode {
        let found = if filter.is_none() {
            store.load(seq).await
        } else {
            store.load_next(seq, filter).await
        };
        return match found {
            Ok(Some(m)) => Answer::Raw(vec![reply(stream, &m, None, req.no_hdr)]),
            _ => not_found(),
        };
    }
    let max_bytes = if req.max_bytes > 0 {
        req.max_bytes
    } else {
        DEFAULT_MAX_BYTES
    };
    let mut pending = pending_from(store.as_ref(), seq, filter).await;
    let mut out = Vec::new();
    let mut sent = 0usize;
    let mut last = 0u64;
    while out.len() < req.batch {
        let Ok(Some(m)) = store.load_next(seq, filter).await else {
            break;
        };
        if req.up_to_seq > 0 && m.seq > req.up_to_seq {
            break;
        }
        pending = pending.saturating_sub(1);
        sent += m.subject.len() + m.headers.len() + m.payload.len();
        seq = m.seq + 1;
        out.push(reply(stream, &m, Some((pending, last)), req.no_hdr));
        last = m.seq;
        if sent >= max_bytes {
            break;
        }
    }
    if out.is_empty() {
        return not_found();
    }
    let pending = pending_from(store.as_ref(), seq, filter).await;
    out.push((
        status_headers(
            204,
            "EOB",
            &[
                ("Nats-Num-Pending", pending.to_string()),
                ("Nats-Last-Sequence", last.to_string()),
            ],
        ),
        Bytes::new(),
    ));
    Answer::Raw(out)
}

/// nats-server's cap on the messages one `multi_last` request returns.
const MAX_MULTI: usize = 1024;

/// `multi_last`: the last message of every subject matching the filters,
/// at or below `up_to_seq` (or `up_to_time`), in stream order, then `204
/// EOB` with `Nats-UpTo-Sequence`.
async fn multi_last(stream: &Stream, req: Request) -> Answer {
    let store = &stream.store;
    let state = store.state();
    let mut up_to = req.up_to_seq;
    if let Some(t) = &req.up_to_time {
        let Some(ts) = parse_time(t) else {
            return status(408, "Malformed Request");
        };
        let seq = store.seq_from_time(ts).await.unwrap_or(0);
        if seq <= state.first_seq {
            return status(404, "No Results");
        }
        up_to = seq - 1;
    }
    if up_to == 0 {
        up_to = state.last_seq;
    }
    let mut seqs = Vec::new();
    for f in &req.multi_last {
        let found = if up_to >= state.last_seq {
            store.last_per_subject(Some(f.as_bytes())).await
        } else {
            last_per_subject_up_to(store.as_ref(), f.as_bytes(), req.seq, up_to).await
        };
        match found {
            Ok(v) => seqs.extend(v),
            Err(_) => return status(404, "Message Not Found"),
        }
    }
    seqs.retain(|s| *s >= req.seq && *s <= up_to);
    seqs.sort_unstable();
    seqs.dedup();
    if seqs.len() > MAX_MULTI {
        return status(413, "Too Many Results");
    }
    if seqs.is_empty() {
        return status(404, "No Results");
    }
    let max_bytes = if req.max_bytes > 0 {
        req.max_bytes
    } else {
        DEFAULT_MAX_BYTES
    };
    let mut out = Vec::new();
    let (mut sent, mut last) = (0usize, 0u64);
    let mut pending = seqs.len() as u64;
    for seq in seqs {
        let Ok(Some(m)) = store.load(seq).await else {
            return status(404, "Message Not Found");
        };
        pending -= 1;
        sent += m.subject.len() + m.headers.len() + m.payload.len();
        out.push(reply(stream, &m, Some((pending, last)), req.no_hdr));
        last = m.seq;
        if sent >= max_bytes || (req.batch > 0 && out.len() >= req.batch) {
            break;
        }
    }
    out.push((
        status_headers(
            204,
            "EOB",
            &[
                ("Nats-Num-Pending", pending.to_string()),
                ("Nats-Last-Sequence", last.to_string()),
                ("Nats-UpTo-Sequence", up_to.to_string()),
            ],
        ),
        Bytes::new(),
    ));
    Answer::Raw(out)
}

/// The last sequence of each subject matching `filter` within
/// `from..=up_to` (a scan: only for `up_to` below the stream's end).
async fn last_per_subject_up_to(
    store: &dyn MessageStore,
    filter: &[u8],
    from: u64,
    up_to: u64,
) -> Result<Vec<u64>, crate::jetstream::store::StoreError> {
    let mut last = std::collections::HashMap::new();
    let mut next = from;
    loop {
        let batch = store.load_batch(next, Some(filter), 1024, 8 << 20).await?;
        let Some(end) = batch.last().map(|m| m.seq) else {
            break;
        };
        for m in batch.iter().filter(|m| m.seq <= up_to) {
            last.insert(m.subject.clone(), m.seq);
        }
        if end >= up_to {
            break;
        }
        next = end + 1;
    }
    Ok(last.into_values().collect())
}

async fn pending_from(store: &dyn MessageStore, from: u64, filter: Option<&[u8]>) -> u64 {
    store
        .filtered_state(from, filter)
        .await
        .map_or(0, |s| s.messages)
}

/// One answer message: the stored headers plus nats-server's, and the
/// payload. In a batch, `Some((pending, last))` adds the batch headers.
fn reply(
    stream: &Stream,
    m: &StoredMessage,
    batch: Option<(u64, u64)>,
    no_hdr: bool,
) -> (Vec<u8>, Bytes) {
    if no_hdr {
        return (Vec::new(), m.payload.clone());
    }
    let mut lines = vec![
        ("Nats-Stream", stream.name.clone()),
        (
            "Nats-Subject",
            String::from_utf8_lossy(&m.subject).into_owned(),
        ),
        ("Nats-Sequence", m.seq.to_string()),
        ("Nats-Time-Stamp", time_string(m.timestamp)),
    ];
    if let Some((pending, last)) = batch {
        lines.push(("Nats-Num-Pending", pending.to_string()));
        lines.push(("Nats-Last-Sequence", last.to_string()));
    }
    let hdr = with_headers(&m.headers, &lines);
    (hdr, m.payload.clone())
}
