//! The `accounts { ... }` block and `system_account`, with nats-server's
//! keys and checks: users are unique across all accounts, an account's
//! `default_permissions` go to its users without permissions of their own,
//! an export may name the accounts allowed to import it, and an import
//! must be covered by an export of the other account that allows it.
//! An account's `mappings` are read by [`super::apply_mappings`]. Account
//! parts Tern lacks (account nkeys, limits, message tracing) are recorded
//! as unsupported.

use std::collections::HashSet;
use std::time::Duration;

use super::apply::{invalid_at, Applier, Field};
use super::apply_auth::{check_subject, permissions, users};
use super::error::ConfigError;
use super::model::{
    AccountConfig, Config, ExportConfig, ImportConfig, Origin, ResponseType, ShareKind,
    DEFAULT_SYSTEM_ACCOUNT, GLOBAL_ACCOUNT,
};
use super::value::Kind;

pub(super) fn accounts(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    match &f.value.kind {
        // `accounts: [A, B]`: accounts with nothing in them yet.
        Kind::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let nf = f.index(i, item);
                let name = nf.string()?;
                check_name(&nf, name, &mut seen)?;
                cx.config.accounts.push(AccountConfig {
                    name: name.to_string(),
                    origin: nf.origin(),
                    ..AccountConfig::default()
                });
            }
        }
        Kind::Table(table) => {
            for entry in &table.entries {
                if entry.used_as_variable {
                    continue;
                }
                let af = f.child(entry);
                if let Err(e) = check_name(&af, &entry.key, &mut seen) {
                    cx.errors.push(e);
                    continue;
                }
                match account(cx, &af, &entry.key) {
                    Ok(acc) => cx.config.accounts.push(acc),
                    Err(e) => cx.errors.push(e),
                }
            }
        }
        _ => return Err(f.wrong_type("a map of accounts or an array of account names")),
    }
    Ok(())
}

fn check_name(f: &Field<'_>, name: &str, seen: &mut HashSet<String>) -> Result<(), ConfigError> {
    if name == GLOBAL_ACCOUNT {
        return Err(f.invalid(format!("{name:?} is a Reserved Account")));
    }
    if !seen.insert(name.to_string()) {
        return Err(f.invalid(format!("Duplicate Account Entry: {name}")));
    }
    Ok(())
}

fn account(cx: &mut Applier<'_>, f: &Field<'_>, name: &str) -> Result<AccountConfig, ConfigError> {
    let table = f
        .table()
        .map_err(|_| f.wrong_type("a map (Expected map entries for accounts)"))?;
    let mut acc = AccountConfig {
        name: name.to_string(),
        origin: f.origin(),
        ..AccountConfig::default()
    };
    let mut default_permissions = None;
    for entry in &table.entries {
        let child = f.child(entry);
        let result = match entry.key.to_lowercase().as_str() {
            "users" => users(cx, &child).map(|u| acc.users = u),
            "exports" => list(cx, &child, export).map(|e| acc.exports = e),
            "imports" => list(cx, &child, import).map(|i| acc.imports = i),
            "jetstream" => jetstream_enabled(&child).map(|on| acc.jetstream = on),
            "default_permissions" => permissions(cx, &child).map(|p| default_permissions = Some(p)),
            "nkey" => {
                cx.unsupported("account nkeys", &child);
                Ok(())
            }
            "mappings" | "maps" => {
                acc.mappings = super::apply_mappings::mappings(cx, &child);
                Ok(())
            }
            "limits" => {
                cx.unsupported("account limits", &child);
                Ok(())
            }
            "msg_trace" | "trace_dest" => {
                cx.unsupported("message tracing", &child);
                Ok(())
            }
            _ if entry.used_as_variable => Ok(()),
            _ => Err(child.unknown()),
        };
        if let Err(e) = result {
            cx.errors.push(e);
        }
    }
    for user in &mut acc.users {
        user.account = Some(name.to_string());
        if user.permissions.is_none() {
            user.permissions = default_permissions.clone();
        }
    }
    Ok(acc)
}

