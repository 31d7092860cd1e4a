//! Checking a CONNECT's credentials against the configured users and tokens.

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
}

struct UserEntry {
    password: String,
    permissions: Option<Arc<CompiledPermissions>>,
    account: Option<String>,
}

/// Who may connect, built once from the config (and rebuilt on reload).
#[derive(Default)]
pub struct Authenticator {
    users: HashMap<String, UserEntry>,
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
        if let Some(user) = &cfg.user {
            users.insert(
                user.clone(),
                UserEntry {
                    password: cfg.password.clone().unwrap_or_default(),
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
            users.insert(
                u.user.clone(),
                UserEntry {
                    password: u.password.clone(),
                    permissions,
                    account: u.account.clone(),
                },
            );
        }
        Authenticator {
            users,
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
                auth.users.insert(
                    u.user.clone(),
                    UserEntry {
                        password: u.password.clone(),
                        permissions: u
                            .permissions
                            .as_ref()
                            .map(|p| Arc::new(CompiledPermissions::new(p))),
                        account: Some(acc.name.clone()),
                    },
                );
            }
        }
        auth
    }

    /// True when clients must present credentials.
    pub fn required(&self) -> bool {
        !self.users.is_empty() || self.token.is_some()
    }

    /// Check the credentials in CONNECT. bcrypt hashes make this slow on
    /// purpose; callers run it off the async workers.
    pub fn authenticate(&self, opts: &ConnectOptions) -> Result<Authenticated, AuthError> {
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
        let no_credentials =
            opts.user.is_none() && opts.pass.is_none() && opts.auth_token.is_none();
        if self.anonymous_global && no_credentials {
            return Ok(Authenticated::default());
        }
        let user = opts.user.as_deref().ok_or(AuthError::MissingCredentials)?;
        let entry = self
            .users
            .get(user)
            .ok_or_else(|| AuthError::UnknownUser(user.to_string()))?;
        let pass = opts.pass.as_deref().unwrap_or("");
        if secret_matches(&entry.password, pass) {
            Ok(Authenticated {
                user: Some(user.to_string()),
                permissions: entry.permissions.clone(),
                account: entry.account.clone(),
            })
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
                    permissions: None,
                    account: None,
                },
                UserConfig {
                    user: "b".into(),
                    password: hash,
                    permissions: None,
                    account: None,
                },
            ],
            ..AuthConfig::default()
        };
        let auth = Authenticator::from_config(&cfg);
        assert!(auth.required());
        assert!(auth
            .authenticate(&connect(Some("a"), Some("pa"), None))
            .is_ok());
        assert!(auth
            .authenticate(&connect(Some("b"), Some("s3cret"), None))
            .is_ok());
        assert_eq!(
            auth.authenticate(&connect(Some("b"), Some("nope"), None))
                .unwrap_err(),
            AuthError::BadPassword("b".into())
        );
        assert!(auth.authenticate(&connect(None, None, None)).is_err());
        assert!(auth
            .authenticate(&connect(Some("zz"), Some("pa"), None))
            .is_err());
    }

    #[test]
    fn token() {
        let cfg = AuthConfig {
            token: Some("t0k".into()),
            ..AuthConfig::default()
        };
        let auth = Authenticator::from_config(&cfg);
        assert!(auth.authenticate(&connect(None, None, Some("t0k"))).is_ok());
        assert_eq!(
            auth.authenticate(&connect(None, None, Some("x")))
                .unwrap_err(),
            AuthError::BadToken
        );
    }
}
