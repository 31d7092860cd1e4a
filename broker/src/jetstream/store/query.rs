//! Read algorithms shared by both stores, over a [`MsgView`]: filtered
//! iteration, last-by-subject, filtered counts, time lookup, the deleted
//! list, and the full consistency check the tests and tools use.
//!
//! A literal filter goes through the `(subject, seq)` index; a wildcard filter
//! scans messages in sequence order (cheap when matches are dense, as they
//! are for consumers on a stream's own subjects) or walks the subject counts.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;

use bytes::Bytes;

use super::types::{matches_all, SimpleState, StorageKind, StoredMessage, StreamState, Timestamp};
use super::view::{first_at_or_after, subject_edge, MsgView, StoreResult};
use crate::subject::{is_literal, subject_matches};

/// How a filter is served.
enum Filter<'a> {
    All,
    Literal(&'a [u8]),
    Wildcard(&'a [u8]),
}

fn classify(filter: Option<&[u8]>) -> Filter<'_> {
    match filter {
        f if matches_all(f) => Filter::All,
        Some(f) if is_literal(f) => Filter::Literal(f),
        Some(f) => Filter::Wildcard(f),
        None => Filter::All,
    }
}

/// Sequences of messages at or after `from` matching `filter`, ascending, at
/// most `limit` of them.
/// Whether finding what `filter` matches is a lookup (all messages, or a
/// literal subject's index) rather than a scan testing every message.
pub(crate) fn is_lookup(filter: Option<&[u8]>) -> bool {
    !matches!(classify(filter), Filter::Wildcard(_))
}

