//! The `plugins` list (and `plugin_cache_dir`): one entry per WebAssembly
//! plugin, the same keys in .conf and TOML:
//!
//! ```text
//! plugins: [
//!   { path: "iot-rewriter.wasm", subjects: ["devices.>"], on_failure: pass,
//!     timeout: "5ms", max_memory: 16MB, config: { site: north } }
//! ]
//! ```

use std::path::{Path, PathBuf};

use super::apply::{Applier, Field};
use super::error::ConfigError;
use super::model::*;
use super::units;
use super::value::{Kind, Table, Value};

/// `plugins: [ {...}, ... ]`.
pub(super) fn plugins(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<(), ConfigError> {
    for (i, item) in f.array()?.iter().enumerate() {
        let entry = f.index(i, item);
        match plugin(cx, &entry) {
            Ok(p) => {
                if cx.config.plugins.iter().any(|q| q.name == p.name) {
                    cx.errors.push(entry.invalid(format!(
                        "two plugins are named {:?}; give one a different `name`",
                        p.name
                    )));
                } else {
                    cx.config.plugins.push(p);
                }
            }
            Err(e) => cx.errors.push(e),
        }
    }
    Ok(())
}

/// `plugin_cache_dir: "/var/cache/tern"`.
pub(super) fn cache_dir(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<(), ConfigError> {
    let dir = f.string()?;
    cx.config.plugin_cache_dir = (!dir.is_empty()).then(|| PathBuf::from(dir));
    Ok(())
}

fn plugin(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<PluginConfig, ConfigError> {
    let table = f.table()?;
    let mut p = PluginConfig {
        name: String::new(),
        path: PathBuf::new(),
        subjects: Vec::new(),
        streams: Vec::new(),
        config: Vec::new(),
        max_memory: DEFAULT_PLUGIN_MAX_MEMORY,
        timeout: DEFAULT_PLUGIN_TIMEOUT,
        on_failure: None,
        required: true,
        pool_size: DEFAULT_PLUGIN_POOL_SIZE,
        quarantine_after: DEFAULT_PLUGIN_QUARANTINE_AFTER,
        origin: f.origin(),
    };
    for entry in &table.entries {
        let c = f.child(entry);
        let result = match entry.key.to_lowercase().as_str() {
            "name" => c.string().map(|s| p.name = s.to_string()),
            "path" | "file" => c.string().map(|s| p.path = relative_to_config(&c, s)),
            "subjects" | "subject" => c.strings().map(|v| p.subjects = v),
            "streams" | "stream" => c.strings().map(|v| p.streams = v),
            "config" => c.table().map(|t| flatten(t, "", &mut p.config)),
            "max_memory" | "max_mem" => positive(&c, c.size(cx.dialect)?).map(|v| p.max_memory = v),
            "timeout" | "deadline" => c.go_duration().and_then(|n| {
                units::nanos_to_duration(n)
                    .filter(|d| !d.is_zero())
                    .map(|d| p.timeout = d)
                    .ok_or_else(|| c.invalid("must be positive"))
            }),
            "on_failure" | "failure_policy" => policy(&c).map(|v| p.on_failure = Some(v)),
            "required" => c.bool().map(|b| p.required = b),
            "optional" => c.bool().map(|b| p.required = !b),
            "pool_size" | "instances" => positive(&c, c.int()?).map(|v| p.pool_size = v),
            "quarantine_after" => positive(&c, c.int()?).and_then(|v| {
                u32::try_from(v)
                    .map(|v| p.quarantine_after = v)
                    .map_err(|_| c.invalid("too large"))
            }),
            _ if entry.used_as_variable => Ok(()),
            _ => Err(c.unknown()),
        };
        if let Err(e) = result {
            cx.errors.push(e);
        }
    }
    if p.path.as_os_str().is_empty() {
        return Err(f.invalid("a plugin needs a `path` to its .wasm component"));
    }
    if p.name.is_empty() {
        p.name = p
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("plugin-{}", cx.config.plugins.len()));
    }
    Ok(p)
}

/// Relative plugin paths are relative to the file that names them, so a
/// config and its plugins can move together.
fn relative_to_config(f: &Field<'_>, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    match Path::new(&*f.value.pos.file).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

fn policy(f: &Field<'_>) -> Result<FailurePolicy, ConfigError> {
    match f.string()?.to_lowercase().as_str() {
        "drop" => Ok(FailurePolicy::Drop),
        "pass" | "pass_through" | "passthrough" => Ok(FailurePolicy::Pass),
        "deny" => Ok(FailurePolicy::Deny),
        other => Err(f.invalid(format!(
            "unknown failure policy {other:?}; expected drop, pass or deny"
        ))),
    }
}

fn positive(f: &Field<'_>, v: i64) -> Result<usize, ConfigError> {
    usize::try_from(v)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| f.invalid(format!("{v} must be a positive number")))
}

/// The plugin's own table as `(dotted.key, text)` pairs, in file order.
fn flatten(table: &Table, prefix: &str, out: &mut Vec<(String, String)>) {
    for entry in &table.entries {
        let key = join(prefix, &entry.key);
        flatten_value(&entry.value, key, out);
    }
}

fn flatten_value(value: &Value, key: String, out: &mut Vec<(String, String)>) {
    match &value.kind {
        Kind::Table(t) => flatten(t, &key, out),
        Kind::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten_value(item, join(&key, &i.to_string()), out);
            }
        }
        Kind::String(s) => out.push((key, s.clone())),
        Kind::Integer { value, .. } => out.push((key, value.to_string())),
        Kind::Float(x) => out.push((key, x.to_string())),
        Kind::Bool(b) => out.push((key, b.to_string())),
        Kind::Datetime(d) => out.push((key, d.clone())),
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}
