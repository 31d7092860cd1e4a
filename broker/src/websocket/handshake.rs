//! The HTTP/1.1 upgrade (RFC 6455 section 4.2) as nats-server does it:
//! the same checks in the same order with the same HTTP statuses, origin
//! rules, permessage-deflate negotiation (no context takeover either way),
//! the `Nats-No-Masking` opt-out, auth cookies, and which path asks for
//! what (`.../leafnode`: a leaf node; `.../mqtt`: MQTT; anything else: a
//! client).

use base64::Engine as _;
use sha1::{Digest, Sha1};

use crate::config::WebsocketConfig;
use crate::protocol::ConnectOptions;

use super::error::WsError;
use super::origin::OriginPolicy;

/// RFC 6455's fixed GUID for the accept key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const PMC_EXTENSION: &str = "permessage-deflate";
const PMC_RESPONSE: &str = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n";
const NO_MASKING_HEADER: &str = "Nats-No-Masking";

/// Most headers a request may have.
const MAX_HEADERS: usize = 64;

/// What the request path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    Client,
    Leaf,
    Mqtt,
}

/// Credentials taken from cookies (names from `jwt_cookie`,
/// `user_cookie`, `pass_cookie`, `token_cookie`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cookies {
    pub jwt: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
}

impl Cookies {
    pub fn is_empty(&self) -> bool {
        self.jwt.is_none() && self.user.is_none() && self.pass.is_none() && self.token.is_none()
    }

    /// As nats-server does at CONNECT: each credential the client left
    /// empty is taken from its cookie.
    pub fn fill(&self, opts: &mut ConnectOptions) {
        let fill = |field: &mut Option<String>, cookie: &Option<String>| {
            if field.as_deref().unwrap_or_default().is_empty() {
                if let Some(v) = cookie {
                    *field = Some(v.clone());
                }
            }
        };
        fill(&mut opts.jwt, &self.jwt);
        fill(&mut opts.user, &self.user);
        fill(&mut opts.pass, &self.pass);
        fill(&mut opts.auth_token, &self.token);
    }
}

/// The listener's handshake settings, built once from the config.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub origins: OriginPolicy,
    pub compression: bool,
    pub jwt_cookie: Option<String>,
    pub user_cookie: Option<String>,
    pub pass_cookie: Option<String>,
    pub token_cookie: Option<String>,
    /// `headers {}` of the config, ready to append to the 101 response.
    pub extra_headers: String,
}

impl Settings {
    pub fn from_config(ws: &WebsocketConfig) -> Self {
        Settings {
            origins: OriginPolicy::new(ws.same_origin, &ws.allowed_origins),
            compression: ws.compression,
            jwt_cookie: ws.jwt_cookie.clone(),
            user_cookie: ws.username_cookie.clone(),
            pass_cookie: ws.password_cookie.clone(),
            token_cookie: ws.token_cookie.clone(),
            extra_headers: ws
                .headers
                .iter()
                .map(|(k, v)| format!("{k}: {v}\r\n"))
                .collect(),
        }
    }
}

/// An accepted upgrade: what was negotiated and the response to send.
#[derive(Debug, Clone)]
pub struct Upgrade {
    pub kind: PathKind,
    pub compress: bool,
    /// The peer asked not to mask its frames (leaf nodes may).
    pub no_masking: bool,
    /// The User-Agent looks like a browser (smaller frames).
    pub browser: bool,
    /// ... and like Safari, which cannot take compressed fragments.
    pub safari: bool,
    pub cookies: Cookies,
    /// `101 Switching Protocols` and its headers.
    pub response: Vec<u8>,
}

