//! The `authorization { ... }` block: single user, token, users list,
//! permissions, timeout — with nats-server's aliases (`pass`/`password`,
//! `pub`/`publish`/`import`, ...), its three ways of writing a permission
//! (one subject, a list, or `{allow, deny}`) and its consistency checks.
//! Users have a name and password or an nkey. Parts Tern lacks (auth
//! callout, `allow_responses`, connection types, proxies) are recorded as
//! unsupported.
//!
//! `default_permissions` is kept apart from the users it applies to, so the
//! auth layer can tell explicit permissions from inherited ones; nats-server
//! gives it to every user that has no `permissions` of its own.

use std::collections::HashSet;
use std::time::Duration;

use super::apply::{Applier, Field};
use super::error::ConfigError;
use super::model::{
    AuthConfig, Config, Permissions, ResponsePermission, SubjectPermission, UserConfig,
    GLOBAL_ACCOUNT,
};
use super::units;
use super::value::{Kind, Value};

/// nats-server warns about authorization timeouts above this.
const HIGH_AUTH_TIMEOUT: Duration = Duration::from_secs(60);

pub(super) fn authorization(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<(), ConfigError> {
    cx.config.auth = auth_block(cx, f)?;
    Ok(())
}

/// One `authorization { ... }` block, wherever it appears (top level,
/// `leafnodes`).
pub(super) fn auth_block(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<AuthConfig, ConfigError> {
    let table = f.table()?;
    let mut auth = AuthConfig::default();
    let mut users_array = false;
    for entry in &table.entries {
        let child = f.child(entry);
        let result = match entry.key.to_lowercase().as_str() {
            "user" | "username" => child.string().map(|s| auth.user = non_empty(s)),
            "pass" | "password" => child.string().map(|s| auth.password = non_empty(s)),
            "token" => child.string().map(|s| auth.token = non_empty(s)),
            "timeout" => timeout(cx, &child).map(|t| auth.timeout = t),
            "users" => {
                users_array = true;
                users(cx, &child).map(|u| auth.users = u)
            }
            "default_permission" | "default_permissions" | "permissions" => {
                permissions(cx, &child).map(|p| auth.default_permissions = Some(p))
            }
            "account" => child.string().map(|a| account(cx, a, &child)),
            "auth_callout" | "auth_hook" => {
                cx.unsupported("auth_callout", &child);
                Ok(())
            }
            "proxy_required" => child.bool().map(|on| {
                if on {
                    cx.unsupported("proxy_required", &child);
                }
            }),
            _ if entry.used_as_variable => Ok(()),
            _ => Err(child.unknown()),
        };
        if let Err(e) = result {
            cx.errors.push(e);
        }
    }

    if (auth.user.is_some() || auth.password.is_some()) && auth.token.is_some() {
        return Err(f.invalid("Cannot have a user/pass and token"));
    }
    if users_array && auth.user.is_some() {
        return Err(f.invalid("Can not have a single user/pass and a users array"));
    }
    if users_array && auth.token.is_some() {
        return Err(f.invalid("Can not have a token and a users array"));
    }
    let mut seen = HashSet::new();
    for user in &auth.users {
        if !seen.insert(user.id()) {
            return Err(f.invalid(user.duplicate_error()));
        }
    }
    if auth.password.is_some() && auth.user.is_none() {
        cx.warn(
            f,
            "a password without a user requires nothing; nats-server ignores it too".into(),
        );
    }
    Ok(auth)
}

/// Only the global account exists; naming it binds nothing new.
fn account(cx: &mut Applier<'_>, name: &str, f: &Field<'_>) {
    if name != GLOBAL_ACCOUNT {
        cx.unsupported("accounts", f);
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Seconds as an integer or float, or a duration string. `None` for 0.
fn timeout(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<Option<Duration>, ConfigError> {
    let secs = match &f.value.kind {
        Kind::Integer { value, .. } => *value as f64,
        Kind::Float(v) => *v,
        Kind::String(_) => f.go_duration()? as f64 / 1e9,
        _ => return Err(f.wrong_type("seconds or a duration string such as \"2s\"")),
    };
    let d = Duration::try_from_secs_f64(secs)
        .map_err(|_| f.invalid(format!("timeout of {secs} seconds is not a valid duration")))?;
    if d > HIGH_AUTH_TIMEOUT {
        cx.warn(
            f,
            format!(
                "timeout of {} is high, consider keeping it under 60 seconds. possibly caused by unquoted duration; use '1m' instead of 1m, for example",
                units::format_go_duration(d)
            ),
        );
    }
    Ok((!d.is_zero()).then_some(d))
}

pub(super) fn users(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<Vec<UserConfig>, ConfigError> {
    let mut users = Vec::new();
    for (i, item) in f.array()?.iter().enumerate() {
        let uf = f.index(i, item);
        match user(cx, &uf) {
            Ok(u) => users.push(u),
            Err(e) => cx.errors.push(e),
        }
    }
    Ok(users)
}

/// One entry of `users` (a name and password, or an nkey).
fn user(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<UserConfig, ConfigError> {
    let table = f
        .table()
        .map_err(|_| f.wrong_type("a map with user and password"))?;
    let mut user = UserConfig::default();
    let mut nkey = None;
    for entry in &table.entries {
        let child = f.child(entry);
        let result = match entry.key.to_lowercase().as_str() {
            "nkey" => child.string().map(|s| nkey = Some(s.to_string())),
            "user" | "username" => child.string().map(|s| user.user = s.to_string()),
            "pass" | "password" => child.string().map(|s| user.password = s.to_string()),
            "account" => child.string().map(|a| account(cx, a, &child)),
            "permission" | "permissions" | "authorization" => {
                permissions(cx, &child).map(|p| user.permissions = Some(p))
            }
            "allowed_connection_types" | "connection_types" | "clients" => {
                connection_types(&child).map(|t| user.allowed_connection_types = t)
            }
            "proxy_required" => child.bool().map(|on| {
                if on {
                    cx.unsupported("proxy_required", &child);
                }
            }),
            _ if entry.used_as_variable => Ok(()),
            _ => Err(child.unknown()),
        };
        if let Err(e) = result {
            cx.errors.push(e);
        }
    }
    match nkey {
        Some(_) if !user.user.is_empty() || !user.password.is_empty() => {
            Err(f.invalid("Nkey users do not take usernames or passwords"))
        }
        Some(key) if !is_public_user_key(&key) => {
            Err(f.invalid(format!("Not a valid public nkey for a user: {key:?}")))
        }
        Some(key) => {
            user.nkey = Some(key);
            Ok(user)
        }
        None if user.user.is_empty() => Err(f.invalid("User entry requires a user")),
        None => Ok(user),
    }
}

pub(super) fn permissions(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<Permissions, ConfigError> {
    let table = f
        .table()
        .map_err(|_| f.wrong_type("a map of publish/subscribe permissions"))?;
    let mut p = Permissions::default();
    for entry in &table.entries {
        let child = f.child(entry);
        let result = match entry.key.to_lowercase().as_str() {
            "pub" | "publish" | "import" => {
                subject_permission(&child, false).map(|s| p.publish = s)
            }
            "sub" | "subscribe" | "export" => {
                subject_permission(&child, true).map(|s| p.subscribe = s)
            }
            "publish_allow_responses" | "allow_responses" => {
                allow_responses(&child).map(|r| p.responses = r)
            }
            _ if entry.used_as_variable => Ok(()),
            _ => Err(child.unknown()),
        };
        if let Err(e) = result {
            cx.errors.push(e);
        }
    }
    // With responses allowed, nats-server turns the implicit "publish
    // anything" into "publish only replies".
    if p.responses.is_some() && p.publish.allow.is_none() {
        p.publish.allow = Some(Vec::new());
    }
    Ok(p)
}

/// One subject, a list of them (both meaning "allow"), or `{allow, deny}`.
fn subject_permission(f: &Field<'_>, allow_queue: bool) -> Result<SubjectPermission, ConfigError> {
    let Kind::Table(table) = &f.value.kind else {
        let allow = subjects(f, allow_queue)?;
        return Ok(SubjectPermission {
            allow: Some(allow),
            deny: Vec::new(),
        });
    };
    let mut perm = SubjectPermission::default();
    for entry in &table.entries {
        let child = f.child(entry);
        match entry.key.to_lowercase().as_str() {
            "allow" => perm.allow = Some(subjects(&child, allow_queue)?),
            "deny" => perm.deny = subjects(&child, allow_queue)?,
            _ if entry.used_as_variable => {}
            _ => {
                return Err(child.invalid(format!(
                    "Unknown field name {:?} parsing subject permissions, only 'allow' or 'deny' are permitted",
                    entry.key
                )))
            }
        }
    }
    Ok(perm)
}

fn subjects(f: &Field<'_>, allow_queue: bool) -> Result<Vec<String>, ConfigError> {
    let list = string_list(f, "subjects")?;
    for subject in &list {
        check_subject(subject, allow_queue).map_err(|e| f.invalid(e))?;
    }
    Ok(list)
}

/// A string or an array of strings.
fn string_list(f: &Field<'_>, what: &'static str) -> Result<Vec<String>, ConfigError> {
    let expected = if what == "subjects" {
        "a subject or an array of subjects"
    } else {
        "a string or an array of strings"
    };
    match &f.value.kind {
        Kind::String(s) => Ok(vec![s.clone()]),
        Kind::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item): (usize, &Value)| match &item.kind {
                Kind::String(s) => Ok(s.clone()),
                _ => Err(f.index(i, item).wrong_type("a string")),
            })
            .collect(),
        _ => Err(f.wrong_type(expected)),
    }
}

/// `true`/`false`, or a map of `max` messages and `expires` duration.
/// `allow_responses`: a boolean or `{ max, expires }`; 0 keeps the
/// default, a negative value means no limit (as nats-server reads them).
fn allow_responses(f: &Field<'_>) -> Result<Option<ResponsePermission>, ConfigError> {
    let mut r = ResponsePermission::default();
    let table = match &f.value.kind {
        Kind::Bool(on) => return Ok(on.then_some(r)),
        Kind::Table(table) => table,
        _ => {
            return Err(f.invalid("error parsing response permissions, expected a boolean or a map"))
        }
    };
    for entry in &table.entries {
        let child = f.child(entry);
        match entry.key.to_lowercase().as_str() {
            "max" | "max_msgs" | "max_messages" | "max_responses" => match child.int()? {
                0 => {}
                n if n < 0 => r.max = None,
                n => r.max = Some(u32::try_from(n).unwrap_or(u32::MAX)),
            },
            "expires" | "expiration" | "ttl" => {
                if !matches!(child.value.kind, Kind::String(_)) {
                    return Err(child.invalid("error parsing expires, not a duration string"));
                }
                match child.go_duration()? {
                    0 => {}
                    n if n < 0 => r.expires = None,
                    n => r.expires = Some(Duration::from_nanos(n as u64)),
                }
            }
            _ if entry.used_as_variable => {}
            _ => {
                return Err(
                    child.invalid(format!("Unknown field {:?} parsing permissions", entry.key))
                )
            }
        }
    }
    Ok(Some(r))
}

/// nats-server's subject check for permissions: non-empty tokens, no
/// whitespace, `>` only last. Subscribe permissions may name a queue group
/// as `subject queue`.
pub(super) fn check_subject(subject: &str, allow_queue: bool) -> Result<(), String> {
    if valid_subject(subject) {
        return Ok(());
    }
    let parts: Vec<&str> = subject.split_whitespace().collect();
    match parts.as_slice() {
        [subj, queue] if allow_queue => {
            if !valid_subject(subj) {
                Err(format!("subject {subj:?} is not a valid subject"))
            } else if !valid_subject(queue) {
                Err(format!("queue {queue:?} is not a valid queue"))
            } else {
                Ok(())
            }
        }
        _ => Err(format!("subject {subject:?} is not a valid subject")),
    }
}

fn valid_subject(subject: &str) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut after_full_wildcard = false;
    for token in subject.split('.') {
        if token.is_empty() || after_full_wildcard {
            return false;
        }
        if token.contains([' ', '\t', '\n', '\r', '\u{c}']) {
            return false;
        }
        after_full_wildcard = token == ">";
    }
    true
}

/// The connection types nats-server knows, as `allowed_connection_types`
/// names them.
const CONNECTION_TYPES: &[&str] = &[
    "STANDARD",
    "WEBSOCKET",
    "LEAFNODE",
    "LEAFNODE_WS",
    "MQTT",
    "MQTT_WS",
    "IN_PROCESS",
];

/// `allowed_connection_types`, upper-cased, with nats-server's error for
/// a name it does not know.
fn connection_types(f: &Field<'_>) -> Result<Vec<String>, ConfigError> {
    let names = string_list(f, "connection types")?;
    names
        .into_iter()
        .map(|name| {
            let upper = name.to_uppercase();
            if CONNECTION_TYPES.contains(&upper.as_str()) {
                Ok(upper)
            } else {
                Err(f.invalid(format!("unknown connection type {name:?}")))
            }
        })
        .collect()
}

/// A user's public nkey: `U` and a valid encoding (nats-server's
/// `IsValidPublicUserKey`).
fn is_public_user_key(key: &str) -> bool {
    key.starts_with('U') && nkeys::KeyPair::from_public_key(key).is_ok()
}

/// nats-server's check of `no_auth_user`: it must name a user (or nkey) of
/// the authorization block or of an account.
pub(super) fn check_no_auth_user(config: &Config, name: &str) -> Result<(), String> {
    let all = || {
        config
            .auth
            .users
            .iter()
            .chain(config.accounts.iter().flat_map(|a| a.users.iter()))
    };
    if all().next().is_none() {
        return Err(format!(
            "no_auth_user: {name:?} present, but users/nkeys are not defined"
        ));
    }
    if all().any(|u| u.id() == name) {
        return Ok(());
    }
    Err(format!(
        "no_auth_user: {name:?} not present as user or nkey in authorization block or account configuration"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_follow_nats_rules() {
        for ok in [
            "foo", "foo.bar", "foo.*", "foo.>", ">", "*", "_INBOX.>", "a.*.c",
        ] {
            assert!(check_subject(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "foo.",
            ".foo",
            "foo..bar",
            "foo bar",
            "foo.>.bar",
            "a\tb",
        ] {
            assert!(check_subject(bad, false).is_err(), "{bad:?}");
        }
        assert!(check_subject("foo.* workers", true).is_ok());
        assert_eq!(
            check_subject("foo bar", false),
            Err("subject \"foo bar\" is not a valid subject".to_string())
        );
        assert_eq!(
            check_subject("foo. q", true),
            Err("subject \"foo.\" is not a valid subject".to_string())
        );
        assert_eq!(
            check_subject("foo q.", true),
            Err("queue \"q.\" is not a valid queue".to_string())
        );
    }
}
