//! `/leafz` and the `leaf` section of `/varz`: the leaf links and how
//! the leafnode port and remotes are configured, in nats-server's shapes.

use std::time::SystemTime;

use serde::Serialize;
use serde_json::{json, Value};

use crate::leaf::GLOBAL_ACCOUNT;
use crate::server::state::Shared;

use super::error::RequestError;
use super::format::{go_duration, rfc3339};
use super::query::Query;

#[derive(Debug, Serialize)]
struct LeafLink {
    id: u64,
    name: String,
    is_spoke: bool,
    account: String,
    ip: String,
    port: u16,
    rtt: String,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<String>>,
    compression: &'static str,
}

/// `/leafz?subs=1&acc=...`.
pub fn leafz(shared: &Shared, q: &Query) -> Result<Value, RequestError> {
    let subs = q.bool("subs")?;
    let account = q.get("acc");
    let links: Vec<LeafLink> = shared
        .leafs
        .links()
        .iter()
        .filter(|_| account.is_empty() || account == GLOBAL_ACCOUNT)
        .map(|l| {
            use std::sync::atomic::Ordering::Relaxed;
            let meta = l.meta.lock().clone();
            let (out_msgs, out_bytes) = l.delivered();
            let interest = l.subs.lock();
            LeafLink {
                id: l.id,
                name: meta.name,
                is_spoke: l.is_spoke(),
                account: GLOBAL_ACCOUNT.to_string(),
                ip: l.addr.ip().to_string(),
                port: l.addr.port(),
                rtt: go_duration(l.rtt()),
                in_msgs: l.in_msgs.load(Relaxed),
                out_msgs,
                in_bytes: l.in_bytes.load(Relaxed),
                out_bytes,
                subscriptions: interest.len(),
                subscriptions_list: subs.then(|| {
                    interest
                        .values()
                        .map(|(sub, _)| String::from_utf8_lossy(&sub.subject).into_owned())
                        .collect()
                }),
                compression: "off",
            }
        })
        .collect();
    Ok(json!({
        "server_id": shared.server_id,
        "now": rfc3339(SystemTime::now()),
        "leafnodes": links.len(),
        "leafs": links,
    }))
}

/// The `leaf` object of `/varz`: `{}` without leaf nodes.
pub fn varz_leaf(shared: &Shared) -> Value {
    let config = shared.config();
    let mut leaf = serde_json::Map::new();
    if let Some(addr) = shared.leafs.listen_addr.get() {
        let host = config
            .leafnodes
            .listen
            .as_ref()
            .map_or_else(|| addr.ip().to_string(), |(h, _)| h.clone());
        leaf.insert("host".into(), json!(host));
        leaf.insert("port".into(), json!(addr.port()));
        let timeout = config
            .leafnodes
            .auth
            .timeout
            .map_or(2.0, |d| d.as_secs_f64());
        leaf.insert("auth_timeout".into(), json!(timeout));
        leaf.insert("tls_timeout".into(), json!(2.0));
    }
    let remotes: Vec<Value> = config
        .leafnodes
        .remotes
        .iter()
        .map(|r| {
            let urls: Vec<String> = r
                .urls
                .iter()
                .filter_map(|u| crate::leaf::remote::parse_url(u))
                .map(|u| u.host_port)
                .collect();
            json!({
                "local_account": r.account.as_deref().unwrap_or(GLOBAL_ACCOUNT),
                "urls": urls,
            })
        })
        .collect();
    if !remotes.is_empty() {
        leaf.insert("remotes".into(), Value::Array(remotes));
    }
    Value::Object(leaf)
}
