//! `/connz`: open and recently closed client connections, with
//! nats-server's options (`sort`, `offset`/`limit`, `subs=1|detail`,
//! `state=open|closed|all`, `cid`, `auth`, `user`, `acc`), paging rules,
//! errors and JSON shape.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::server::client::{ClientHandle, ClosedClient, SubSnapshot};
use crate::server::state::Shared;

use super::error::RequestError;
use super::format::{go_duration, rfc3339, uptime};
use super::query::Query;

/// nats-server's `DefaultConnListSize`.
pub const DEFAULT_LIMIT: usize = 1024;

#[derive(Debug, Serialize)]
pub struct Connz {
    pub server_id: String,
    pub now: String,
    pub num_connections: usize,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    /// `null` only for an unknown account, as nats-server answers.
    pub connections: Option<Vec<ConnInfo>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnInfo {
    pub cid: u64,
    pub kind: &'static str,
    #[serde(rename = "type")]
    pub conn_type: &'static str,
    pub ip: String,
    pub port: u16,
    pub start: String,
    pub last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    pub rtt: String,
    pub uptime: String,
    pub idle: String,
    pub pending_bytes: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    /// Times publishers waited for this connection (left out when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub stalls: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cipher_suite: Option<String>,
    pub subscriptions: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorized_user: Option<String>,
    /// With `auth`, the account of a client outside the global one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscriptions_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscriptions_list_detail: Option<Vec<SubDetail>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_tag: Option<String>,
    #[serde(skip)]
    keys: SortKeys,
}

/// What sorting looks at, kept out of the JSON.
#[derive(Debug, Clone)]
struct SortKeys {
    start: SystemTime,
    last: SystemTime,
    stop: Option<SystemTime>,
    rtt: Duration,
}

/// One subscription in `/connz` and `/subsz` lists.
#[derive(Debug, Clone, Serialize)]
pub struct SubDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_tag: Option<String>,
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qgroup: Option<String>,
    pub sid: String,
    pub msgs: u64,
    /// Auto-unsubscribe limit; nats-server omits it when there is none.
    #[serde(skip_serializing_if = "no_max")]
    pub max: u64,
    pub cid: u64,
}

fn no_max(max: &u64) -> bool {
    *max == 0
}

impl SubDetail {
    pub fn new(sub: &SubSnapshot, cid: u64, account: Option<&str>) -> SubDetail {
        SubDetail {
            account: account.map(str::to_string),
            account_tag: account.map(str::to_string),
            subject: sub.subject.clone(),
            qgroup: sub.queue.clone().filter(|q| !q.is_empty()),
            sid: sub.sid.clone(),
            msgs: sub.msgs,
            max: sub.max,
            cid,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closed,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Cid,
    Start,
    Subs,
    Pending,
    OutMsgs,
    InMsgs,
    OutBytes,
    InBytes,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
    Rtt,
}

impl Sort {
    fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "" | "cid" => Sort::Cid,
            "start" => Sort::Start,
            "subs" => Sort::Subs,
            "pending" => Sort::Pending,
            "msgs_to" => Sort::OutMsgs,
            "msgs_from" => Sort::InMsgs,
            "bytes_to" => Sort::OutBytes,
            "bytes_from" => Sort::InBytes,
            "last" => Sort::Last,
            "idle" => Sort::Idle,
            "uptime" => Sort::Uptime,
            "stop" => Sort::Stop,
            "reason" => Sort::Reason,
            "rtt" => Sort::Rtt,
            _ => return None,
        })
    }
}

/// The request's options, decoded in nats-server's order so the first
/// bad parameter is the one reported.
struct Options {
    sort: Sort,
    auth: bool,
    subs: bool,
    detail: bool,
    offset: usize,
    limit: usize,
    cid: u64,
    state: State,
    user: String,
    account: String,
}

impl Options {
    fn parse(q: &Query) -> Result<Options, RequestError> {
        let sort_text = q.get("sort");
        let auth = q.bool("auth")?;
        let (subs, detail) = q.subs()?;
        let offset = q.int("offset")?;
        let limit = q.int("limit")?;
        let cid = q.uint64("cid")?;
        let state = match q.get("state").to_lowercase().as_str() {
            "" | "open" => State::Open,
            "closed" => State::Closed,
            "any" | "all" => State::All,
            _ => {
                return Err(RequestError::BadQuery(format!(
                    "Error decoding state for {}",
                    q.get("state")
                )))
            }
        };
        let sort = Sort::parse(sort_text).ok_or_else(|| {
            RequestError::BadQuery(format!("invalid sorting option: {sort_text}"))
        })?;
        if sort == Sort::Stop && state != State::Closed {
            return Err(RequestError::BadQuery(
                "sort by stop only valid on closed connections".into(),
            ));
        }
        if sort == Sort::Reason && state != State::Closed {
            return Err(RequestError::BadQuery(
                "sort by reason only valid on closed connections".into(),
            ));
        }
        let mut limit = if limit <= 0 {
            DEFAULT_LIMIT
        } else {
            usize::try_from(limit).unwrap_or(usize::MAX)
        };
        if cid > 0 {
            limit = 1;
        }
        Ok(Options {
            sort,
            auth,
            subs,
            detail,
            offset: usize::try_from(offset.max(0)).unwrap_or(usize::MAX),
            limit,
            cid,
            state,
            user: q.get("user").to_string(),
            account: q.get("acc").to_string(),
        })
    }
}

