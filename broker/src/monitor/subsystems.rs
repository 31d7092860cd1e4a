//! Endpoints about routes and gateways, which Tern does not have yet,
//! about JetStream, and about accounts, of which Tern has only the global
//! one (`$G`, no system account). Each answers exactly as nats-server does
//! when it has none, and fills in as the subsystem lands.

use std::time::SystemTime;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::config::{ExportConfig, ImportConfig, ResponseType, ShareKind, GLOBAL_ACCOUNT};
use crate::jetstream::api::account::API_LEVEL;
use crate::jetstream::consumer::info::consumer_info;
use crate::jetstream::store::StorageKind;
use crate::jetstream::stream::Stream;
use crate::jetstream::wire::time_string;
use crate::jetstream::JetStream;
use crate::server::client::Traffic;
use crate::server::state::Shared;

use super::error::RequestError;
use super::format::rfc3339;
use super::query::Query;
use super::subsz::SublistStats;

fn now() -> String {
    rfc3339(SystemTime::now())
}

/// `/routez`: no cluster, no routes.
pub fn routez(shared: &Shared, q: &Query) -> Result<Value, RequestError> {
    q.subs()?;
    Ok(json!({
        "server_id": shared.server_id,
        "server_name": shared.server_name,
        "now": now(),
        "num_routes": 0,
        "routes": [],
    }))
}

/// `/gatewayz`: gateways off.
pub fn gatewayz(shared: &Shared, q: &Query) -> Result<Value, RequestError> {
    q.subs()?;
    q.bool("accs")?;
    Ok(json!({
        "server_id": shared.server_id,
        "now": now(),
        "outbound_gateways": {},
        "inbound_gateways": {},
    }))
}

/// `/accountz`: the account list, or one account's detail with `acc=`.
pub fn accountz(shared: &Shared, q: &Query) -> Result<Value, RequestError> {
    let acc = q.get("acc");
    if acc.is_empty() {
        let names: Vec<String> = shared
            .accounts
            .all()
            .iter()
            .map(|a| a.name.clone())
            .collect();
        return Ok(json!({
            "server_id": shared.server_id,
            "now": now(),
            "accounts": names,
        }));
    }
    let Some(account) = shared.accounts.get(acc) else {
        return Err(RequestError::BadQuery(format!(
            "Account {acc} does not exist"
        )));
    };
    let clients = shared
        .clients()
        .iter()
        .filter(|c| c.account_name() == account.name)
        .count();
    let jetstream = shared
        .jetstream()
        .is_some_and(|js| std::sync::Arc::ptr_eq(&js.account, account));
    let config = shared.accounts.config_of(&account.name);
    let mut detail = json!({
            "account_name": account.name,
            "update_time": rfc3339(shared.started_at),
            "expired": false,
            "complete": true,
            "jetstream_enabled": jetstream,
            "leafnode_connections": if account.is_global { shared.leafs.links().len() } else { 0 },
            "client_connections": clients,
            "subscriptions": account.sublist.count(),
            "name_tag": account.name,
            "sublist_stats": SublistStats::of_account(account),
    });
    if let (Some(mappings), Value::Object(map)) = (&account.mappings, &mut detail) {
        map.insert("mappings".into(), mappings_json(mappings));
    }
    if let (Some(config), Value::Object(map)) = (config, &mut detail) {
        if !config.exports.is_empty() {
            map.insert(
                "exports".into(),
                config.exports.iter().map(export_json).collect(),
            );
        }
        if !config.imports.is_empty() {
            map.insert(
                "imports".into(),
                config.imports.iter().map(import_json).collect(),
            );
        }
    }
    let mut doc = json!({
        "server_id": shared.server_id,
        "now": now(),
        "account_detail": detail,
    });
    if let (Some(system), Value::Object(map)) = (shared.accounts.system(), &mut doc) {
        map.insert("system_account".into(), system.name.clone().into());
    }
    Ok(doc)
}

/// nats-server's `ExtMap`: each source with its destinations and their
/// cumulative weights.
fn mappings_json(mappings: &crate::subject::Mappings) -> Value {
    let mut out = serde_json::Map::new();
    for m in mappings.iter() {
        let dests: Vec<Value> = m
            .destinations()
            .into_iter()
            .map(|d| {
                let mut v = json!({"subject": d.subject, "weight": d.weight});
                if let (Some(cluster), Value::Object(o)) = (d.cluster, &mut v) {
                    o.insert("cluster".into(), cluster.into());
                }
                v
            })
            .collect();
        out.insert(m.source().to_string(), dests.into());
    }
    Value::Object(out)
}

