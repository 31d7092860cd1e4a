//! Checking a CONNECT's credentials against the configured users, nkeys
//! and tokens, with nats-server's order: an nkey user when CONNECT names an
//! nkey, else a user by name; `no_auth_user` stands in for a client that
//! presents nothing.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{AuthConfig, Config};
use crate::protocol::ConnectOptions;

use super::permissions::CompiledPermissions;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials presented")]
    MissingCredentials,
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    #[error("wrong password for user {0:?}")]
    BadPassword(String),
    #[error("wrong token")]
    BadToken,
    #[error("unknown nkey {0:?}")]
    UnknownNkey(String),
    #[error("nkey {0:?} sent no signature")]
    MissingSignature(String),
    #[error("signature of nkey {0:?} not valid for the nonce")]
    BadSignature(String),
    #[error("user {user:?} may not connect as {via}")]
    ConnectionTypeNotAllowed { user: String, via: &'static str },
}

/// How a connection reached the server, as `allowed_connection_types`
/// names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionType {
    Standard,
    Websocket,
    Leafnode,
    LeafnodeWs,
}

impl ConnectionType {
    pub fn name(self) -> &'static str {
        match self {
            ConnectionType::Standard => "STANDARD",
            ConnectionType::Websocket => "WEBSOCKET",
            ConnectionType::Leafnode => "LEAFNODE",
            ConnectionType::LeafnodeWs => "LEAFNODE_WS",
        }
    }
}

/// What the connection brings to CONNECT besides its options.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// The nonce its INFO carried, for an nkey's signature.
    pub nonce: Option<&'a str>,
    pub via: ConnectionType,
}

struct UserEntry {
    password: String,
    /// `allowed_connection_types`; empty = any.
    connection_types: Vec<String>,
    permissions: Option<Arc<CompiledPermissions>>,
    account: Option<String>,
}

/// Who may connect, built once from the config (and rebuilt on reload).
#[derive(Default)]
pub struct Authenticator {
    users: HashMap<String, UserEntry>,
    /// nkey users, by public key.
    nkeys: HashMap<String, UserEntry>,
    /// `no_auth_user`: who a client without credentials is.
    no_auth_user: Option<String>,
    token: Option<String>,
    /// Clients without credentials join the global account: nats-server
    /// does so when the only users are the system account's.
    anonymous_global: bool,
}

/// The identity a successful CONNECT established.
#[derive(Debug, Clone, Default)]
pub struct Authenticated {
    pub user: Option<String>,
    pub permissions: Option<Arc<CompiledPermissions>>,
    /// The user's account (`None`: the global account).
    pub account: Option<String>,
}

impl Authenticator {
    pub fn from_config(cfg: &AuthConfig) -> Self {
        let default_perms = cfg
            .default_permissions
            .as_ref()
            .map(|p| Arc::new(CompiledPermissions::new(p)));
        let mut users = HashMap::new();
        let mut nkeys = HashMap::new();
        if let Some(user) = &cfg.user {
            users.insert(
                user.clone(),
                UserEntry {
                    password: cfg.password.clone().unwrap_or_default(),
                    connection_types: Vec::new(),
                    permissions: default_perms.clone(),
                    account: None,
                },
            );
        }
        for u in &cfg.users {
            let permissions = match &u.permissions {
                Some(p) => Some(Arc::new(CompiledPermissions::new(p))),
                None => default_perms.clone(),
            };
            let entry = UserEntry {
                password: u.password.clone(),
                connection_types: u.allowed_connection_types.clone(),
                permissions,
                account: u.account.clone(),
            };
            match &u.nkey {
                Some(key) => nkeys.insert(key.clone(), entry),
                None => users.insert(u.user.clone(), entry),
            };
        }
        Authenticator {
            users,
            nkeys,
            no_auth_user: None,
            token: cfg.token.clone(),
            anonymous_global: false,
        }
    }

    /// The server's clients: the `authorization` block's users and token
    /// plus the users of every account.
    pub fn for_server(config: &Config) -> Self {
        let mut auth = Authenticator::from_config(&config.auth);
        let system = config.system_account_name();
        auth.anonymous_global = !config.no_system_account
            && !config.auth.required()
            && config.accounts.len() == 1
            && config.accounts[0].name == system;
        for acc in &config.accounts {
            for u in &acc.users {
                let entry = UserEntry {
                    password: u.password.clone(),
                    connection_types: u.allowed_connection_types.clone(),
                    permissions: u
                        .permissions
                        .as_ref()
                        .map(|p| Arc::new(CompiledPermissions::new(p))),
                    account: Some(acc.name.clone()),
                };
                match &u.nkey {
                    Some(key) => auth.nkeys.insert(key.clone(), entry),
                    None => auth.users.insert(u.user.clone(), entry),
                };
            }
        }
        auth.no_auth_user = config.no_auth_user.clone();
        auth
    }

