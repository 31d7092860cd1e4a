//! nats-server's system requests over NATS, which `nats server list`,
//! `nats server info` and friends use: `$SYS.REQ.SERVER.PING` (answered
//! with the server's stats) and `$SYS.REQ.SERVER.PING.<KIND>` /
//! `$SYS.REQ.SERVER.<id>.<KIND>` for VARZ, CONNZ, SUBSZ, ROUTEZ, GATEWAYZ,
//! LEAFZ, ACCOUNTZ, JSZ, HEALTHZ, STATSZ and IDZ, wrapped in
//! `{"server": ..., "data": ...}` like nats-server's.
//!
//! As in nats-server, they are answered in the system account (`$SYS`, or
//! `system_account`), so only its users can ask; the responder runs when
//! that account is configured (with users or as an exporter) and
//! `no_system_account` is not set.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{json, Map, Value};
use tokio::task::JoinHandle;

use crate::account::Account;
use crate::protocol::info::NATS_COMPAT_VERSION;
use crate::server::internal::{InternalMessage, InternalSubscription};
use crate::server::state::{RunState, Shared};

use super::error::RequestError;
use super::format::rfc3339;
use super::listener::MonitorState;
use super::process::rss_bytes;
use super::query::Query;
use super::{connz, healthz, subsystems, subsz, varz};

/// Start answering system requests; `None` when `no_system_account` is
/// set or the subscriptions cannot be made.
pub fn start(shared: &Arc<Shared>, state: Arc<MonitorState>) -> Option<JoinHandle<()>> {
    let system = shared.accounts.system()?.clone();
    let configured = shared
        .config()
        .accounts
        .iter()
        .any(|a| a.name == system.name);
    if !configured {
        return None;
    }
    let subjects = [
        "$SYS.REQ.SERVER.PING".to_string(),
        "$SYS.REQ.SERVER.PING.*".to_string(),
        format!("$SYS.REQ.SERVER.{}.*", shared.server_id),
    ];
    let mut subs = Vec::new();
    for subject in &subjects {
        match shared.subscribe_internal(&system, subject, None) {
            Ok(s) => subs.push(s),
            Err(e) => {
                tracing::error!("cannot subscribe to {subject}: {e}");
                return None;
            }
        }
    }
    let shared = shared.clone();
    Some(tokio::spawn(serve(shared, system, state, subs)))
}

async fn serve(
    shared: Arc<Shared>,
    system: Arc<Account>,
    state: Arc<MonitorState>,
    subs: Vec<InternalSubscription>,
) {
    let seq = AtomicU64::new(0);
    let mut run_state = shared.watch_run_state();
    let mut subs = subs.into_iter();
    let (Some(mut ping), Some(mut ping_kind), Some(mut direct)) =
        (subs.next(), subs.next(), subs.next())
    else {
        return;
    };
    loop {
        let msg = tokio::select! {
            m = ping.recv() => m,
            m = ping_kind.recv() => m,
            m = direct.recv() => m,
            changed = run_state.changed() => {
                if changed.is_err() || *run_state.borrow() == RunState::ShuttingDown {
                    return;
                }
                continue;
            }
        };
        let Some(msg) = msg else { return };
        if let Some((reply, body)) = answer(&shared, &state, &seq, &msg) {
            shared.publish_internal(&system, &reply, None, None, &body);
        }
    }
}