/// nats-server's `ExtExport`.
fn export_json(e: &ExportConfig) -> Value {
    let mut v = json!({"subject": e.subject, "type": e.kind.as_str()});
    if let Value::Object(map) = &mut v {
        if e.kind == ShareKind::Service {
            let response = match e.response {
                ResponseType::Singleton => "Singleton",
                ResponseType::Stream => "Stream",
                ResponseType::Chunked => "Chunked",
            };
            map.insert("response_type".into(), response.into());
        }
        if let Some(accounts) = &e.accounts {
            map.insert("approved_accounts".into(), accounts.clone().into());
        }
    }
    v
}

/// nats-server's `ExtImport`: `local_subject` is where the importer's
/// clients see (stream) or send (service) the messages.
fn import_json(i: &ImportConfig) -> Value {
    let local = match (&i.prefix, &i.to) {
        (Some(p), _) => format!("{p}.{}", i.subject),
        (None, Some(to)) => to.clone(),
        (None, None) => i.subject.clone(),
    };
    let mut v = json!({
        "subject": i.subject,
        "account": i.account,
        "local_subject": local,
        "type": i.kind.as_str(),
        "invalid": false,
        "share": false,
        "tracking": false,
    });
    if let (Some(to), Value::Object(map)) = (&i.to, &mut v) {
        map.insert("to".into(), to.clone().into());
    }
    v
}

#[derive(Debug, Default, Serialize)]
struct MsgBytes {
    msgs: u64,
    bytes: u64,
}

/// nats-server's `DataStats`: totals and the part over each peer kind.
#[derive(Debug, Serialize)]
struct DataStats {
    msgs: u64,
    bytes: u64,
    gateways: MsgBytes,
    routes: MsgBytes,
    leafs: MsgBytes,
}

impl DataStats {
    fn clients_only(msgs: u64, bytes: u64) -> DataStats {
        DataStats {
            msgs,
            bytes,
            gateways: MsgBytes::default(),
            routes: MsgBytes::default(),
            leafs: MsgBytes::default(),
        }
    }
}

/// `/accstatz`: per-account traffic, listing accounts with connections
/// (all of them with `unused=1`). Without configured accounts everything is
/// `$G`'s, closed connections included; with accounts, each account counts
/// its connected clients.
pub fn accstatz(shared: &Shared, q: &Query) -> Result<Value, RequestError> {
    let unused = q.bool("unused")?;
    let mut accounts = Vec::new();
    if shared.config().accounts.is_empty() {
        let s = shared.stats();
        if unused || s.connections > 0 {
            let traffic = Traffic {
                in_msgs: s.in_msgs,
                in_bytes: s.in_bytes,
                out_msgs: s.out_msgs,
                out_bytes: s.out_bytes,
            };
            let leafnodes = shared.leafs.links().len();
            accounts.push(statz_entry(
                GLOBAL_ACCOUNT,
                s.connections,
                leafnodes,
                s.connections,
                s.subscriptions,
                traffic,
                s.slow_consumers,
            ));
        }
    } else {
        let clients = shared.clients();
        for account in shared.accounts.all() {
            let leafnodes = if account.is_global {
                shared.leafs.links().len()
            } else {
                0
            };
            let (mut conns, mut traffic) = (0, Traffic::default());
            for c in clients.iter().filter(|c| c.account_name() == account.name) {
                conns += 1;
                traffic += c.traffic();
            }
            if unused || conns > 0 || leafnodes > 0 {
                let subs = account.sublist.count();
                accounts.push(statz_entry(
                    &account.name,
                    conns,
                    leafnodes,
                    conns + leafnodes,
                    subs,
                    traffic,
                    0,
                ));
            }
        }
    }
    Ok(json!({
        "server_id": shared.server_id,
        "now": now(),
        "account_statz": accounts,
    }))
}

/// One account of `/accstatz` (nats-server's `AccountStat`).
fn statz_entry(
    name: &str,
    conns: usize,
    leafnodes: usize,
    total_conns: usize,
    subscriptions: usize,
    traffic: Traffic,
    slow_consumers: u64,
) -> Value {
    json!({
        "acc": name,
        "name": name,
        "conns": conns,
        "leafnodes": leafnodes,
        "total_conns": total_conns,
        "num_subscriptions": subscriptions,
        "sent": DataStats::clients_only(traffic.out_msgs, traffic.out_bytes),
        "received": DataStats::clients_only(traffic.in_msgs, traffic.in_bytes),
        "slow_consumers": slow_consumers,
    })
}

