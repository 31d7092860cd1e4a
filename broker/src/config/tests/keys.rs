//! Top-level keys: names and aliases, types, units, nats-server's special
//! values, cross-checks, and unsupported features.

use std::path::PathBuf;
use std::time::Duration;

use super::super::{Config, ConfigError};
use super::{assert_error, conf, conf_err, toml, toml_err, unsupported};

#[test]
fn every_supported_key_lands_in_config() {
    let c = conf(
        r#"
server_name: edge-1
host: 127.0.0.1
port: 4333
client_advertise: "edge.example.com:4333"
max_payload: 2MB
max_control_line: 8KB
max_pending: 128MB
max_connections: 100
max_subscriptions: 1000
ping_interval: "30s"
ping_max: 3
write_deadline: "5s"
lame_duck_duration: "1m"
lame_duck_grace_period: "5s"
no_header_support: true
debug: true
trace: true
logtime: false
log_file: "/tmp/tern.log"
pid_file: "/tmp/tern.pid"
"#,
    );
    let expected = Config {
        server_name: Some("edge-1".into()),
        host: "127.0.0.1".into(),
        port: 4333,
        client_advertise: Some("edge.example.com:4333".into()),
        max_payload: 2 << 20,
        max_control_line: 8 << 10,
        max_pending: 128 << 20,
        max_connections: 100,
        max_subscriptions: 1000,
        ping_interval: Duration::from_secs(30),
        ping_max: 3,
        write_deadline: Duration::from_secs(5),
        lame_duck_duration: Duration::from_secs(60),
        lame_duck_grace_period: Duration::from_secs(5),
        no_header_support: true,
        log: super::super::LogConfig {
            debug: true,
            trace: true,
            trace_verbose: false,
            time: false,
            file: Some(PathBuf::from("/tmp/tern.log")),
            ..Default::default()
        },
        pid_file: Some(PathBuf::from("/tmp/tern.pid")),
        ..Config::default()
    };
    assert_eq!(c, expected);
}

#[test]
fn aliases() {
    let c = conf("net: 10.1.1.1\nmax_conn: 7\nmax_subs: 8\nlogfile: a.log\npidfile: a.pid\n");
    assert_eq!(c.host, "10.1.1.1");
    assert_eq!((c.max_connections, c.max_subscriptions), (7, 8));
    assert_eq!(c.log.file, Some(PathBuf::from("a.log")));
    assert_eq!(c.pid_file, Some(PathBuf::from("a.pid")));
    assert!(conf("trace_verbose: true\n").log.trace);
    assert!(conf("trace_verbose: true\n").log.trace_verbose);
    assert_eq!(conf("MAX_PAYLOAD: 1KB\n").max_payload, 1024);
}

#[test]
fn listen_forms() {
    let c = conf("listen: 127.0.0.1:4333\n");
    assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 4333));
    let c = conf("listen: \"[::1]:4333\"\n");
    assert_eq!((c.host.as_str(), c.port), ("::1", 4333));
    let c = conf("host: 10.0.0.1\nlisten: 4333\n");
    assert_eq!(
        (c.host.as_str(), c.port),
        ("10.0.0.1", 4333),
        "a bare port keeps the host"
    );
    let c = conf("listen: \":4333\"\n");
    assert_eq!((c.host.as_str(), c.port), ("0.0.0.0", 4333));
    let c = conf("listen: localhost:-1\n");
    assert_eq!((c.host.as_str(), c.port), ("localhost", 0));
    let err = conf_err("listen: localhost\n");
    assert_error(
        &err,
        "test.conf:1",
        "listen",
        "could not parse address string \"localhost\"",
    );
    let err = conf_err("listen: \"host:port\"\n");
    assert_error(
        &err,
        "test.conf:1",
        "listen",
        "could not parse port \"port\"",
    );
}