/// Parse the upgrade request at the start of `buf`. `Ok(None)`: the
/// request is not complete yet. A refusal carries the HTTP status.
pub fn accept(buf: &[u8], settings: &Settings) -> Result<Option<Upgrade>, WsError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let used = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(WsError::handshake(400, format!("malformed request: {e}"))),
    };
    let path = req.path.unwrap_or("/");
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let kind = if path.ends_with("/leafnode") {
        PathKind::Leaf
    } else if path.ends_with("/mqtt") {
        PathKind::Mqtt
    } else {
        PathKind::Client
    };
    let h = Headers(req.headers);
    if kind == PathKind::Mqtt {
        // Tern has no MQTT: nats-server answers this when MQTT is off.
        return Err(WsError::handshake(
            404,
            "mqtt websocket endpoint not enabled",
        ));
    }
    if req.method != Some("GET") {
        return Err(WsError::handshake(405, "request method must be GET"));
    }
    let host = h.get("Host").unwrap_or_default();
    if host.is_empty() {
        return Err(WsError::handshake(400, "'Host' missing in request"));
    }
    if !h.contains_token("Upgrade", "websocket") {
        return Err(WsError::handshake(
            400,
            "invalid value for header 'Upgrade'",
        ));
    }
    if !h.contains_token("Connection", "Upgrade") {
        return Err(WsError::handshake(
            400,
            "invalid value for header 'Connection'",
        ));
    }
    let key = h.get("Sec-WebSocket-Key").unwrap_or_default();
    if key.is_empty() {
        return Err(WsError::handshake(400, "key missing"));
    }
    match base64::engine::general_purpose::STANDARD.decode(key) {
        Ok(k) if k.len() == 16 => {}
        _ => return Err(WsError::handshake(400, "invalid websocket key")),
    }
    if !h.contains_token("Sec-WebSocket-Version", "13") {
        return Err(WsError::handshake(400, "invalid version"));
    }
    let origin = h.get("Origin").or_else(|| h.get("Sec-WebSocket-Origin"));
    if let Err(e) = settings.origins.check(origin, host) {
        return Err(WsError::handshake(403, format!("origin not allowed: {e}")));
    }
    let compress = settings.compression && h.offers_deflate();
    let no_masking = h.get(NO_MASKING_HEADER) == Some("true");
    if used < buf.len() {
        return Err(WsError::handshake(
            400,
            "client sent data before handshake is complete",
        ));
    }

    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
        accept_key(key)
    );
    if compress {
        response.push_str(PMC_RESPONSE);
    }
    if no_masking {
        response.push_str("Nats-No-Masking: true\r\n");
    }
    response.push_str(&settings.extra_headers);
    response.push_str("\r\n");

    let (mut browser, mut safari, mut cookies) = (false, false, Cookies::default());
    if kind == PathKind::Client {
        if let Some(ua) = h.get("User-Agent").filter(|ua| ua.starts_with("Mozilla/")) {
            browser = true;
            // Chrome on macOS also says "Safari/"; real Safari also says "Version/".
            safari = compress && ua.contains("Version/") && ua.contains("Safari/");
        }
        cookies = h.cookies(settings);
    }
    Ok(Some(Upgrade {
        kind,
        compress,
        no_masking,
        browser,
        safari,
        cookies,
        response: response.into_bytes(),
    }))
}

/// `Sec-WebSocket-Accept` for a client's key.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// The response to a refused upgrade: the status and its standard text,
/// as Go's `http.Error` writes it (with the WebSocket version header
/// nats-server adds). The connection is then closed.
pub fn error_response(status: u16) -> Vec<u8> {
    let text = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    };
    let body = format!("{text}\n");
    format!(
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

struct Headers<'a>(&'a [httparse::Header<'a>]);

impl<'a> Headers<'a> {
    /// The first value of header `name` (case-insensitive).
    fn get(&self, name: &str) -> Option<&'a str> {
        self.all(name).next()
    }

    fn all<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a str> + 'n
    where
        'a: 'n,
    {
        self.0
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .filter_map(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    }

    /// Whether a comma-separated header holds `token` (case-insensitive).
    fn contains_token(&self, name: &str, token: &str) -> bool {
        self.all(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The client offers permessage-deflate (its parameters do not matter:
    /// the server always answers with no context takeover both ways).
    fn offers_deflate(&self) -> bool {
        self.all("Sec-WebSocket-Extensions")
            .flat_map(|v| v.split(','))
            .flat_map(|ext| ext.split(';'))
            .any(|p| p.trim().eq_ignore_ascii_case(PMC_EXTENSION))
    }

    /// The configured auth cookies present in `Cookie` headers (the last
    /// of a name wins, as in nats-server).
    fn cookies(&self, settings: &Settings) -> Cookies {
        let mut out = Cookies::default();
        let is = |name: &str, want: &Option<String>| want.as_deref() == Some(name);
        for pair in self.all("Cookie").flat_map(|v| v.split(';')) {
            let Some((name, value)) = pair.trim().split_once('=') else {
                continue;
            };
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value)
                .to_string();
            let name = name.trim();
            if is(name, &settings.jwt_cookie) {
                out.jwt = Some(value);
            } else if is(name, &settings.user_cookie) {
                out.user = Some(value);
            } else if is(name, &settings.pass_cookie) {
                out.pass = Some(value);
            } else if is(name, &settings.token_cookie) {
                out.token = Some(value);
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;