/// `/jsz`: JetStream's usage, or its disabled shape. The options are
/// decoded (and rejected) as nats-server does; `leader-only` asks for a
/// leader that does not exist. `accounts`, `streams`, `consumers` and
/// `config` add the details of the one account, its streams and their
/// consumers as nats-server nests them.
pub fn jsz(shared: &Shared, q: &Query) -> Result<Value, RequestError> {
    let detail = JszDetail {
        accounts: q.bool("accounts")?,
        streams: q.bool("streams")?,
        consumers: q.bool("consumers")?,
        config: q.bool("config")?,
    };
    q.bool("direct-consumers")?;
    q.int("offset")?;
    q.int("limit")?;
    let leader_only = q.bool("leader-only")?;
    q.bool("raft")?;
    q.bool("stream-leader-only")?;
    if leader_only {
        return Err(RequestError::BadQuery(
            "filtered response: not leader".into(),
        ));
    }
    if let Some(js) = shared.jetstream() {
        return Ok(jsz_enabled(shared, &js, detail));
    }
    Ok(json!({
        "memory": 0,
        "storage": 0,
        "reserved_memory": 0,
        "reserved_storage": 0,
        "accounts": 0,
        "ha_assets": 0,
        "api": { "level": 0, "total": 0, "errors": 0 },
        "server_id": shared.server_id,
        "now": now(),
        "disabled": true,
        "config": { "max_memory": 0, "max_storage": 0 },
        "streams": 0,
        "consumers": 0,
        "messages": 0,
        "bytes": 0,
        "total": 0,
    }))
}

/// JetStream's config as `/jsz` and `/varz` report it; unlimited
/// `max_memory`/`max_storage` are -1.
fn js_config(js: &JetStream) -> Value {
    let limit = |v: Option<u64>| v.map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX));
    json!({
        "max_memory": limit(js.config.max_memory_store),
        "max_storage": limit(js.config.max_file_store),
        "store_dir": js.store_root().display().to_string(),
    })
}

/// JetStream's usage as `/jsz` and `/varz` (`stats`) report it.
fn js_stats(js: &JetStream) -> Map<String, Value> {
    let (total, errors) = js.api_counts();
    let stats = json!({
        "memory": js.used(StorageKind::Memory),
        "storage": js.used(StorageKind::File),
        "reserved_memory": 0,
        "reserved_storage": 0,
        "accounts": 1,
        "ha_assets": 0,
        "api": {
            "level": API_LEVEL,
            "total": total,
            "errors": errors,
        },
    });
    match stats {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Which details `/jsz` was asked for.
#[derive(Clone, Copy)]
struct JszDetail {
    accounts: bool,
    streams: bool,
    consumers: bool,
    config: bool,
}

/// `/jsz` with JetStream running: the server-wide totals, and the details
/// asked for.
fn jsz_enabled(shared: &Shared, js: &JetStream, detail: JszDetail) -> Value {
    let (streams, messages, bytes) = js.totals();
    let mut out = js_stats(js);
    out.insert("server_id".into(), shared.server_id.clone().into());
    out.insert("now".into(), now().into());
    out.insert("config".into(), js_config(js));
    out.insert("streams".into(), streams.into());
    out.insert("consumers".into(), js.consumer_total().into());
    out.insert("messages".into(), messages.into());
    out.insert("bytes".into(), bytes.into());
    if detail.accounts || detail.streams || detail.consumers {
        let mut account = js_stats(js);
        account.insert("name".into(), "$G".into());
        account.insert("id".into(), "$G".into());
        account.insert("accounts".into(), 0.into());
        if detail.streams || detail.consumers {
            let streams: Vec<Value> = js
                .stream_list()
                .iter()
                .map(|s| stream_detail(shared, s, detail))
                .collect();
            account.insert("stream_detail".into(), streams.into());
        }
        out.insert(
            "account_details".into(),
            vec![Value::Object(account)].into(),
        );
        out.insert("total".into(), 1.into());
    }
    Value::Object(out)
}

/// One stream in `/jsz`'s `stream_detail`.
fn stream_detail(shared: &Shared, s: &Stream, detail: JszDetail) -> Value {
    let mut out = json!({
        "name": s.name,
        "created": time_string(s.created),
        "cluster": { "leader": shared.server_id },
        "state": s.state_json(),
    });
    if detail.config {
        out["config"] = serde_json::to_value(&*s.config()).unwrap_or_default();
    }
    if detail.consumers {
        let consumers: Vec<Value> = s
            .consumers
            .read()
            .values()
            .map(|c| {
                let mut info = consumer_info(c, &c.snapshot.load());
                if !detail.config {
                    info.remove("config");
                }
                Value::Object(info)
            })
            .collect();
        out["consumer_detail"] = consumers.into();
    }
    out
}

/// `/varz`'s `jetstream` section with JetStream running.
pub fn varz_jetstream(js: &JetStream) -> Value {
    json!({ "config": js_config(js), "stats": js_stats(js) })
}
