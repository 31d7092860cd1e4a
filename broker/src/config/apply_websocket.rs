//! The `websocket` (alias `ws`) block: nats-server's keys and aliases, in
//! `.conf` and TOML alike. A block without a port leaves websocket off, as
//! in nats-server. A listening block has a `tls {}` block (`wss://`) or
//! says `no_tls: true`, as nats-server requires. Keys of features Tern lacks (a websocket-only `authorization`,
//! `no_auth_user`, `jwt_cookie`) are recorded as unsupported too.

use std::time::Duration;

use super::apply::{host_or_default, listen, non_empty, Applier, Field};
use super::error::ConfigError;
use super::model::WebsocketConfig;
use super::units;
use super::value::Kind;

/// Response headers a config may not set: the upgrade itself needs them
/// (nats-server's list).
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "upgrade",
    "nats-no-masking",
];

/// `websocket { ... }` at the top level.
pub(super) fn websocket(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<(), ConfigError> {
    let table = f
        .table()
        .map_err(|_| f.wrong_type("a map (websocket { port: 8080, no_tls: true })"))?;
    let mut ws = WebsocketConfig::default();
    // nats-server's port rules: 0 (or none) = off, -1 = any free port.
    let mut port: i64 = 0;
    for entry in &table.entries {
        let child = f.child(entry);
        let key = entry.key.to_lowercase();
        let result = match key.as_str() {
            "listen" => listen(&child).map(|(host, p)| {
                if let Some(h) = host {
                    ws.host = h;
                }
                port = p;
            }),
            "port" => child.int().map(|p| port = p),
            "host" | "net" => child.string().map(|h| ws.host = h.to_string()),
            "advertise" => child.string().map(|a| ws.advertise = non_empty(a)),
            "no_tls" => child.bool().map(|b| ws.no_tls = b),
            "tls" => super::apply_tls::tls_block(cx, &child).map(|t| ws.tls = Some(t)),
            "same_origin" => child.bool().map(|b| ws.same_origin = b),
            "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin" | "origins"
            | "origin" => child.strings().map(|v| ws.allowed_origins = v),
            "handshake_timeout" => handshake_timeout(&child).map(|d| ws.handshake_timeout = d),
            "compress" | "compression" => child.bool().map(|b| ws.compression = b),
            "jwt_cookie" => child.string().map(|c| {
                // Tern has no JWT authentication for the cookie to feed.
                if !c.is_empty() {
                    cx.unsupported("websocket jwt_cookie", &child);
                }
                ws.jwt_cookie = non_empty(c);
            }),
            "user_cookie" => child.string().map(|c| ws.username_cookie = non_empty(c)),
            "pass_cookie" => child.string().map(|c| ws.password_cookie = non_empty(c)),
            "token_cookie" => child.string().map(|c| ws.token_cookie = non_empty(c)),
            "no_auth_user" => child.string().map(|u| {
                if !u.is_empty() {
                    cx.unsupported("no_auth_user", &child);
                }
            }),
            "authorization" | "authentication" => {
                cx.unsupported("websocket authorization", &child);
                Ok(())
            }
            "headers" => headers(&child).map(|h| ws.headers = h),
            "ping_interval" => cx.duration_or_seconds(&child).map(|d| ws.ping_interval = d),
            _ if entry.used_as_variable => Ok(()),
            _ => Err(child.unknown()),
        };
        if let Err(e) = result {
            cx.errors.push(e);
        }
    }
    if port == 0 {
        cx.config.websocket = None;
        return Ok(());
    }
    ws.port = super::apply::port_from(port).map_err(|e| f.invalid(format!("websocket {e}")))?;
    ws.host = host_or_default(&ws.host);
    if !ws.no_tls && ws.tls.is_none() {
        return Err(f.invalid("websocket requires TLS configuration"));
    }
    for origin in &ws.allowed_origins {
        check_origin(origin).map_err(|e| f.invalid(e))?;
    }
    cx.config.websocket = Some(ws);
    Ok(())
}

/// An integer number of seconds or a Go duration string.
fn handshake_timeout(f: &Field<'_>) -> Result<Option<Duration>, ConfigError> {
    let nanos = match &f.value.kind {
        Kind::Integer { value, .. } => value
            .checked_mul(1_000_000_000)
            .ok_or_else(|| f.invalid(format!("{value} seconds is out of range")))?,
        Kind::String(_) => f.go_duration()?,
        _ => {
            return Err(
                f.wrong_type("a duration string such as \"2s\" or an integer number of seconds")
            )
        }
    };
    let d = units::nanos_to_duration(nanos)
        .ok_or_else(|| f.invalid("error parsing handshake timeout: must not be negative"))?;
    Ok((!d.is_zero()).then_some(d))
}

/// `headers { Name: value }`: extra headers of the upgrade response.
fn headers(f: &Field<'_>) -> Result<Vec<(String, String)>, ConfigError> {
    let table = f
        .table()
        .map_err(|_| f.invalid("error parsing headers: expected a map"))?;
    let mut out = Vec::with_capacity(table.entries.len());
    for entry in &table.entries {
        let child = f.child(entry);
        let value = child.string().map_err(|_| {
            child.invalid(format!(
                "error parsing header key {}: expected a string",
                entry.key
            ))
        })?;
        let lower = entry.key.to_lowercase();
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            return Err(child.invalid(format!(
                "websocket: invalid header {:?} not allowed",
                entry.key
            )));
        }
        if lower.starts_with("sec-websocket-") {
            return Err(child.invalid(format!(
                "websocket: invalid header {:?}, \"Sec-WebSocket-\" prefix not allowed",
                entry.key
            )));
        }
        out.push((entry.key.clone(), value.to_string()));
    }
    Ok(out)
}

/// An allowed origin must be an absolute `http`/`https` URL with a host.
fn check_origin(origin: &str) -> Result<(), String> {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Err(format!(
            "unable to parse allowed origin: {origin:?} is not an absolute URL"
        ));
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "unable to parse allowed origin {origin:?}: allowed origins must be absolute URLs with http or https scheme"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(format!(
            "unable to parse allowed origin {origin:?}: host is required"
        ));
    }
    crate::websocket::origin::host_and_port(scheme == "https", authority)
        .map(|_| ())
        .map_err(|e| format!("unable to parse allowed origin: {e}"))
}