    /// True when clients must present credentials.
    pub fn required(&self) -> bool {
        !self.users.is_empty() || !self.nkeys.is_empty() || self.token.is_some()
    }

    /// Whether INFO must carry a nonce for clients to sign.
    pub fn uses_nonce(&self) -> bool {
        !self.nkeys.is_empty()
    }

    /// Check the credentials in CONNECT against what the connection
    /// `presented`. bcrypt hashes make this slow on purpose; callers run it
    /// off the async workers.
    pub fn authenticate(
        &self,
        opts: &ConnectOptions,
        presented: &Presented<'_>,
    ) -> Result<Authenticated, AuthError> {
        if !self.required() {
            return Ok(Authenticated::default());
        }
        if let Some(token) = &self.token {
            let given = opts
                .auth_token
                .as_deref()
                .ok_or(AuthError::MissingCredentials)?;
            return if secret_matches(token, given) {
                Ok(Authenticated::default())
            } else {
                Err(AuthError::BadToken)
            };
        }
        let no_credentials = opts.user.is_none()
            && opts.pass.is_none()
            && opts.auth_token.is_none()
            && opts.nkey.is_none();
        if no_credentials {
            if let Some(name) = &self.no_auth_user {
                // The stand-in needs no password or signature.
                if let Some(entry) = self.users.get(name).or_else(|| self.nkeys.get(name)) {
                    entry.admits(name, presented.via)?;
                    return Ok(entry.identity(name));
                }
            }
        }
        if self.anonymous_global && no_credentials {
            return Ok(Authenticated::default());
        }
        if let (Some(key), false) = (&opts.nkey, self.nkeys.is_empty()) {
            let entry = self
                .nkeys
                .get(key)
                .ok_or_else(|| AuthError::UnknownNkey(key.clone()))?;
            entry.admits(key, presented.via)?;
            verify_signature(key, opts.sig.as_deref(), presented.nonce.unwrap_or(""))?;
            return Ok(entry.identity(key));
        }
        let user = opts.user.as_deref().ok_or(AuthError::MissingCredentials)?;
        let entry = self
            .users
            .get(user)
            .ok_or_else(|| AuthError::UnknownUser(user.to_string()))?;
        entry.admits(user, presented.via)?;
        let pass = opts.pass.as_deref().unwrap_or("");
        if secret_matches(&entry.password, pass) {
            Ok(entry.identity(user))
        } else {
            Err(AuthError::BadPassword(user.to_string()))
        }
    }

    /// Whether checking these credentials may take long (bcrypt).
    pub fn is_expensive(&self) -> bool {
        self.token.as_deref().is_some_and(is_bcrypt)
            || self.users.values().any(|u| is_bcrypt(&u.password))
    }
}

impl UserEntry {
    /// The user may connect this way (nats-server checks before the
    /// password, so a refused type says nothing about the password).
    fn admits(&self, name: &str, via: ConnectionType) -> Result<(), AuthError> {
        if self.connection_types.is_empty() || self.connection_types.iter().any(|t| t == via.name())
        {
            return Ok(());
        }
        Err(AuthError::ConnectionTypeNotAllowed {
            user: name.to_string(),
            via: via.name(),
        })
    }

    fn identity(&self, name: &str) -> Authenticated {
        Authenticated {
            user: Some(name.to_string()),
            permissions: self.permissions.clone(),
            account: self.account.clone(),
        }
    }
}

/// A fresh nonce for INFO: 11 random bytes, base64 as nats-server makes
/// them (15 characters).
pub fn new_nonce() -> String {
    use base64::Engine;
    let raw: [u8; 11] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The client signed `nonce` with the seed of `key`: the signature is
/// base64 (URL-safe without padding, or standard), as nats-server takes it.
fn verify_signature(key: &str, sig: Option<&str>, nonce: &str) -> Result<(), AuthError> {
    use base64::Engine;
    let sig = sig.ok_or_else(|| AuthError::MissingSignature(key.to_string()))?;
    let bad = || AuthError::BadSignature(key.to_string());
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(sig))
        .map_err(|_| bad())?;
    let public = nkeys::KeyPair::from_public_key(key).map_err(|_| bad())?;
    public.verify(nonce.as_bytes(), &raw).map_err(|_| bad())
}

fn is_bcrypt(s: &str) -> bool {
    s.starts_with("$2a$") || s.starts_with("$2b$") || s.starts_with("$2y$") || s.starts_with("$2x$")
}