#[test]
fn port_special_values() {
    assert_eq!(conf("port: 0\n").port, 4222, "0 means the default");
    assert_eq!(conf("port: -1\n").port, 0, "-1 means any free port");
    let err = conf_err("port: 70000\n");
    assert_error(&err, "test.conf:1", "port", "port 70000 is out of range");
}

#[test]
fn zero_means_default_for_limits() {
    let c = conf("max_payload: 0\nmax_control_line: 0\nmax_pending: 0\nping_interval: \"0s\"\nping_max: 0\nwrite_deadline: 0\n");
    let d = Config::default();
    assert_eq!(
        (
            c.max_payload,
            c.max_control_line,
            c.max_pending,
            c.ping_interval,
            c.ping_max,
            c.write_deadline
        ),
        (
            d.max_payload,
            d.max_control_line,
            d.max_pending,
            d.ping_interval,
            d.ping_max,
            d.write_deadline
        )
    );
}

#[test]
fn connection_and_subscription_limits_keep_nats_meaning() {
    assert_eq!(
        conf("max_connections: 0\n").max_connections,
        0,
        "nats-server refuses all clients"
    );
    assert_eq!(conf("max_connections: -5\n").max_connections, 0);
    assert_eq!(
        conf("max_subscriptions: -1\n").max_subscriptions,
        0,
        "unlimited"
    );
}

#[test]
fn size_limits_are_range_checked() {
    let err = conf_err("max_payload: 3000000000\n");
    assert_error(
        &err,
        "test.conf:1",
        "max_payload",
        "max_payload value is too big",
    );
    let err = conf_err("max_control_line: 4GB\n");
    assert_error(
        &err,
        "test.conf:1",
        "max_control_line",
        "max_control_line value is too big",
    );
    let err = conf_err("max_pending: -1\n");
    assert_error(&err, "test.conf:1", "max_pending", "-1 is negative");
    let c = conf("max_payload: 16MB\nmax_pending: 64MB\n");
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(c.warnings[0].message.contains("over 8MB"));
}

#[test]
fn sizes_must_not_be_quoted_in_conf_but_may_be_in_toml() {
    let err = conf_err("max_payload: \"1MB\"\n");
    assert_error(
        &err,
        "test.conf:1",
        "max_payload",
        "expected an integer (sizes such as 64MB are written without quotes), got string \"1MB\"",
    );
    assert_eq!(toml("max_payload = \"1MB\"\n").max_payload, 1 << 20);
    assert_eq!(toml("max_payload = 1048576\n").max_payload, 1 << 20);
    let err = toml_err("\nmax_payload = \"1XB\"\n");
    assert_error(&err, "test.toml:2", "max_payload", "invalid size \"1XB\"");
}

#[test]
fn durations_strings_or_seconds() {
    let c = conf("ping_interval: \"2m\"\nwrite_deadline: \"1m30s\"\n");
    assert_eq!(
        (c.ping_interval, c.write_deadline),
        (Duration::from_secs(120), Duration::from_secs(90))
    );
    assert!(c.warnings.is_empty());
    let c = conf("ping_interval: 60\n");
    assert_eq!(c.ping_interval, Duration::from_secs(60));
    assert_eq!(c.warnings.len(), 1);
    assert_eq!(c.warnings[0].origin.location, "test.conf:1");
    assert!(
        c.warnings[0]
            .message
            .contains("should be converted to a duration"),
        "{:?}",
        c.warnings
    );
    // Unquoted 2m is the integer 2000000, read as seconds: nats-server does
    // the same; the warning says why.
    let c = conf("ping_interval: 2m\n");
    assert_eq!(c.ping_interval, Duration::from_secs(2_000_000));
    assert!(
        c.warnings[0].message.contains("quote durations: \"2m\""),
        "{:?}",
        c.warnings
    );
    assert_eq!(
        toml("ping_interval = 60\n").warnings.len(),
        0,
        "TOML integers are plain seconds"
    );
    let err = conf_err("ping_interval: \"abc\"\n");
    assert_error(
        &err,
        "test.conf:1",
        "ping_interval",
        "error parsing ping_interval: time: invalid duration \"abc\"",
    );
    let err = conf_err("write_deadline: \"-1s\"\n");
    assert_error(
        &err,
        "test.conf:1",
        "write_deadline",
        "must not be negative",
    );
    let err = conf_err("ping_interval: true\n");
    assert_error(
        &err,
        "test.conf:1",
        "ping_interval",
        "expected a duration string",
    );
}

