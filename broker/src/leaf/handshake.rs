//! The two JSON bodies of the leaf-node handshake: the INFO a hub sends on
//! its leafnode port (and again, with `connect_info`, once the leaf's
//! CONNECT is accepted), and the CONNECT a leaf answers with. Field names
//! are nats-server's; unknown fields are ignored both ways.

use serde::{Deserialize, Serialize};

use crate::protocol::ConnectOptions;

/// INFO on a leaf connection.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LeafInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    pub auth_required: bool,
    pub max_payload: usize,
    pub proto: u32,
    /// The connection's id. With `leafnode_urls`, what tells a soliciting
    /// server it reached a leafnode port and not a client port.
    pub client_id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leafnode_urls: Vec<String>,
    pub jetstream: bool,
    /// The leafnode port has TLS: the soliciting side upgrades after this
    /// INFO (unless the handshake came first).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    /// Soliciting servers must present a certificate.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    /// The hub sends a second INFO (`connect_info`) once CONNECT is
    /// accepted; the leaf finishes its side then.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub info_on_connect: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub connect_info: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    /// Compression mode; Tern leaves it out, which nats-server reads as
    /// "compression not supported".
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compression: String,
}

impl LeafInfo {
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = b"INFO ".to_vec();
        // A struct of plain fields always serializes.
        line.extend(serde_json::to_vec(self).unwrap_or_default());
        line.extend_from_slice(b"\r\n");
        line
    }
}

/// CONNECT on a leaf connection.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LeafConnect {
    pub version: String,
    pub id: String,
    pub name: String,
    /// The soliciting side says it is the hub (`hub: true` remote).
    pub hub: bool,
    pub headers: bool,
    pub jetstream: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    pub proto: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Subjects the leaf does not want (its `deny_imports`): the hub
    /// must not send them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny_pub: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// Clients send it, leaf nodes never do: how a client that dialled the
    /// leafnode port is told apart.
    #[serde(skip_serializing)]
    pub lang: Option<String>,
    #[serde(skip_serializing)]
    pub gateway: Option<String>,
}

impl LeafConnect {
    pub fn parse(json: &[u8]) -> Result<LeafConnect, serde_json::Error> {
        if json.first() != Some(&b'{') {
            return Err(serde::de::Error::custom(
                "CONNECT body must be a JSON object",
            ));
        }
        serde_json::from_slice(json)
    }

    pub fn to_line(&self) -> Vec<u8> {
        let mut line = b"CONNECT ".to_vec();
        line.extend(serde_json::to_vec(self).unwrap_or_default());
        line.extend_from_slice(b"\r\n");
        line
    }

    /// The credentials as the client authenticator reads them.
    pub fn credentials(&self) -> ConnectOptions {
        ConnectOptions {
            user: self.user.clone(),
            pass: self.pass.clone(),
            auth_token: self.token.clone(),
            ..ConnectOptions::default()
        }
    }
}