/// Each entry of an `exports`/`imports` array, errors collected.
fn list<T>(
    cx: &mut Applier<'_>,
    f: &Field<'_>,
    one: fn(&Field<'_>) -> Result<T, ConfigError>,
) -> Result<Vec<T>, ConfigError> {
    let mut out = Vec::new();
    for (i, item) in f.array()?.iter().enumerate() {
        match one(&f.index(i, item)) {
            Ok(v) => out.push(v),
            Err(e) => cx.errors.push(e),
        }
    }
    Ok(out)
}

/// `enabled`/`disabled`, a boolean, or a limits map (which enables it).
fn jetstream_enabled(f: &Field<'_>) -> Result<bool, ConfigError> {
    match &f.value.kind {
        Kind::Bool(on) => Ok(*on),
        Kind::String(s) => match s.to_lowercase().as_str() {
            "enabled" | "enable" | "true" => Ok(true),
            "disabled" | "disable" | "false" => Ok(false),
            other => Err(f.invalid(format!(
                "Expected 'enabled' or 'disabled' for string value, got '{other}'"
            ))),
        },
        Kind::Table(_) => Ok(true),
        _ => Err(f.wrong_type("enabled, disabled or a map of limits")),
    }
}

fn export(f: &Field<'_>) -> Result<ExportConfig, ConfigError> {
    let table = f
        .table()
        .map_err(|_| f.wrong_type("a map with a stream or service entry"))?;
    let mut exp = ExportConfig {
        origin: f.origin(),
        ..ExportConfig::default()
    };
    let mut kind = None;
    let mut response = None;
    for entry in &table.entries {
        let child = f.child(entry);
        match entry.key.to_lowercase().as_str() {
            key @ ("stream" | "service") => {
                seen_kind(&child, key, &mut kind)?;
                exp.subject = subject(&child)?;
            }
            "response" | "response_type" => {
                response = Some(match child.string()?.to_lowercase().as_str() {
                    "single" | "singleton" => ResponseType::Singleton,
                    "stream" => ResponseType::Stream,
                    "chunk" | "chunked" => ResponseType::Chunked,
                    other => return Err(child.invalid(format!("Unknown response type: {other:?}"))),
                });
            }
            "threshold" | "response_threshold" | "response_max_time" | "response_time" => {
                let nanos = child.go_duration()?;
                exp.threshold = u64::try_from(nanos).ok().map(Duration::from_nanos);
            }
            "accounts" => exp.accounts = Some(child.strings()?),
            "latency" => return Err(child.invalid("service latency tracking is not supported yet")),
            "account_token_position" | "allow_trace" => {
                return Err(child.invalid(format!("{} is not supported yet", entry.key)))
            }
            _ if entry.used_as_variable => {}
            _ => return Err(child.unknown()),
        }
    }
    exp.kind = kind.ok_or_else(|| f.invalid("export needs a stream or a service subject"))?;
    if let Some(r) = response {
        if exp.kind != ShareKind::Service {
            return Err(f.invalid("Detected response directive on non-service"));
        }
        exp.response = r;
    }
    if exp.threshold.is_some() && exp.kind != ShareKind::Service {
        return Err(f.invalid("Detected response directive on non-service"));
    }
    Ok(exp)
}

fn import(f: &Field<'_>) -> Result<ImportConfig, ConfigError> {
    let table = f
        .table()
        .map_err(|_| f.wrong_type("a map with a stream or service entry"))?;
    let mut imp = ImportConfig {
        origin: f.origin(),
        ..ImportConfig::default()
    };
    let mut kind = None;
    for entry in &table.entries {
        let child = f.child(entry);
        match entry.key.to_lowercase().as_str() {
            key @ ("stream" | "service") => {
                seen_kind(&child, key, &mut kind)?;
                let (account, subject) = source(&child)?;
                imp.account = account;
                imp.subject = subject;
            }
            "prefix" => imp.prefix = Some(subject(&child)?),
            "to" => imp.to = Some(subject(&child)?),
            "share" | "allow_trace" => {
                child.bool()?;
            }
            _ if entry.used_as_variable => {}
            _ => return Err(child.unknown()),
        }
    }
    imp.kind = kind.ok_or_else(|| f.invalid("import needs a stream or a service entry"))?;
    if imp.prefix.is_some() {
        if imp.kind == ShareKind::Service {
            return Err(f.invalid("Service import can not have a 'prefix' property"));
        }
        if imp.to.is_some() {
            return Err(f.invalid("Stream import can not have a 'prefix' and a 'to' property"));
        }
    }
    Ok(imp)
}

/// Note the `stream`/`service` key of an export or import; an entry has
/// one kind.
fn seen_kind(f: &Field<'_>, key: &str, kind: &mut Option<ShareKind>) -> Result<(), ConfigError> {
    let this = if key == "stream" {
        ShareKind::Stream
    } else {
        ShareKind::Service
    };
    if let Some(other) = kind.filter(|k| *k != this) {
        return Err(f.invalid(format!(
            "Detected {key} but already saw a {}",
            other.as_str()
        )));
    }
    *kind = Some(this);
    Ok(())
}

/// `{account: NAME, subject: SUBJECT}` of an import.
fn source(f: &Field<'_>) -> Result<(String, String), ConfigError> {
    let table = f
        .table()
        .map_err(|_| f.wrong_type("an account map (Stream entry should be an account map)"))?;
    let (mut account, mut subj) = (None, None);
    for entry in &table.entries {
        let child = f.child(entry);
        match entry.key.to_lowercase().as_str() {
            "account" => account = Some(child.string()?.to_string()),
            "subject" => subj = Some(subject(&child)?),
            _ if entry.used_as_variable => {}
            _ => return Err(child.unknown()),
        }
    }
    match (account, subj) {
        (Some(a), Some(s)) if !a.is_empty() => Ok((a, s)),
        _ => Err(f.invalid("Expect an account name and a subject")),
    }
}

fn subject(f: &Field<'_>) -> Result<String, ConfigError> {
    let s = f.string()?;
    check_subject(s, false).map_err(|e| f.invalid(e))?;
    Ok(s.to_string())
}

/// The checks across accounts, made once the whole file is read: unique
/// users, exports naming known accounts, imports covered by an export that
/// allows them, and a known system account.
pub(super) fn check(config: &Config, system_account_at: Option<&Origin>) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let names: HashSet<&str> = config.accounts.iter().map(|a| a.name.as_str()).collect();
    let mut users: HashSet<&str> = config.auth.users.iter().map(|u| u.id()).collect();
    if let Some(u) = &config.auth.user {
        users.insert(u);
    }
    for acc in &config.accounts {
        if !acc.users.is_empty() {
            if config.auth.user.is_some() {
                errors.push(invalid_at(
                    acc.origin.clone(),
                    "Can not have a single user/pass and accounts".into(),
                ));
            }
            if config.auth.token.is_some() {
                errors.push(invalid_at(
                    acc.origin.clone(),
                    "Can not have a token and accounts".into(),
                ));
            }
        }
        for u in &acc.users {
            if !users.insert(u.id()) {
                errors.push(invalid_at(acc.origin.clone(), u.duplicate_error()));
            }
        }
        for exp in &acc.exports {
            for name in exp.accounts.iter().flatten() {
                if !names.contains(name.as_str()) {
                    errors.push(invalid_at(
                        exp.origin.clone(),
                        format!(
                            "{name:?} account not defined for {} export",
                            exp.kind.as_str()
                        ),
                    ));
                }
            }
        }
        for imp in &acc.imports {
            if let Err(reason) = check_import(config, &acc.name, imp) {
                errors.push(invalid_at(imp.origin.clone(), reason));
            }
        }
    }
    if let (Some(name), Some(at)) = (&config.system_account, system_account_at) {
        if name != DEFAULT_SYSTEM_ACCOUNT && !names.contains(name.as_str()) {
            errors.push(invalid_at(
                at.clone(),
                format!("system account {name:?} is not defined in accounts"),
            ));
        }
    }
    errors
}