/// The reply subject and response for one request; `None` when there is
/// no reply subject or the request's filter excludes this server.
fn answer(
    shared: &Shared,
    state: &MonitorState,
    seq: &AtomicU64,
    msg: &InternalMessage,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let reply = msg.reply.as_ref()?.to_vec();
    let subject = String::from_utf8_lossy(&msg.subject);
    let kind = match subject.rsplit('.').next() {
        Some("PING") => "STATSZ",
        Some(k) => k,
        None => return None,
    };
    let opts: Map<String, Value> = if msg.payload.is_empty() {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(&msg.payload) {
            Ok(Value::Object(m)) => m,
            Ok(_) => Map::new(),
            Err(e) => {
                let body = json!({
                    "server": server_info(shared, seq),
                    "error": {"code": 400, "description": e.to_string()},
                });
                return Some((reply, body.to_string().into_bytes()));
            }
        }
    };
    if filtered_out(shared, &opts) {
        return None;
    }
    let server = server_info(shared, seq);
    let result: Result<Value, RequestError> = match kind {
        "STATSZ" => {
            let body = json!({"server": server, "statsz": statsz(shared, state)});
            return Some((reply, body.to_string().into_bytes()));
        }
        // nats-server answers IDZ with the bare identity, no envelope.
        "IDZ" => {
            let body = json!({
                "name": shared.server_name,
                "host": shared.local_addr.ip().to_string(),
                "id": shared.server_id,
            });
            return Some((reply, body.to_string().into_bytes()));
        }
        "VARZ" => to_value(varz::varz(shared, state)),
        "CONNZ" => connz::connz(shared, &query(&opts, CONNZ_KEYS)).and_then(to_value),
        "SUBSZ" => subsz::subsz(shared, &query(&opts, SUBSZ_KEYS)).and_then(to_value),
        "ROUTEZ" => subsystems::routez(shared, &query(&opts, ROUTEZ_KEYS)),
        "GATEWAYZ" => subsystems::gatewayz(shared, &Query::default()),
        "LEAFZ" => super::leafz::leafz(shared, &query(&opts, LEAFZ_KEYS)),
        "ACCOUNTZ" => subsystems::accountz(shared, &query(&opts, ACCOUNTZ_KEYS)),
        "JSZ" => subsystems::jsz(shared, &query(&opts, JSZ_KEYS)),
        // Over NATS the status code is part of the document.
        "HEALTHZ" => {
            healthz::healthz(shared, &query(&opts, HEALTHZ_KEYS)).and_then(|(code, health)| {
                let mut v = to_value(health)?;
                if let Value::Object(m) = &mut v {
                    m.insert("status_code".into(), code.into());
                }
                Ok(v)
            })
        }
        _ => return None,
    };
    let body = match result {
        Ok(data) => json!({"server": server, "data": data}),
        // nats-server sends its (nil) document along: `"data": null`.
        Err(e) => json!({
            "server": server,
            "data": null,
            "error": {"code": 400, "description": e.to_string()},
        }),
    };
    Some((reply, body.to_string().into_bytes()))
}

fn to_value<T: serde::Serialize>(doc: T) -> Result<Value, RequestError> {
    serde_json::to_value(doc).map_err(|e| RequestError::BadQuery(e.to_string()))
}

/// nats-server's `EventFilterOptions`: `server_name`, `host` (substring,
/// or equal with `exact_match`), `cluster`, `domain` and `tags`, none of
/// which a Tern server without cluster, domain or tags matches.
fn filtered_out(shared: &Shared, opts: &Map<String, Value>) -> bool {
    let exact = opts.get("exact_match").and_then(Value::as_bool) == Some(true);
    let differs = |key: &str, have: &str| match opts.get(key).and_then(Value::as_str) {
        None | Some("") => false,
        Some(want) if exact => want != have,
        Some(want) => !have.contains(want),
    };
    let host = shared.local_addr.ip().to_string();
    differs("server_name", &shared.server_name)
        || differs("host", &host)
        || differs("cluster", "")
        || differs("domain", "")
        || opts
            .get("tags")
            .and_then(Value::as_array)
            .is_some_and(|t| !t.is_empty())
}

/// How request JSON options map to the HTTP endpoints' query parameters.
type KeyMap = &'static [(&'static str, &'static str)];