/// Compare a configured secret (plain or bcrypt) with what the client sent.
fn secret_matches(configured: &str, given: &str) -> bool {
    if is_bcrypt(configured) {
        bcrypt::verify(given, configured).unwrap_or(false)
    } else {
        constant_time_eq(configured.as_bytes(), given.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UserConfig;

    impl Authenticator {
        fn authenticate_plain(&self, opts: &ConnectOptions) -> Result<Authenticated, AuthError> {
            self.authenticate_with(opts, None)
        }

        fn authenticate_with(
            &self,
            opts: &ConnectOptions,
            nonce: Option<&str>,
        ) -> Result<Authenticated, AuthError> {
            let presented = Presented {
                nonce,
                via: ConnectionType::Standard,
            };
            self.authenticate(opts, &presented)
        }
    }

    fn connect(user: Option<&str>, pass: Option<&str>, token: Option<&str>) -> ConnectOptions {
        ConnectOptions {
            user: user.map(Into::into),
            pass: pass.map(Into::into),
            auth_token: token.map(Into::into),
            ..ConnectOptions::default()
        }
    }

    #[test]
    fn users_plain_and_bcrypt() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let cfg = AuthConfig {
            users: vec![
                UserConfig {
                    user: "a".into(),
                    password: "pa".into(),
                    ..UserConfig::default()
                },
                UserConfig {
                    user: "b".into(),
                    password: hash,
                    ..UserConfig::default()
                },
            ],
            ..AuthConfig::default()
        };
        let auth = Authenticator::from_config(&cfg);
        assert!(auth.required());
        assert!(auth
            .authenticate_plain(&connect(Some("a"), Some("pa"), None))
            .is_ok());
        assert!(auth
            .authenticate_plain(&connect(Some("b"), Some("s3cret"), None))
            .is_ok());
        assert_eq!(
            auth.authenticate_plain(&connect(Some("b"), Some("nope"), None))
                .unwrap_err(),
            AuthError::BadPassword("b".into())
        );
        assert!(auth.authenticate_plain(&connect(None, None, None)).is_err());
        assert!(auth
            .authenticate_plain(&connect(Some("zz"), Some("pa"), None))
            .is_err());
    }

    #[test]
    fn token() {
        let cfg = AuthConfig {
            token: Some("t0k".into()),
            ..AuthConfig::default()
        };
        let auth = Authenticator::from_config(&cfg);
        assert!(auth
            .authenticate_plain(&connect(None, None, Some("t0k")))
            .is_ok());
        assert_eq!(
            auth.authenticate_plain(&connect(None, None, Some("x")))
                .unwrap_err(),
            AuthError::BadToken
        );
    }

    #[test]
    fn nkey_users_sign_the_nonce() {
        use base64::Engine;
        let kp = nkeys::KeyPair::new_user();
        let key = kp.public_key();
        let cfg = AuthConfig {
            users: vec![UserConfig {
                nkey: Some(key.clone()),
                ..UserConfig::default()
            }],
            ..AuthConfig::default()
        };
        let auth = Authenticator::from_config(&cfg);
        assert!(auth.required() && auth.uses_nonce());
        let nonce = new_nonce();
        assert_eq!(nonce.len(), 15);
        let signed = |sig: Option<String>| ConnectOptions {
            nkey: Some(key.clone()),
            sig,
            ..connect(None, None, None)
        };
        let sig = kp.sign(nonce.as_bytes()).unwrap();
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sig);
        let std = base64::engine::general_purpose::STANDARD.encode(&sig);
        let who = auth
            .authenticate_with(&signed(Some(url.clone())), Some(&nonce))
            .expect("a good signature");
        assert_eq!(who.user.as_deref(), Some(key.as_str()));
        assert!(auth
            .authenticate_with(&signed(Some(std)), Some(&nonce))
            .is_ok());
        let other = new_nonce();
        assert_eq!(
            auth.authenticate_with(&signed(Some(url)), Some(&other))
                .unwrap_err(),
            AuthError::BadSignature(key.clone())
        );
        assert_eq!(
            auth.authenticate_with(&signed(None), Some(&nonce))
                .unwrap_err(),
            AuthError::MissingSignature(key.clone())
        );
        let stranger = ConnectOptions {
            nkey: Some(nkeys::KeyPair::new_user().public_key()),
            ..connect(None, None, None)
        };
        assert!(matches!(
            auth.authenticate_with(&stranger, Some(&nonce)),
            Err(AuthError::UnknownNkey(_))
        ));
    }

    #[test]
    fn no_auth_user_stands_in_for_a_client_without_credentials() {
        let config = Config {
            auth: AuthConfig {
                users: vec![UserConfig {
                    user: "dev".into(),
                    password: "pw".into(),
                    ..UserConfig::default()
                }],
                ..AuthConfig::default()
            },
            no_auth_user: Some("dev".into()),
            ..Config::default()
        };
        let auth = Authenticator::for_server(&config);
        let who = auth.authenticate_plain(&connect(None, None, None)).unwrap();
        assert_eq!(who.user.as_deref(), Some("dev"));
        // Credentials given are still checked.
        assert!(auth
            .authenticate_plain(&connect(Some("dev"), Some("wrong"), None))
            .is_err());
    }
}