fn check_import(config: &Config, importer: &str, imp: &ImportConfig) -> Result<(), String> {
    let word = imp.kind.as_str();
    let exporter = config
        .accounts
        .iter()
        .find(|a| a.name == imp.account)
        .ok_or_else(|| format!("{:?} account not defined for {word} import", imp.account))?;
    if exporter.export_for(imp, importer).is_none() {
        return Err(format!(
            "Error adding {word} import {:?}: {word} import not authorized",
            imp.subject
        ));
    }
    if let Some(to) = &imp.to {
        crate::account::SubjectMap::import(imp, to)
            .map_err(|e| format!("Error adding {word} import {:?}: {e}", imp.subject))?;
    }
    Ok(())
}

/// Does the filter `outer` match every subject `inner` matches?
pub(super) fn covers(outer: &str, inner: &str) -> bool {
    let mut inner_tokens = inner.split('.');
    for o in outer.split('.') {
        match (o, inner_tokens.next()) {
            (">", Some(_)) => return true,
            (_, None) => return false,
            ("*", Some(i)) if i != ">" => {}
            (o, Some(i)) if o == i => {}
            _ => return false,
        }
    }
    inner_tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn export_filters_cover_imports() {
        assert!(covers(">", "a.b"));
        assert!(covers("orders.*", "orders.*"));
        assert!(covers("orders.*", "orders.new"));
        assert!(covers("orders.>", "orders.a.b"));
        assert!(covers("a.*.c", "a.b.c"));
        assert!(!covers("orders.*", "orders.>"));
        assert!(!covers("orders.new", "orders.*"));
        assert!(!covers("a.b", "a.b.c"));
        assert!(!covers("a.b.c", "a.b"));
    }
}