pub(crate) fn matching_seqs<V: MsgView + ?Sized>(
    view: &V,
    from: u64,
    filter: Option<&[u8]>,
    limit: usize,
) -> StoreResult<Vec<u64>> {
    let mut seqs = Vec::new();
    if limit == 0 {
        return Ok(seqs);
    }
    let mut push = |seq| {
        seqs.push(seq);
        if seqs.len() >= limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    match classify(filter) {
        Filter::All => view.scan(from, u64::MAX, false, &mut |m| push(m.seq))?,
        Filter::Literal(s) => view.subject_seqs(s, from, u64::MAX, false, &mut push)?,
        Filter::Wildcard(f) => view.scan(from, u64::MAX, false, &mut |m| {
            if subject_matches(f, m.subject) {
                push(m.seq)
            } else {
                ControlFlow::Continue(())
            }
        })?,
    }
    Ok(seqs)
}

/// The first message at or after `from` that matches `filter`.
pub(crate) fn load_next<V: MsgView + ?Sized>(
    view: &V,
    from: u64,
    filter: Option<&[u8]>,
) -> StoreResult<Option<StoredMessage>> {
    match matching_seqs(view, from, filter, 1)?.first() {
        Some(&seq) => view.get(seq),
        None => Ok(None),
    }
}

/// Up to `max_msgs` matching messages from `from` on, stopping before the
/// one that would take the payload total past `max_bytes` (the first message
/// is always returned, as a pull request's `max_bytes` does).
pub(crate) fn load_batch<V: MsgView + ?Sized>(
    view: &V,
    from: u64,
    filter: Option<&[u8]>,
    max_msgs: usize,
    max_bytes: usize,
) -> StoreResult<Vec<StoredMessage>> {
    let mut out = Vec::new();
    let mut total = 0usize;
    for seq in matching_seqs(view, from, filter, max_msgs)? {
        let Some(msg) = view.get(seq)? else { continue };
        let size = msg.subject.len() + msg.headers.len() + msg.payload.len();
        if !out.is_empty() && total + size > max_bytes {
            break;
        }
        total += size;
        out.push(msg);
    }
    Ok(out)
}

/// The last sequence of the messages matching `filter`, if any.
pub(crate) fn last_seq_matching<V: MsgView + ?Sized>(
    view: &V,
    filter: &[u8],
) -> StoreResult<Option<u64>> {
    match classify(Some(filter)) {
        Filter::All => {
            let mut last = None;
            view.scan(0, u64::MAX, true, &mut |m| {
                last = Some(m.seq);
                ControlFlow::Break(())
            })?;
            Ok(last)
        }
        Filter::Literal(s) => subject_edge(view, s, 0, true),
        Filter::Wildcard(_) => Ok(last_per_subject(view, Some(filter))?.last().copied()),
    }
}

/// The last message matching `filter` (KV get, direct get `last_by_subj`).
pub(crate) fn load_last<V: MsgView + ?Sized>(
    view: &V,
    filter: &[u8],
) -> StoreResult<Option<StoredMessage>> {
    match last_seq_matching(view, filter)? {
        Some(seq) => view.get(seq),
        None => Ok(None),
    }
}

/// The last sequence of every subject matching `filter`, ascending (deliver
/// policy `last_per_subject`).
pub(crate) fn last_per_subject<V: MsgView + ?Sized>(
    view: &V,
    filter: Option<&[u8]>,
) -> StoreResult<Vec<u64>> {
    let mut subjects = Vec::new();
    view.subjects(&mut |subject, _| {
        if filter.is_none_or(|f| subject_matches(f, subject)) {
            subjects.push(Bytes::copy_from_slice(subject));
        }
        ControlFlow::Continue(())
    })?;
    let mut seqs = Vec::with_capacity(subjects.len());
    for subject in subjects {
        if let Some(seq) = subject_edge(view, &subject, 0, true)? {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

/// Count, first and last of the messages at or after `from` that match.
pub(crate) fn filtered_state<V: MsgView + ?Sized>(
    view: &V,
    state: &StreamState,
    from: u64,
    filter: Option<&[u8]>,
) -> StoreResult<SimpleState> {
    let mut out = SimpleState::default();
    let mut add = |seq: u64, n: u64, last: u64| {
        if out.messages == 0 || seq < out.first {
            out.first = seq;
        }
        out.last = out.last.max(last);
        out.messages += n;
    };
    match classify(filter) {
        Filter::All if from <= state.first_seq && state.messages > 0 => {
            add(state.first_seq, state.messages, state.last_seq)
        }
        Filter::All => view.scan(from, u64::MAX, false, &mut |m| {
            add(m.seq, 1, m.seq);
            ControlFlow::Continue(())
        })?,
        Filter::Literal(s) => subject_state(view, s, from, &mut add)?,
        Filter::Wildcard(f) => {
            let mut subjects = Vec::new();
            view.subjects(&mut |subject, _| {
                if subject_matches(f, subject) {
                    subjects.push(Bytes::copy_from_slice(subject));
                }
                ControlFlow::Continue(())
            })?;
            for subject in subjects {
                subject_state(view, &subject, from, &mut add)?;
            }
        }
    }
    Ok(out)
}

/// Feeds one literal subject's count, first and last from `from` on.
fn subject_state<V: MsgView + ?Sized>(
    view: &V,
    subject: &[u8],
    from: u64,
    add: &mut dyn FnMut(u64, u64, u64),
) -> StoreResult<()> {
    let Some(first) = subject_edge(view, subject, from, false)? else {
        return Ok(());
    };
    let last = subject_edge(view, subject, from, true)?.unwrap_or(first);
    // Counting from the subject's very first message is O(1); from a later
    // sequence it walks the index entries in range.
    let n = if subject_edge(view, subject, 0, false)? == Some(first) {
        view.subject_count(subject)?
    } else {
        let mut n = 0;
        view.subject_seqs(subject, from, u64::MAX, false, &mut |_| {
            n += 1;
            ControlFlow::Continue(())
        })?;
        n
    };
    add(first, n, last);
    Ok(())
}

/// Per-subject message counts for subjects matching `filter`.
pub(crate) fn subjects_state<V: MsgView + ?Sized>(
    view: &V,
    filter: Option<&[u8]>,
) -> StoreResult<BTreeMap<Bytes, u64>> {
    let mut out = BTreeMap::new();
    match classify(filter) {
        Filter::Literal(s) => {
            let n = view.subject_count(s)?;
            if n > 0 {
                out.insert(Bytes::copy_from_slice(s), n);
            }
        }
        _ => view.subjects(&mut |subject, n| {
            if filter.is_none_or(|f| subject_matches(f, subject)) {
                out.insert(Bytes::copy_from_slice(subject), n);
            }
            ControlFlow::Continue(())
        })?,
    }
    Ok(out)
}

/// The first sequence whose message is at or after `ts` (deliver policy
/// `by_start_time`); `last_seq + 1` when every message is older. A binary
/// search over sequences, which assumes times grow with sequence — true for
/// messages stamped by the stream layer as it submits them.
pub(crate) fn seq_from_time<V: MsgView + ?Sized>(
    view: &V,
    state: &StreamState,
    ts: Timestamp,
) -> StoreResult<u64> {
    if state.messages == 0 {
        return Ok(state.last_seq + 1);
    }
    let (mut lo, mut hi) = (state.first_seq, state.last_seq + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match first_at_or_after(view, mid)? {
            // Nothing stored in [mid, hi): the answer is below mid, or hi.
            Some((seq, _)) if seq >= hi => hi = mid,
            None => hi = mid,
            Some((seq, t)) if t < ts => lo = seq + 1,
            Some((seq, _)) => hi = seq,
        }
    }
    // `lo` may sit in a gap; the answer is the next message at or after it.
    Ok(first_at_or_after(view, lo)?.map_or(state.last_seq + 1, |(seq, _)| seq))
}

/// The sequences missing between `first_seq` and `last_seq`.
pub(crate) fn deleted<V: MsgView + ?Sized>(view: &V, state: &StreamState) -> StoreResult<Vec<u64>> {
    let mut out = Vec::new();
    if state.messages == 0 {
        return Ok(out);
    }
    let mut expect = state.first_seq;
    view.scan(state.first_seq, state.last_seq, false, &mut |m| {
        out.extend(expect..m.seq);
        expect = m.seq + 1;
        ControlFlow::Continue(())
    })?;
    out.extend(expect..=state.last_seq);
    Ok(out)
}

/// Recounts everything from the messages themselves and compares it with
/// `state` and the subject index. Returns what disagrees.
pub(crate) fn check_consistency<V: MsgView + ?Sized>(
    view: &V,
    state: &StreamState,
    kind: StorageKind,
) -> StoreResult<Result<(), String>> {
    let mut msgs = 0u64;
    let mut bytes = 0u64;
    let mut first: Option<(u64, Timestamp)> = None;
    let mut last = 0u64;
    let mut per_subject: HashMap<Bytes, u64> = HashMap::new();
    view.scan(0, u64::MAX, false, &mut |m| {
        msgs += 1;
        bytes += kind.msg_size(m.subject.len(), m.headers_len, m.payload_len);
        first.get_or_insert((m.seq, m.timestamp));
        last = m.seq;
        *per_subject
            .entry(Bytes::copy_from_slice(m.subject))
            .or_default() += 1;
        ControlFlow::Continue(())
    })?;
    let mut problems = Vec::new();
    if msgs != state.messages {
        problems.push(format!(
            "{msgs} messages stored, state says {}",
            state.messages
        ));
    }
    if bytes != state.bytes {
        problems.push(format!("{bytes} bytes stored, state says {}", state.bytes));
    }
    if per_subject.len() as u64 != state.num_subjects {
        problems.push(format!(
            "{} subjects stored, state says {}",
            per_subject.len(),
            state.num_subjects
        ));
    }
    if let Some((seq, ts)) = first {
        if (seq, ts) != (state.first_seq, state.first_ts) {
            problems.push(format!(
                "first message {seq}@{ts}, state says {}@{}",
                state.first_seq, state.first_ts
            ));
        }
        if last > state.last_seq {
            problems.push(format!("message {last} above last_seq {}", state.last_seq));
        }
    }
    let mut indexed = 0usize;
    view.subjects(&mut |subject, n| {
        indexed += 1;
        if per_subject.get(subject).copied() != Some(n) {
            problems.push(format!(
                "subject {} counted {n}, stored {:?}",
                String::from_utf8_lossy(subject),
                per_subject.get(subject)
            ));
        }
        ControlFlow::Continue(())
    })?;
    if indexed != per_subject.len() {
        problems.push(format!(
            "{indexed} subject counts for {} subjects",
            per_subject.len()
        ));
    }
    for (subject, n) in &per_subject {
        let mut in_index = 0u64;
        view.subject_seqs(subject, 0, u64::MAX, false, &mut |_| {
            in_index += 1;
            ControlFlow::Continue(())
        })?;
        if in_index != *n {
            problems.push(format!(
                "subject {} has {n} messages but {in_index} index entries",
                String::from_utf8_lossy(subject)
            ));
        }
    }
    Ok(if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    })
}