#[test]
fn lame_duck_rules() {
    let err = conf_err("lame_duck_duration: \"10s\"\n");
    assert_error(
        &err,
        "test.conf:1",
        "lame_duck_duration",
        "invalid lame_duck_duration of 10s, minimum is 30 seconds",
    );
    let err = conf_err("lame_duck_duration: 60\n");
    assert_error(
        &err,
        "test.conf:1",
        "lame_duck_duration",
        "expected a duration string",
    );
    let err = conf_err("lame_duck_grace_period: \"-1s\"\n");
    assert_error(
        &err,
        "test.conf:1",
        "lame_duck_grace_period",
        "needs to be positive",
    );
    let err = conf_err("lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"40s\"\n");
    assert_error(
        &err,
        "test.conf:2",
        "lame_duck_grace_period",
        "lame duck grace period (40s) should be strictly lower than lame duck duration (30s)",
    );
}

#[test]
fn payload_may_not_exceed_pending() {
    let err = conf_err("max_pending: 1000\n");
    assert_error(
        &err,
        "test.conf:1",
        "max_pending",
        "max_payload (1048576) cannot be higher than max_pending (1000)",
    );
}

#[test]
fn server_name_without_spaces() {
    assert_eq!(conf("server_name: a\n").server_name.as_deref(), Some("a"));
    let err = conf_err("server_name: \"a b\"\n");
    assert_error(
        &err,
        "test.conf:1",
        "server_name",
        "server name cannot contain spaces",
    );
}

#[test]
fn wrong_types_say_what_was_expected_and_found() {
    let err = conf_err("\n\nport: \"4222\"\n");
    assert_eq!(
        err.to_string(),
        "test.conf:3: port: expected an integer, got string \"4222\""
    );
    assert!(matches!(err, ConfigError::WrongType { .. }));
    let err = conf_err("debug: \"true\"\n");
    assert_error(&err, "test.conf:1", "debug", "expected a boolean");
    let err = conf_err("authorization: 5\n");
    assert_error(
        &err,
        "test.conf:1",
        "authorization",
        "expected a map, got integer 5",
    );
}

#[test]
fn unknown_keys_are_errors_and_all_are_reported() {
    let err = conf_err("port: 1\ncolour: blue\nflavour: 2\n");
    let ConfigError::Multiple(all) = &err else {
        panic!("{err}")
    };
    assert_eq!(all.len(), 2);
    assert_error(&all[0], "test.conf:2", "colour", "unknown field \"colour\"");
    assert_error(
        &all[1],
        "test.conf:3",
        "flavour",
        "unknown field \"flavour\"",
    );
    let err = toml_err("port = 1\n\n[authorization]\nuser = \"a\"\ncolour = 1\n");
    assert_error(
        &err,
        "test.toml:5",
        "authorization.colour",
        "unknown field \"authorization.colour\"",
    );
}

#[test]
fn unsupported_features_are_recorded_where_written() {
    let c = conf(
        "port: 4222\njetstream {\n  store_dir: /data\n}\ncluster { name: c }\nhttp: 8222\nleafnodes { compression: s2_fast }\nremote_syslog: \"udp://h:514\"\nsyslog: true\naccounts { A: { mappings: { a: b } } }\nsystem_account: A\nmqtt { port: 1883 }\ngateway { name: g }\n",
    );
    let got: Vec<_> = unsupported(&c)
        .into_iter()
        .map(|(f, l, k)| format!("{f}@{l}:{k}"))
        .collect();
    assert_eq!(
        got,
        [
            "cluster@test.conf:5:cluster",
            "leafnode compression@test.conf:7:leafnodes.compression",
            "syslog@test.conf:8:remote_syslog",
            "syslog@test.conf:9:syslog",
            "mqtt@test.conf:12:mqtt",
            "gateway@test.conf:13:gateway",
        ]
    );
}

