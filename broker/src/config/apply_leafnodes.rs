//! The `leafnodes { ... }` block (alias `leaf`): the port leaf connections
//! are accepted on, their `authorization`, and the `remotes` this server
//! connects to, with nats-server's key aliases, and TLS on both. Compression,
//! nkey and credentials authentication, proxies and isolation are recorded
//! as unsupported rather than ignored.

use super::apply::{host_or_default, listen, Applier, Field};
use super::apply_auth::auth_block;
use super::apply_tls::{dialer_tls_block, tls_block};
use super::error::ConfigError;
use super::model::{LeafRemoteConfig, GLOBAL_ACCOUNT};
use super::value::Kind;

pub(super) fn leafnodes(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<(), ConfigError> {
    let table = f
        .table()
        .map_err(|_| f.wrong_type("a map to define a leafnode"))?;
    let mut host: Option<String> = None;
    let mut port: Option<i64> = None;
    for entry in &table.entries {
        let child = f.child(entry);
        let key = entry.key.to_lowercase();
        let result = match key.as_str() {
            "listen" => listen(&child).map(|(h, p)| {
                host = h;
                port = Some(p);
            }),
            "port" => child.int().map(|p| port = Some(p)),
            "host" | "net" => child.string().map(|h| host = Some(h.to_string())),
            "authorization" => auth_block(cx, &child).map(|auth| cx.config.leafnodes.auth = auth),
            "remotes" => remotes(cx, &child).map(|r| cx.config.leafnodes.remotes = r),
            "reconnect" | "reconnect_delay" | "reconnect_interval" => cx
                .duration_or_seconds(&child)
                .map(|d| cx.config.leafnodes.reconnect = d),
            "leafnode_advertise" | "advertise" => child
                .string()
                .map(|s| cx.config.leafnodes.advertise = Some(s.to_string())),
            "no_advertise" => child.bool().map(|_| ()),
            "tls" => tls_block(cx, &child).map(|tc| cx.config.leafnodes.tls = Some(tc)),
            "compression" => compression(cx, &child),
            "dial_timeout" => cx
                .duration_or_seconds(&child)
                .map(|d| cx.config.leafnodes.dial_timeout = d),
            "write_deadline" => cx
                .duration_or_seconds(&child)
                .map(|d| cx.config.leafnodes.write_deadline = d),
            "write_timeout" => {
                super::apply::write_policy(&child).map(|p| cx.config.leafnodes.write_timeout = p)
            }
            "min_version" | "minimum_version" | "isolate_leafnode_interest" | "isolate" => {
                cx.unsupported(&format!("leafnodes {key}"), &child);
                Ok(())
            }
            _ if entry.used_as_variable => Ok(()),
            _ => Err(child.unknown()),
        };
        if let Err(e) = result {
            cx.errors.push(e);
        }
    }
    cx.config.leafnodes.listen = match port {
        // nats-server: no port (or 0) means no leafnode listener.
        None | Some(0) => None,
        Some(-1) => Some((host_or_default(host.as_deref().unwrap_or("")), 0)),
        Some(p @ 1..=65535) => Some((host_or_default(host.as_deref().unwrap_or("")), p as u16)),
        Some(p) => return Err(f.invalid(format!("leafnode port {p} is out of range"))),
    };
    Ok(())
}

fn remotes(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<Vec<LeafRemoteConfig>, ConfigError> {
    let items = f
        .array()
        .map_err(|_| f.wrong_type("an array of remote leafnode definitions"))?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let rf = f.index(i, item);
        match remote(cx, &rf) {
            Ok(r) => out.push(r),
            Err(e) => cx.errors.push(e),
        }
    }
    Ok(out)
}

fn remote(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<LeafRemoteConfig, ConfigError> {
    let table = f
        .table()
        .map_err(|_| f.wrong_type("a map to define a remote leafnode"))?;
    let mut remote = LeafRemoteConfig {
        origin: f.origin(),
        ..Default::default()
    };
    for entry in &table.entries {
        let child = f.child(entry);
        let key = entry.key.to_lowercase();
        let result = match key.as_str() {
            "url" | "urls" => child.strings().map(|u| remote.urls.extend(u)),
            "account" | "local" => child.string().map(|a| {
                if a != GLOBAL_ACCOUNT {
                    cx.unsupported("accounts", &child);
                }
                remote.account = Some(a.to_string());
            }),
            "hub" => child.bool().map(|on| remote.hub = on),
            "deny_imports" | "deny_import" => child.strings().map(|s| remote.deny_imports = s),
            "deny_exports" | "deny_export" => child.strings().map(|s| remote.deny_exports = s),
            "no_randomize" | "dont_randomize" | "ignore_discovered_servers" => {
                child.bool().map(|_| ())
            }
            "disabled" => child.bool().map(|off| {
                if off {
                    remote.urls.clear();
                }
            }),
            "compression" => compression(cx, &child),
            "ws_compress" | "ws_compression" | "websocket_compress" | "websocket_compression" => {
                child.bool().map(|on| remote.ws_compression = on)
            }
            "dial_timeout" => cx
                .duration_or_seconds(&child)
                .map(|d| remote.dial_timeout = d),
            "tls" => dialer_tls_block(cx, &child).map(|tc| remote.tls = Some(tc)),
            "creds"
            | "credentials"
            | "nkey"
            | "seed"
            | "proxy"
            | "ws_no_masking"
            | "websocket_no_masking"
            | "jetstream_cluster_migrate"
            | "js_cluster_migrate"
            | "isolate_leafnode_interest"
            | "isolate"
            | "request_isolation"
            | "first_info_timeout" => {
                cx.unsupported(&format!("leafnodes remote {key}"), &child);
                Ok(())
            }
            _ if entry.used_as_variable => Ok(()),
            _ => Err(child.unknown()),
        };
        if let Err(e) = result {
            cx.errors.push(e);
        }
    }
    if remote.urls.is_empty() && !table.entries.iter().any(|e| e.key == "disabled") {
        return Err(f.invalid("remote leafnode requires a url"));
    }
    for url in &remote.urls {
        check_url(url).map_err(|reason| f.invalid(reason))?;
    }
    Ok(remote)
}

/// Schemes a remote may use: plain TCP (`nats-leaf://`, `nats://`,
/// `tls://`) and WebSocket (`ws://`, `wss://`).
fn check_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        format!("remote leafnode url {url:?} has no scheme (nats-leaf://host:port)")
    })?;
    match scheme.to_ascii_lowercase().as_str() {
        "nats-leaf" | "nats" | "ws" | "tls" | "wss" => {}
        _ => {
            return Err(format!(
                "remote leafnode url {url:?}: unknown scheme {scheme}://"
            ))
        }
    }
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, hp)| hp);
    if host_port.trim_end_matches('/').is_empty() {
        return Err(format!("remote leafnode url {url:?} has no host"));
    }
    Ok(())
}

/// Only `off` (nats-server's `compression: off` / `false`) is possible:
/// S2 compression of leaf links is not implemented.
fn compression(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<(), ConfigError> {
    let off = match &f.value.kind {
        Kind::Bool(on) => !on,
        Kind::String(s) => matches!(
            s.to_ascii_lowercase().as_str(),
            "off" | "disabled" | "false"
        ),
        Kind::Table(_) => false,
        _ => return Err(f.wrong_type("a boolean, a mode or a map")),
    };
    if !off {
        cx.unsupported("leafnode compression", f);
    }
    Ok(())
}