const CONNZ_KEYS: KeyMap = &[
    ("sort", "sort"),
    ("auth", "auth"),
    ("subscriptions", "subs"),
    ("offset", "offset"),
    ("limit", "limit"),
    ("cid", "cid"),
    ("user", "user"),
    ("acc", "acc"),
];
const SUBSZ_KEYS: KeyMap = &[
    ("subscriptions", "subs"),
    ("offset", "offset"),
    ("limit", "limit"),
    ("test", "test"),
    ("account", "acc"),
];
const ROUTEZ_KEYS: KeyMap = &[("subscriptions", "subs")];
const LEAFZ_KEYS: KeyMap = &[("subscriptions", "subs")];
const ACCOUNTZ_KEYS: KeyMap = &[("account", "acc")];
const JSZ_KEYS: KeyMap = &[
    ("accounts", "accounts"),
    ("streams", "streams"),
    ("consumer", "consumers"),
    ("config", "config"),
    ("leader_only", "leader-only"),
    ("offset", "offset"),
    ("limit", "limit"),
    ("account", "acc"),
];
const HEALTHZ_KEYS: KeyMap = &[
    ("js-enabled-only", "js-enabled-only"),
    ("js-server-only", "js-server-only"),
    ("js-meta-only", "js-meta-only"),
    ("account", "account"),
    ("stream", "stream"),
    ("consumer", "consumer"),
    ("details", "details"),
];

/// The query an HTTP request with the same options would carry. CONNZ's
/// `subscriptions_detail` and numeric `state` are translated too.
fn query(opts: &Map<String, Value>, keys: KeyMap) -> Query {
    let mut pairs = Vec::new();
    for (json_key, param) in keys {
        let value = match opts.get(*json_key) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(v) => v.to_string(),
        };
        pairs.push((param.to_string(), value));
    }
    if opts.get("subscriptions_detail").and_then(Value::as_bool) == Some(true) {
        pairs.insert(0, ("subs".into(), "detail".into()));
    }
    if let Some(state) = opts.get("state").and_then(Value::as_u64) {
        let name = match state {
            1 => "closed",
            2 => "all",
            _ => "open",
        };
        pairs.push(("state".into(), name.into()));
    }
    Query::from_pairs(pairs)
}

/// nats-server's `ServerInfo` header of every system message.
fn server_info(shared: &Shared, seq: &AtomicU64) -> Value {
    json!({
        "name": shared.server_name,
        "host": shared.local_addr.ip().to_string(),
        "id": shared.server_id,
        "ver": NATS_COMPAT_VERSION,
        "jetstream": shared.config().jetstream.enabled,
        "flags": 0,
        "seq": seq.fetch_add(1, Ordering::Relaxed) + 1,
        "time": rfc3339(SystemTime::now()),
    })
}

/// nats-server's `ServerStats` (`statsz`).
fn statsz(shared: &Shared, state: &MonitorState) -> Value {
    let s = shared.stats();
    let data = |msgs: u64, bytes: u64| json!({"msgs": msgs, "bytes": bytes});
    json!({
        "start": rfc3339(shared.started_at),
        "mem": rss_bytes(),
        "cores": super::process::cores(),
        "cpu": state.cpu.percent(),
        "connections": s.connections,
        "total_connections": s.total_connections,
        "active_accounts": 1,
        "subscriptions": s.subscriptions,
        "sent": data(s.out_msgs, s.out_bytes),
        "sent_to_clients": data(s.out_msgs, s.out_bytes),
        "received": data(s.in_msgs, s.in_bytes),
        "received_from_clients": data(s.in_msgs, s.in_bytes),
        "slow_consumers": s.slow_consumers,
        "active_servers": 1,
        "gomaxprocs": tokio::runtime::Handle::try_current()
            .map(|h| h.metrics().num_workers())
            .unwrap_or(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_query_parameters() {
        let opts: Map<String, Value> = serde_json::from_str(
            r#"{"sort":"msgs_to","subscriptions":true,"limit":5,"state":1,"server_name":"x"}"#,
        )
        .unwrap_or_default();
        let q = query(&opts, CONNZ_KEYS);
        assert_eq!(q.get("sort"), "msgs_to");
        assert_eq!(q.get("subs"), "true");
        assert_eq!(q.get("limit"), "5");
        assert_eq!(q.get("state"), "closed");
        let detail: Map<String, Value> =
            serde_json::from_str(r#"{"subscriptions_detail":true}"#).unwrap_or_default();
        assert_eq!(query(&detail, CONNZ_KEYS).subs(), Ok((false, true)));
    }
}