#[test]
fn tracing_and_matching_keys_are_honoured() {
    let c = conf("logtime_utc: true\nmax_traced_msg_len: 64\ntrace_headers: true\nmax_sub_tokens: 16\ndisable_sublist_cache: true\n");
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    assert_eq!((c.log.max_traced_msg_len, c.max_sub_tokens), (64, 16));
    assert!(c.log.trace && c.log.trace_headers && c.no_match_cache);
    let err = conf_err("max_sub_tokens: 300\n");
    assert_error(
        &err,
        "test.conf:1",
        "max_sub_tokens",
        "max_sub_tokens value is too big",
    );
    let err = conf_err("max_subscription_tokens: 0\n");
    assert_error(
        &err,
        "test.conf:1",
        "max_subscription_tokens",
        "max_subscription_tokens value can not be negative",
    );
}

#[test]
fn write_timeout_policies_and_dial_timeouts() {
    use crate::config::WritePolicy;
    let c = conf(
        "write_timeout: retry\nleafnodes {\n  write_deadline: \"30s\"\n  write_timeout: close\n  dial_timeout: \"3s\"\n  remotes [{ url: \"nats://h:7422\", dial_timeout: 9 }]\n}\n",
    );
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    assert_eq!(c.write_timeout, WritePolicy::Retry);
    assert_eq!(c.leafnodes.write_timeout, WritePolicy::Close);
    assert_eq!(c.leafnodes.write_deadline, Some(Duration::from_secs(30)));
    assert_eq!(c.leafnodes.dial_timeout, Some(Duration::from_secs(3)));
    assert_eq!(
        c.leafnodes.remotes[0].dial_timeout,
        Some(Duration::from_secs(9))
    );
    assert_eq!(conf("").write_timeout, WritePolicy::Default);
    let err = conf_err("write_timeout: sometimes\n");
    assert_error(
        &err,
        "test.conf:1",
        "write_timeout",
        "write_timeout must be 'default', 'close' or 'retry'",
    );
}

#[test]
fn keys_that_change_nothing_to_decide_are_taken() {
    let c = conf(
        "server_tags: [\"region:eu\", \" edge \", \"region:eu\"]\nserver_metadata { owner: ops, rack: \"r1\" }\njetstream { strict: true }\nno_fast_producer_stall: true\n",
    );
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.server_tags, ["region:eu", "edge"]);
    assert_eq!(c.server_metadata["owner"], "ops");
    assert!(c.no_fast_producer_stall);
    assert_eq!(conf("server_tags: one\n").server_tags, ["one"]);
    let t =
        toml("server_tags = [\"a\"]\n[jetstream]\nstrict = false\n[server_metadata]\nk = \"v\"\n");
    assert_eq!((t.server_tags.len(), t.server_metadata.len()), (1, 1));
    assert!(t.jetstream.lenient && !c.jetstream.lenient);
    let err = conf_err("jetstream { strict: 1 }\n");
    assert_error(
        &err,
        "test.conf:1",
        "jetstream.strict",
        "expected a boolean",
    );
}

#[test]
fn syntax_errors_say_parse_error() {
    let err = conf_err("port: 4222\nmax_payload = \n}\n");
    assert!(err.to_string().contains("Parse error"), "{err}");
}

