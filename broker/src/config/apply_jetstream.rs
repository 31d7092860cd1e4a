//! The `jetstream` key (a boolean, `"enabled"`/`"disabled"`, or a block
//! with `store_dir`, `max_memory_store`, `max_file_store`, `sync_interval`,
//! `enabled`) and the
//! top-level `store_dir`, with nats-server's aliases. Block keys of features
//! Tern's JetStream lacks (domain, encryption, clustering tunables, ...)
//! are recorded as unsupported.

use std::path::PathBuf;

use super::apply::{Applier, Field};
use super::error::ConfigError;
use super::value::Kind;

/// Block keys nats-server knows that Tern does not implement.
const UNSUPPORTED_KEYS: &[&str] = &[
    "domain",
    "key",
    "ek",
    "encryption_key",
    "prev_key",
    "prev_ek",
    "prev_encryption_key",
    "cipher",
    "extension_hint",
    "limits",
    "tpm",
    "unique_tag",
    "max_outstanding_catchup",
    "max_buffered_size",
    "max_buffered_msgs",
    "request_queue_limit",
    "info_queue_limit",
    "meta_compact",
    "meta_compact_size",
    "meta_compact_sync",
    "max_concurrent_io",
];

/// `jetstream: ...` at the top level.
pub(super) fn jetstream(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<(), ConfigError> {
    match &f.value.kind {
        Kind::Bool(on) => cx.config.jetstream.enabled = *on,
        Kind::String(s) => {
            cx.config.jetstream.enabled = match s.to_lowercase().as_str() {
                "enabled" | "enable" => true,
                "disabled" | "disable" => false,
                _ => {
                    return Err(f.invalid(format!(
                        "Expected 'enabled' or 'disabled' for string value, got '{s}'"
                    )))
                }
            }
        }
        Kind::Table(table) => {
            let mut enabled = true;
            for entry in &table.entries {
                let child = f.child(entry);
                let key = entry.key.to_lowercase();
                let result = match key.as_str() {
                    "store" | "store_dir" | "storedir" => child
                        .string()
                        .map(|s| cx.config.jetstream.store_dir = store_dir(s)),
                    "max_memory_store" | "max_mem_store" | "max_mem" => child
                        .size(cx.dialect)
                        .map(|v| cx.config.jetstream.max_memory_store = limit(v)),
                    "max_file_store" | "max_file" => child
                        .size(cx.dialect)
                        .map(|v| cx.config.jetstream.max_file_store = limit(v)),
                    "enable" | "enabled" => child.bool().map(|on| enabled = on),
                    "sync" | "sync_interval" => sync_interval(cx, &child),
                    "strict" => child.bool().map(|on| cx.config.jetstream.lenient = !on),
                    k if UNSUPPORTED_KEYS.contains(&k) => {
                        cx.unsupported(&format!("jetstream {k}"), &child);
                        Ok(())
                    }
                    _ if entry.used_as_variable => Ok(()),
                    _ => Err(child.unknown()),
                };
                if let Err(e) = result {
                    cx.errors.push(e);
                }
            }
            cx.config.jetstream.enabled = enabled;
        }
        _ => return Err(f.wrong_type("a boolean, \"enabled\"/\"disabled\" or a map")),
    }
    Ok(())
}

/// `sync_interval: always` fsyncs every write group; a duration sets how
/// often journaled writes are fsync'd (nats-server's option).
fn sync_interval(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<(), ConfigError> {
    if let Kind::String(s) = &f.value.kind {
        if s.eq_ignore_ascii_case("always") {
            cx.config.jetstream.sync_always = true;
            return Ok(());
        }
    }
    let nanos = f.go_duration()?;
    let d = super::units::nanos_to_duration(nanos)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| f.invalid("must be a positive duration or \"always\""))?;
    cx.config.jetstream.sync_interval = Some(d);
    Ok(())
}

/// Top-level `store_dir`: only where files go; JetStream stays off unless
/// enabled.
pub(super) fn top_level_store_dir(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<(), ConfigError> {
    cx.config.jetstream.store_dir = store_dir(f.string()?);
    Ok(())
}

pub(super) fn store_dir(s: &str) -> Option<PathBuf> {
    (!s.is_empty()).then(|| PathBuf::from(s))
}

/// nats-server reads 0 or a negative limit as "no limit".
fn limit(v: i64) -> Option<u64> {
    u64::try_from(v).ok().filter(|&v| v > 0)
}