pub fn connz(shared: &Shared, q: &Query) -> Result<Connz, RequestError> {
    let opts = Options::parse(q)?;
    let now = SystemTime::now();
    if !opts.account.is_empty() && shared.accounts.get(&opts.account).is_none() {
        // nats-server answers an unknown account with an empty document.
        return Ok(Connz {
            server_id: String::new(),
            now: rfc3339(now),
            num_connections: 0,
            total: 0,
            offset: opts.offset,
            limit: opts.limit,
            connections: None,
        });
    }
    let mut open: Vec<Arc<ClientHandle>> = match opts.state {
        State::Open | State::All => shared.clients(),
        State::Closed => Vec::new(),
    };
    open.sort_by_key(|c| c.id);
    let mut closed: Vec<Arc<ClosedClient>> = match opts.state {
        State::Closed | State::All => shared.closed_clients(),
        State::Open => Vec::new(),
    };
    let total = open.len() + closed.len();

    if opts.cid > 0 {
        open.retain(|c| c.id == opts.cid);
        if open.is_empty() {
            closed.retain(|c| c.id == opts.cid);
            closed.truncate(1);
        } else {
            closed.clear();
        }
    } else if !opts.user.is_empty() {
        open.retain(|c| c.meta.lock().user.as_deref() == Some(opts.user.as_str()));
        closed.retain(|c| c.meta.user.as_deref() == Some(opts.user.as_str()));
    }
    if !opts.account.is_empty() {
        open.retain(|c| c.account_name() == opts.account);
        closed.retain(|c| c.meta.account_name() == opts.account);
    }

    let mut infos: Vec<ConnInfo> = open
        .iter()
        .map(|c| open_info(c, now, &opts))
        .chain(closed.iter().map(|c| closed_info(c, &opts)))
        .collect();
    sort(&mut infos, opts.sort, now);

    let n = infos.len();
    let from = opts.offset.min(n);
    let to = from + opts.limit.min(n - from);
    let page: Vec<ConnInfo> = infos.drain(from..to).collect();
    Ok(Connz {
        server_id: shared.server_id.clone(),
        now: rfc3339(now),
        num_connections: page.len(),
        total,
        offset: opts.offset,
        limit: opts.limit,
        connections: Some(page),
    })
}

/// nats-server's client type: `websocket` for WebSocket clients.
fn conn_type(websocket: bool) -> &'static str {
    if websocket {
        "websocket"
    } else {
        "nats"
    }
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.clone().filter(|v| !v.is_empty())
}

pub(crate) fn sorted_subs(mut subs: Vec<SubSnapshot>) -> Vec<SubSnapshot> {
    subs.sort_by(|a, b| match (a.sid.parse::<u64>(), b.sid.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.sid.cmp(&b.sid),
    });
    subs
}

fn open_info(c: &ClientHandle, now: SystemTime, opts: &Options) -> ConnInfo {
    let meta = c.meta.lock().clone();
    let last = c.last_activity();
    let subs = if opts.subs || opts.detail {
        sorted_subs(c.sub_snapshots())
    } else {
        Vec::new()
    };
    let num_subs = c.subs.lock().len();
    let (out_msgs, out_bytes) = c.out.delivered();
    let rtt = c.rtt();
    ConnInfo {
        cid: c.id,
        kind: "Client",
        conn_type: conn_type(c.out.is_websocket()),
        ip: c.addr.ip().to_string(),
        port: c.addr.port(),
        start: rfc3339(c.start),
        last_activity: rfc3339(last),
        stop: None,
        reason: None,
        rtt: go_duration(rtt),
        uptime: uptime(now.duration_since(c.start).unwrap_or_default()),
        idle: uptime(now.duration_since(last).unwrap_or_default()),
        pending_bytes: c.out.pending_bytes(),
        in_msgs: c
            .counters
            .in_msgs
            .load(std::sync::atomic::Ordering::Relaxed),
        out_msgs,
        in_bytes: c
            .counters
            .in_bytes
            .load(std::sync::atomic::Ordering::Relaxed),
        out_bytes,
        stalls: c.out.stalls(),
        tls_version: c.out.tls().map(|t| t.version()),
        tls_cipher_suite: c.out.tls().map(|t| t.cipher().to_string()),
        subscriptions: num_subs,
        name: non_empty(&meta.name),
        lang: non_empty(&meta.lang),
        version: non_empty(&meta.version),
        authorized_user: opts.auth.then(|| non_empty(&meta.user)).flatten(),
        account: opts.auth.then(|| meta.account.clone()).flatten(),
        subscriptions_list: (opts.subs && !opts.detail && !subs.is_empty())
            .then(|| subs.iter().map(|s| s.subject.clone()).collect()),
        subscriptions_list_detail: (opts.detail && !subs.is_empty())
            .then(|| subs.iter().map(|s| SubDetail::new(s, c.id, None)).collect()),
        name_tag: opts.auth.then(|| meta.account_name().to_string()),
        keys: SortKeys {
            start: c.start,
            last,
            stop: None,
            rtt,
        },
    }
}

