//! The JSON body of a client's CONNECT.

use serde::Deserialize;

/// What a client declares about itself. Unknown fields are ignored, as
/// nats-server ignores them.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ConnectOptions {
    pub verbose: bool,
    pub pedantic: bool,
    pub tls_required: bool,
    pub echo: bool,
    pub headers: bool,
    pub no_responders: bool,
    pub protocol: i64,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub version: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub auth_token: Option<String>,
    pub jwt: Option<String>,
    pub nkey: Option<String>,
    pub sig: Option<String>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        // nats-server starts every client verbose and pedantic; CONNECT only
        // overrides the fields it names (real clients name both).
        ConnectOptions {
            verbose: true,
            pedantic: true,
            tls_required: false,
            // A client that does not say otherwise receives its own messages.
            echo: true,
            headers: false,
            no_responders: false,
            protocol: 0,
            name: None,
            lang: None,
            version: None,
            user: None,
            pass: None,
            auth_token: None,
            jwt: None,
            nkey: None,
            sig: None,
        }
    }
}

impl ConnectOptions {
    /// Parse the CONNECT body. Only a JSON object is accepted (serde would
    /// also take an array for a struct; nats-server does not).
    pub fn parse(json: &[u8]) -> Result<ConnectOptions, serde_json::Error> {
        if json.first() != Some(&b'{') {
            return Err(serde::de::Error::custom(
                "CONNECT body must be a JSON object",
            ));
        }
        serde_json::from_slice(json)
    }
}
