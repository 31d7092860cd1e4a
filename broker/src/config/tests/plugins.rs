//! The `plugins` list: the same entries in .conf and TOML, defaults, the
//! plugin's own config table flattened, and errors that name the key.

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::config::{FailurePolicy, DEFAULT_PLUGIN_MAX_MEMORY};

#[test]
fn conf_and_toml_give_the_same_plugins() {
    let c = conf(
        r#"
plugin_cache_dir: "/var/cache/tern"
plugins: [
  {
    name: iot
    path: "plugins/iot.wasm"
    subjects: ["devices.>", "sensors.*"]
    timeout: "3ms"
    max_memory: 8MB
    on_failure: pass
    pool_size: 4
    config: {
      site: north
      sites: { d1: south }
      # The trailing comma sidesteps a .conf lexer bug outside this
      # feature: an integer right before `]` (`[7, 8]`) is misread.
      ids: [7, 8, ]
      enabled: true
    }
  }
  { path: "/abs/tenant.wasm", required: false }
]
"#,
    );
    let t = toml(
        r#"
plugin_cache_dir = "/var/cache/tern"

[[plugins]]
name = "iot"
path = "plugins/iot.wasm"
subjects = ["devices.>", "sensors.*"]
timeout = "3ms"
max_memory = "8MB"
on_failure = "pass"
pool_size = 4
[plugins.config]
site = "north"
sites = { d1 = "south" }
ids = [7, 8]
enabled = true

[[plugins]]
path = "/abs/tenant.wasm"
required = false
"#,
    );
    for c in [&c, &t] {
        assert_eq!(c.plugin_cache_dir, Some(PathBuf::from("/var/cache/tern")));
        let [iot, tenant] = c.plugins.as_slice() else {
            panic!("{:?}", c.plugins)
        };
        assert_eq!(iot.name, "iot");
        assert_eq!(iot.path, PathBuf::from("plugins/iot.wasm"));
        assert_eq!(iot.subjects, ["devices.>", "sensors.*"]);
        assert_eq!(iot.timeout, Duration::from_millis(3));
        assert_eq!(iot.max_memory, 8 << 20);
        assert_eq!(iot.on_failure, Some(FailurePolicy::Pass));
        assert_eq!(iot.pool_size, 4);
        assert!(iot.required);
        let flat: Vec<(&str, &str)> = iot
            .config
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            flat,
            [
                ("site", "north"),
                ("sites.d1", "south"),
                ("ids.0", "7"),
                ("ids.1", "8"),
                ("enabled", "true")
            ]
        );
        // Defaults, and the name taken from the file.
        assert_eq!(tenant.name, "tenant");
        assert!(!tenant.required);
        assert_eq!(tenant.max_memory, DEFAULT_PLUGIN_MAX_MEMORY);
        assert_eq!(tenant.timeout, Duration::from_millis(5));
        assert_eq!(tenant.on_failure, None);
    }
}

#[test]
fn relative_paths_follow_the_config_file() {
    let c = parse_conf_str_with_env(
        r#"plugins: [ { path: "p/x.wasm" } ]"#,
        "/etc/tern/tern.conf",
        &no_env,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.plugins[0].path, PathBuf::from("/etc/tern/p/x.wasm"));
}

#[test]
fn bad_entries_name_file_line_and_key() {
    let e = conf_err("plugins: [\n  { path: \"a.wasm\", on_failure: explode }\n]\n");
    assert_error(
        &e,
        "test.conf:2",
        "plugins[0].on_failure",
        "unknown failure policy",
    );
    let e = conf_err("plugins: [\n  { subjects: [\">\"] }\n]\n");
    assert_error(&e, "test.conf:2", "plugins[0]", "needs a `path`");
    let e = conf_err("plugins: [\n  { path: \"a.wasm\", colour: red }\n]\n");
    assert_error(&e, "test.conf:2", "plugins[0].colour", "");
    let e = conf_err("plugins: [\n  { path: \"a.wasm\", timeout: \"0s\" }\n]\n");
    assert_error(&e, "test.conf:2", "plugins[0].timeout", "positive");
    let e = conf_err("plugins: [\n  { path: \"a.wasm\" }\n  { path: \"b/a.wasm\" }\n]\n");
    assert_error(
        &e,
        "test.conf:3",
        "plugins[1]",
        "two plugins are named \"a\"",
    );
}