fn closed_info(c: &ClosedClient, opts: &Options) -> ConnInfo {
    let subs = &c.subs;
    ConnInfo {
        cid: c.id,
        kind: "Client",
        conn_type: conn_type(c.websocket),
        ip: c.addr.ip().to_string(),
        port: c.addr.port(),
        start: rfc3339(c.start),
        last_activity: rfc3339(c.last_activity),
        stop: Some(rfc3339(c.stop)),
        reason: Some(c.reason.as_str()),
        rtt: go_duration(c.rtt),
        uptime: uptime(c.stop.duration_since(c.start).unwrap_or_default()),
        idle: uptime(c.stop.duration_since(c.last_activity).unwrap_or_default()),
        pending_bytes: 0,
        in_msgs: c.in_msgs,
        out_msgs: c.out_msgs,
        in_bytes: c.in_bytes,
        out_bytes: c.out_bytes,
        stalls: c.stalls,
        tls_version: c.tls.as_ref().map(|t| t.0),
        tls_cipher_suite: c.tls.as_ref().map(|t| t.1.clone()),
        subscriptions: subs.len(),
        name: non_empty(&c.meta.name),
        lang: non_empty(&c.meta.lang),
        version: non_empty(&c.meta.version),
        authorized_user: opts.auth.then(|| non_empty(&c.meta.user)).flatten(),
        account: opts.auth.then(|| c.meta.account.clone()).flatten(),
        subscriptions_list: (opts.subs && !opts.detail && !subs.is_empty())
            .then(|| subs.iter().map(|s| s.subject.clone()).collect()),
        subscriptions_list_detail: (opts.detail && !subs.is_empty()).then(|| {
            subs.iter()
                .map(|s| SubDetail::new(s, c.id, Some(c.meta.account_name())))
                .collect()
        }),
        name_tag: None,
        keys: SortKeys {
            start: c.start,
            last: c.last_activity,
            stop: Some(c.stop),
            rtt: c.rtt,
        },
    }
}

/// nats-server's orders: by cid (and start) ascending, uptime and reason
/// ascending, everything else descending. Ties keep cid order.
fn sort(infos: &mut [ConnInfo], by: Sort, now: SystemTime) {
    infos.sort_by_key(|c| c.cid);
    let up = |c: &ConnInfo| {
        c.keys
            .stop
            .unwrap_or(now)
            .duration_since(c.keys.start)
            .unwrap_or_default()
    };
    let desc = |f: fn(&ConnInfo, &ConnInfo) -> Ordering| move |a: &ConnInfo, b: &ConnInfo| f(b, a);
    match by {
        Sort::Cid | Sort::Start => {}
        Sort::Subs => infos.sort_by(desc(|a, b| a.subscriptions.cmp(&b.subscriptions))),
        Sort::Pending => infos.sort_by(desc(|a, b| a.pending_bytes.cmp(&b.pending_bytes))),
        Sort::OutMsgs => infos.sort_by(desc(|a, b| a.out_msgs.cmp(&b.out_msgs))),
        Sort::InMsgs => infos.sort_by(desc(|a, b| a.in_msgs.cmp(&b.in_msgs))),
        Sort::OutBytes => infos.sort_by(desc(|a, b| a.out_bytes.cmp(&b.out_bytes))),
        Sort::InBytes => infos.sort_by(desc(|a, b| a.in_bytes.cmp(&b.in_bytes))),
        Sort::Last => infos.sort_by(desc(|a, b| a.keys.last.cmp(&b.keys.last))),
        // Longest idle first: the earliest last activity.
        Sort::Idle => infos.sort_by_key(|c| c.keys.last),
        Sort::Uptime => infos.sort_by_key(|c| up(c)),
        Sort::Stop => infos.sort_by(desc(|a, b| a.keys.stop.cmp(&b.keys.stop))),
        Sort::Reason => infos.sort_by_key(|c| c.reason),
        Sort::Rtt => infos.sort_by(desc(|a, b| a.keys.rtt.cmp(&b.keys.rtt))),
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