#[test]
fn values_that_leave_a_feature_off_are_not_unsupported() {
    let c = conf(
        "jetstream: false\njetstream: disabled\nsyslog: false\nhttp_port: 0\nhttp: 0\ntrace_headers: false\nlogtime_utc: false\nno_system_account: true\nstore_dir: \"\"\nwrite_timeout: default\nocsp: false\n",
    );
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    assert_eq!(c.http_port, None);
    assert!(conf("jetstream { enabled: false, store_dir: /x }\n")
        .unsupported
        .is_empty());
    assert!(conf("jetstream: enabled\n").unsupported.is_empty());
    assert_eq!(
        conf("syslog: true\nremote_syslog: \"udp://x:514\"\n")
            .unsupported
            .len(),
        2
    );
    let err = conf_err("jetstream: maybe\n");
    assert_error(
        &err,
        "test.conf:1",
        "jetstream",
        "Expected 'enabled' or 'disabled'",
    );
    let err = conf_err("syslog: 1\n");
    assert_error(&err, "test.conf:1", "syslog", "expected a boolean");
}

#[test]
fn monitoring_keys() {
    let c = conf("http: 8222\n");
    assert_eq!((c.http_port, c.http_host.as_deref()), (Some(8222), None));
    let c = conf("http: \"127.0.0.1:-1\"\n");
    assert_eq!(
        (c.http_port, c.http_host.as_deref()),
        (Some(0), Some("127.0.0.1"))
    );
    assert_eq!(c.monitor_host(), "127.0.0.1");
    let c = conf("host: 10.0.0.1\nmonitor_port: 8223\nhttp_base_path: /nats\n");
    assert_eq!((c.http_port, c.monitor_host()), (Some(8223), "10.0.0.1"));
    assert_eq!(c.http_base_path, "/nats");
    assert_eq!(conf("http_port: -1\n").http_port, Some(0));
    let c = conf("max_closed_clients: 5\nports_file_dir: /tmp/p\n");
    assert_eq!(c.max_closed_clients, 5);
    assert_eq!(
        c.ports_file_dir.as_deref(),
        Some(std::path::Path::new("/tmp/p"))
    );
    assert_eq!(conf("max_closed_clients: 0\n").max_closed_clients, 10_000);
    assert!(c.unsupported.is_empty());
    let err = conf_err("http_port: 70000\n");
    assert_error(&err, "test.conf:1", "http_port", "out of range");
    let c = conf("https: \"127.0.0.2:8443\"\n");
    assert!(c.unsupported.is_empty());
    assert_eq!((c.https_port, c.monitor_host()), (Some(8443), "127.0.0.2"));
    assert_eq!(conf("https_port: -1\n").https_port, Some(0));
}

#[test]
fn jetstream_block_and_store_dir() {
    let c = conf("jetstream {\n  store_dir: /data\n  max_mem: 1MB\n  max_file_store: -1\n}\n");
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    assert!(c.jetstream.enabled);
    assert_eq!(
        c.jetstream.store_dir.as_deref(),
        Some(std::path::Path::new("/data"))
    );
    assert_eq!(c.jetstream.max_memory_store, Some(1024 * 1024));
    assert_eq!(c.jetstream.max_file_store, None);
    assert_eq!(
        c.jetstream.store_root(),
        std::path::Path::new("/data/jetstream")
    );
    let c = conf("store_dir: /x\njetstream: enabled\n");
    assert!(c.jetstream.enabled);
    assert_eq!(
        c.jetstream.store_dir.as_deref(),
        Some(std::path::Path::new("/x"))
    );
    assert!(!conf("store_dir: /x\n").jetstream.enabled);
    assert!(!conf("jetstream { enabled: false }\n").jetstream.enabled);
    let c = conf("jetstream { domain: hub }\n");
    assert_eq!(c.unsupported.len(), 1);
    assert_eq!(c.unsupported[0].feature, "jetstream domain");
    let c = conf("jetstream { sync_interval: \"10s\" }\n");
    assert_eq!(
        c.jetstream.sync_interval,
        Some(std::time::Duration::from_secs(10))
    );
    assert!(!c.jetstream.sync_always);
    assert!(conf("jetstream { sync: always }\n").jetstream.sync_always);
}
