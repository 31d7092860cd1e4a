//! Configs for brokers with plugins (Tern only: nats-server has none).

use anyhow::Result;
use tern_tests::{plugin_cache_dir, plugin_component};

/// One `plugins` entry in .conf syntax: `extra` is the rest of the map
/// (`subjects: [...]`, `config: {...}`, ...). Unless `extra` sets one, the
/// call deadline is 500 ms: deadlines are wall-clock time, and a test
/// machine busy with parallel tests can stall a well-behaved call for more
/// than the 5 ms default. Tests about deadlines set their own.
pub fn plugin_entry(component: &str, extra: &str) -> Result<String> {
    let path = plugin_component(component)?;
    let timeout = if extra.contains("timeout") {
        ""
    } else {
        "timeout: \"500ms\", "
    };
    Ok(format!(
        "  {{ path: \"{}\", {timeout}{extra} }}\n",
        path.display()
    ))
}

/// A config with these `plugins` entries and `rest` (other settings).
pub fn plugins_config(entries: &[String], rest: &str) -> String {
    format!(
        "plugin_cache_dir: \"{}\"\nplugins: [\n{}]\n{rest}\n",
        plugin_cache_dir().display(),
        entries.concat()
    )
}
