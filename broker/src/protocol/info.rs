//! The server's INFO message.

use serde::Serialize;

/// The protocol level Tern speaks, reported as `version` in INFO. Clients
/// gate features (headers, no-responders, JetStream API shapes) on this
/// semver, so it names the nats-server release whose client protocol Tern
/// implements; Tern's own version goes in `tern_version`.
pub const NATS_COMPAT_VERSION: &str = "2.11.0";

#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub tern_version: String,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    pub max_payload: usize,
    pub proto: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_urls: Option<Vec<String>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ldm: bool,
    /// JetStream is enabled (`-js`, `jetstream {}`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub jetstream: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    /// TLS is offered but not required (`allow_non_tls`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_available: bool,
    /// What an nkey user signs in CONNECT (only when nkey users exist).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

impl ServerInfo {
    /// `INFO {...}\r\n` as sent on the wire.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = b"INFO ".to_vec();
        // Serializing a struct of plain fields cannot fail.
        line.extend(serde_json::to_vec(self).unwrap_or_default());
        line.extend_from_slice(b"\r\n");
        line
    }
}
