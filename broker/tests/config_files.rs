//! Config files end to end: every config from the seed guide (and its TOML
//! twin), the edge-configs standalone pair, a table of broken configs with
//! the exact `file:line` and key each must report, the guide's command
//! lines, and — when a `nats-server` binary is on PATH — a check that
//! nats-server accepts and rejects the same .conf files.

use std::path::{Path, PathBuf};
use std::process::Command;

use tern::config::{
    from_args_with_env, load_file, load_file_with_env, Action, Config, ConfigError, COMMAND_LINE,
};

const CLUSTER_ADVERTISE: &str = "nats-0.nats.nats.svc.cluster.local";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn seed(name: &str) -> PathBuf {
    manifest_dir().join("tests/config/seed").join(name)
}

fn broken(name: &str) -> PathBuf {
    manifest_dir().join("tests/config/broken").join(name)
}

fn edge(name: &str) -> PathBuf {
    manifest_dir().join("../edge-configs").join(name)
}

/// The environment the guide's configs expect: Kubernetes sets
/// CLUSTER_ADVERTISE; SYS must hold a value for `system_account: $SYS`
/// (quoted, so it is the string "$SYS" rather than a reference to itself).
fn guide_env(name: &str) -> Option<String> {
    match name {
        "CLUSTER_ADVERTISE" => Some(CLUSTER_ADVERTISE.to_string()),
        "SYS" => Some("\"$SYS\"".to_string()),
        _ => None,
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn load_seed(name: &str) -> Config {
    let path = seed(name);
    load_file_with_env(&path, &guide_env).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The seed's TLS configs name certificates under `/etc/nats/certs/`:
/// stand-ins made here (a CA and a server certificate it signed) take
/// their place, in a copy of the file that points at them. The directory
/// lives as long as the returned guard.
fn with_stand_in_certs(names: &[&str]) -> (tempfile::TempDir, Vec<PathBuf>) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    std::fs::write(dir.path().join("ca.crt"), ca.pem()).unwrap();
    std::fs::write(dir.path().join("server.crt"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("server.key"), key.serialize_pem()).unwrap();
    let certs = format!("{}/", dir.path().display());
    let copies = names
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(seed(name)).unwrap();
            let copy = dir.path().join(name);
            std::fs::write(&copy, text.replace("/etc/nats/certs/", &certs)).unwrap();
            copy
        })
        .collect();
    (dir, copies)
}

/// `feature key` of each unsupported entry, in order.
fn features(config: &Config) -> Vec<String> {
    config
        .unsupported
        .iter()
        .map(|u| format!("{} {}", u.feature, u.origin.key))
        .collect()
}

/// The same config with where-it-came-from details removed, for comparing a
/// .conf with its TOML twin.
fn without_origins(mut config: Config) -> Config {
    config.config_file = None;
    for u in &mut config.unsupported {
        u.origin.location.clear();
    }
    config
        .unsupported
        .sort_by(|a, b| (&a.feature, &a.origin.key).cmp(&(&b.feature, &b.origin.key)));
    for w in &mut config.warnings {
        w.origin.location.clear();
    }
    for a in &mut config.accounts {
        a.origin.location.clear();
        a.exports.iter_mut().for_each(|e| e.origin.location.clear());
        a.imports.iter_mut().for_each(|i| i.origin.location.clear());
    }
    config
}

#[test]
fn kubernetes_nats_conf() {
    let c = load_seed("nats.conf");
    assert_eq!(c.pid_file, Some(PathBuf::from("/var/run/nats/nats.pid")));
    assert_eq!((c.host.as_str(), c.port), ("0.0.0.0", 4222));
    assert_eq!(features(&c), ["cluster cluster"]);
    // The system account with its user, for `nats server list`.
    let sys = &c.accounts[0];
    assert_eq!(
        (sys.name.as_str(), sys.users[0].user.as_str()),
        ("$SYS", "admin")
    );
    // The websocket and leafnodes blocks are supported.
    assert_eq!(c.leafnodes.listen, Some(("0.0.0.0".to_string(), 7422)));
    let ws = c.websocket.as_ref().expect("websocket");
    assert_eq!(
        (ws.host.as_str(), ws.port, ws.no_tls),
        ("0.0.0.0", 8080, true)
    );
    let path = seed("nats.conf");
    let locations: Vec<_> = c
        .unsupported
        .iter()
        .map(|u| u.origin.location.clone())
        .collect();
    assert_eq!(c.http_port, Some(8222));
    let lines = [4];
    assert_eq!(locations, lines.map(|l| format!("{}:{l}", path.display())));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.config_file.as_deref(), Some(path.as_path()));
    assert!(c.jetstream.enabled);
    assert_eq!(
        c.jetstream.store_dir.as_deref(),
        Some(std::path::Path::new("/data/jetstream"))
    );
    assert_eq!(c.jetstream.max_memory_store, Some(256 << 20));
    assert_eq!(c.jetstream.max_file_store, Some(2 << 30));
}

#[test]
fn kubernetes_nats_conf_needs_its_environment_variable() {
    let path = seed("nats.conf");
    let err = load_file_with_env(&path, &no_env).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:12: cluster.cluster_advertise: variable reference for 'CLUSTER_ADVERTISE' can not be found",
            path.display()
        )
    );
}

#[test]
fn tls_conf() {
    let (_certs, paths) = with_stand_in_certs(&["nats-tls.conf"]);
    let c = load_file_with_env(&paths[0], &guide_env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.port, 4222);
    let tls = c.tls.as_ref().expect("tls");
    assert!(tls.verify && tls.ca_file.is_some());
    assert_eq!(tls.handshake_timeout(), std::time::Duration::from_secs(5));
    // The guide's `https: 8222` is HTTPS monitoring with the file's certificate.
    assert_eq!(c.https_port, Some(8222));
    assert_eq!(features(&c), ["cluster cluster"]);
    // Without the certificates the file is refused, as by nats-server.
    let err = load_file_with_env(&seed("nats-tls.conf"), &guide_env).unwrap_err();
    assert!(
        err.to_string().contains("/etc/nats/certs/server.crt"),
        "{err}"
    );
}

#[test]
fn auth_conf() {
    let c = load_seed("nats-auth.conf");
    let users: Vec<_> = c.auth.users.iter().map(|u| u.user.as_str()).collect();
    assert_eq!(users, ["admin", "publisher", "consumer"]);
    assert!(c.auth.users[0].password.starts_with("$2a$11$"));
    let publisher = c.auth.users[1].permissions.clone().unwrap_or_default();
    assert_eq!(
        publisher.publish.allow,
        Some(vec!["orders.*".to_string(), "events.*".to_string()])
    );
    assert_eq!(
        publisher.subscribe.allow,
        Some(vec!["responses.*".to_string()])
    );
    assert!(features(&c).is_empty(), "{:?}", features(&c));
    let billing = &c.accounts[1];
    assert_eq!(billing.name, "BILLING");
    assert_eq!(billing.imports[0].account, "ORDERS");
    assert_eq!(billing.imports[0].to.as_deref(), Some("billing.orders.*"));
}

/// nats-server refuses this file: `sync_always` is no key of its
/// `jetstream` block (`nats-server -t`: "high-performance.conf:33:3: unknown
/// field \"sync_always\""). So does Tern, in both syntaxes.
#[test]
fn high_performance_conf_is_refused_like_nats_server() {
    for name in ["high-performance.conf", "high-performance.toml"] {
        let path = seed(name);
        let err = load_file_with_env(&path, &guide_env).unwrap_err();
        assert_eq!(err.key(), Some("jetstream.sync_always"), "{name}: {err}");
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
    let err = load_file_with_env(&seed("high-performance.conf"), &guide_env).unwrap_err();
    assert_eq!(
        err.location(),
        Some(format!("{}:33", seed("high-performance.conf").display()).as_str())
    );
}

#[test]
fn high_performance_conf_needs_sys_in_the_environment_like_nats_server() {
    // `system_account: $SYS` is a variable reference; nats-server rejects
    // the file unless SYS is set, and so does Tern.
    let path = seed("high-performance.conf");
    let err = load_file_with_env(&path, &no_env).unwrap_err();
    assert_eq!(
        err.location(),
        Some(format!("{}:37", path.display()).as_str())
    );
    assert_eq!(err.key(), Some("system_account"));
    assert!(
        err.to_string()
            .ends_with("variable reference for 'SYS' can not be found"),
        "{err}"
    );
}

#[test]
fn seed_toml_twins_load_to_the_same_config() {
    for name in ["nats", "nats-auth"] {
        let conf = load_seed(&format!("{name}.conf"));
        let toml_path = seed(&format!("{name}.toml"));
        let toml = load_file(&toml_path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(without_origins(toml), without_origins(conf), "{name}");
    }
    let (_certs, paths) = with_stand_in_certs(&["nats-tls.conf", "nats-tls.toml"]);
    let conf = load_file_with_env(&paths[0], &guide_env).unwrap_or_else(|e| panic!("{e}"));
    let toml = load_file(&paths[1]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(without_origins(toml), without_origins(conf), "nats-tls");
}

#[test]
fn standalone_configs_are_equal_and_fully_supported() {
    let conf = load_file(&edge("standalone.conf")).unwrap_or_else(|e| panic!("{e}"));
    let toml = load_file(&edge("standalone.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(conf.unsupported.is_empty(), "{:?}", conf.unsupported);
    assert!(conf.warnings.is_empty(), "{:?}", conf.warnings);
    assert_eq!(conf.server_name.as_deref(), Some("tern-standalone"));
    assert_eq!(without_origins(conf.clone()), without_origins(toml));
    // It spells out the defaults, apart from the name.
    let defaults = Config {
        server_name: conf.server_name.clone(),
        config_file: conf.config_file.clone(),
        ..Config::default()
    };
    assert_eq!(conf, defaults);
}

#[test]
fn browser_gateway_configs_are_equal_and_fully_supported() {
    let conf = load_file(&edge("browser-gateway.conf")).unwrap_or_else(|e| panic!("{e}"));
    let toml = load_file(&edge("browser-gateway.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(conf.unsupported.is_empty(), "{:?}", conf.unsupported);
    assert!(conf.warnings.is_empty(), "{:?}", conf.warnings);
    assert_eq!(without_origins(conf.clone()), without_origins(toml));
    let ws = conf.websocket.expect("websocket block");
    assert_eq!((ws.host.as_str(), ws.port), ("0.0.0.0", 8080));
    assert!(ws.no_tls && ws.compression);
    assert_eq!(ws.allowed_origins.len(), 2);
}

/// A broken file and what loading it must report.
struct Broken {
    file: &'static str,
    line: u32,
    key: &'static str,
    message: &'static str,
    /// `nats-server -t` rejects it too (checked when nats-server is on PATH).
    /// False where Tern is deliberately stricter, or where nats-server only
    /// checks when the server starts; those are not compared.
    nats_rejects: bool,
}

const fn case(file: &'static str, line: u32, key: &'static str, message: &'static str) -> Broken {
    Broken {
        file,
        line,
        key,
        message,
        nats_rejects: true,
    }
}

const BROKEN: &[Broken] = &[
    case(
        "unknown-key.conf",
        3,
        "max_paylod",
        "unknown field \"max_paylod\"",
    ),
    case(
        "unknown-nested-key.conf",
        4,
        "authorization.tiemout",
        "unknown field \"authorization.tiemout\"",
    ),
    case(
        "port-quoted.conf",
        2,
        "port",
        "port: expected an integer, got string \"4222\"",
    ),
    case(
        "bool-quoted.conf",
        2,
        "debug",
        "expected a boolean (true/false, yes/no, on/off), got string \"true\"",
    ),
    case(
        "bad-duration.conf",
        2,
        "ping_interval",
        "error parsing ping_interval: time: unknown unit \" minutes\" in duration \"2 minutes\"",
    ),
    case(
        "lame-duck-too-short.conf",
        1,
        "lame_duck_duration",
        "invalid lame_duck_duration of 10s, minimum is 30 seconds",
    ),
    case(
        "payload-too-big.conf",
        3,
        "max_payload",
        "max_payload value is too big",
    ),
    Broken {
        nats_rejects: false,
        ..case(
            "bad-size-suffix.conf",
            1,
            "max_payload",
            "unknown size suffix in '10mbb'",
        )
    },
    case(
        "undefined-variable.conf",
        2,
        "host",
        "variable reference for 'TERN_TEST_UNDEFINED_HOST' can not be found",
    ),
    case(
        "unterminated-block.conf",
        4,
        "authorization.password",
        "Unexpected EOF processing map.",
    ),
    case(
        "bad-subject.conf",
        4,
        "authorization.users[1].permissions.publish",
        "subject \"orders bad\" is not a valid subject",
    ),
    case(
        "user-and-token.conf",
        1,
        "authorization",
        "Cannot have a user/pass and token",
    ),
    case(
        "server-name-spaces.conf",
        1,
        "server_name",
        "server name cannot contain spaces",
    ),
    case(
        "listen-without-port.conf",
        1,
        "listen",
        "could not parse address string \"localhost\"",
    ),
    case(
        "missing-include.conf",
        2,
        "",
        "error parsing include file './not-there.conf'",
    ),
    case("key-without-value.conf", 2, "debug", "config is invalid"),
    Broken {
        nats_rejects: false,
        ..case(
            "payload-over-pending.conf",
            2,
            "max_pending",
            "max_payload (1048576) cannot be higher than max_pending (1024)",
        )
    },
    case(
        "value-with-space.conf",
        3,
        "authorization.user",
        "Expected a map value terminator ',' or a map terminator '}', but got 'b' instead.",
    ),
    case(
        "unknown-key.toml",
        3,
        "max_paylod",
        "unknown field \"max_paylod\"",
    ),
    case(
        "unknown-nested-key.toml",
        5,
        "authorization.tiemout",
        "unknown field \"authorization.tiemout\"",
    ),
    case(
        "bool-as-string.toml",
        1,
        "debug",
        "expected a boolean (true/false, yes/no, on/off), got string \"yes\"",
    ),
    case("bad-size.toml", 1, "max_payload", "invalid size \"1XB\""),
    case("syntax.toml", 2, "", "string values must be quoted"),
    case("duplicate-key.toml", 2, "", "duplicate key"),
    case(
        "bad-duration.toml",
        1,
        "ping_interval",
        "time: unknown unit \" minutes\" in duration \"2 minutes\"",
    ),
];

#[test]
fn broken_configs_report_file_line_and_key() {
    let mut failures = Vec::new();
    for case in BROKEN {
        let path = broken(case.file);
        let location = format!("{}:{}", path.display(), case.line);
        match load_file_with_env(&path, &no_env) {
            Ok(_) => failures.push(format!("{}: loaded", case.file)),
            Err(err) => {
                let text = err.to_string();
                let key_ok = case.key.is_empty() || err.key() == Some(case.key);
                if err.location() != Some(location.as_str())
                    || !key_ok
                    || !text.contains(case.message)
                {
                    failures.push(format!(
                        "{}: got location {:?}, key {:?}, text {text:?}",
                        case.file,
                        err.location(),
                        err.key()
                    ));
                }
                if !text.starts_with(&location) {
                    failures.push(format!(
                        "{}: the message does not start with {location}: {text}",
                        case.file
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_broken_fixture_is_in_the_table() {
    let dir = manifest_dir().join("tests/config/broken");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    files.sort();
    let mut listed: Vec<_> = BROKEN.iter().map(|c| c.file.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed);
}

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

#[test]
fn the_guides_command_lines() {
    let s = from_args_with_env(args("-js -m 8222"), &guide_env).unwrap();
    assert_eq!(s.action, Action::Run);
    assert!(features(&s.config).is_empty());
    assert!(s.config.jetstream.enabled);
    assert_eq!(s.config.http_port, Some(8222));
    assert!(s
        .config
        .unsupported
        .iter()
        .all(|u| u.origin.location == COMMAND_LINE));

    let compose = "-js -m 8222 -cluster_name NATS -cluster nats://0.0.0.0:6222 -routes nats://nats-2:6222,nats://nats-3:6222";
    let s = from_args_with_env(args(compose), &guide_env).unwrap();
    assert_eq!(
        features(&s.config),
        [
            "cluster -cluster_name",
            "cluster -cluster",
            "cluster -routes"
        ]
    );

    let line = format!("--config {}", seed("nats.conf").display());
    let s = from_args_with_env(args(&line), &guide_env).unwrap();
    assert_eq!(
        s.config.pid_file,
        Some(PathBuf::from("/var/run/nats/nats.pid"))
    );
    assert_eq!(s.config.unsupported.len(), 1);
}

#[test]
fn flags_override_the_file_whatever_their_order() {
    let file = edge("standalone.conf");
    for line in [
        format!("-p 5222 -c {} -D --name flagged", file.display()),
        format!("-c {} -D -p 5222 --name=flagged", file.display()),
    ] {
        let s = from_args_with_env(args(&line), &no_env).unwrap();
        assert_eq!(s.config.port, 5222, "{line}");
        assert!(s.config.log.debug);
        assert_eq!(s.config.server_name.as_deref(), Some("flagged"));
        assert_eq!(s.config.config_file.as_deref(), Some(file.as_path()));
    }
}

#[test]
fn check_config_needs_a_file() {
    let err = from_args_with_env(args("-t"), &no_env).unwrap_err();
    assert!(matches!(err, ConfigError::CheckWithoutConfig), "{err}");
    let line = format!("-t -c {}", edge("standalone.toml").display());
    assert_eq!(
        from_args_with_env(args(&line), &no_env).unwrap().action,
        Action::CheckConfig
    );
    let line = format!("-t -c {}", broken("unknown-key.conf").display());
    assert!(matches!(
        from_args_with_env(args(&line), &no_env),
        Err(ConfigError::UnknownKey { .. })
    ));
}

/// nats-server on PATH, if any (the project's tests install it from PyPI).
fn nats_server() -> Option<PathBuf> {
    let out = Command::new("nats-server").arg("--version").output().ok()?;
    out.status.success().then(|| PathBuf::from("nats-server"))
}

/// Whether `nats-server -t` accepts the file, with only `env` set.
fn nats_accepts(server: &Path, file: &Path, env: &[(&str, &str)]) -> bool {
    let mut cmd = Command::new(server);
    cmd.arg("-t")
        .arg("-c")
        .arg(file)
        .env_remove("TERN_TEST_UNDEFINED_HOST")
        .env_remove("SYS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

#[test]
fn nats_server_agrees_on_the_conf_fixtures() {
    let Some(server) = nats_server() else {
        eprintln!("nats-server not on PATH: skipping the comparison with nats-server");
        return;
    };
    for case in BROKEN
        .iter()
        .filter(|c| c.file.ends_with(".conf") && c.nats_rejects)
    {
        assert!(
            !nats_accepts(&server, &broken(case.file), &[]),
            "nats-server accepts {}",
            case.file
        );
    }
    assert!(nats_accepts(&server, &edge("standalone.conf"), &[]));
    assert!(nats_accepts(&server, &seed("nats-auth.conf"), &[]));
    assert!(nats_accepts(
        &server,
        &seed("nats.conf"),
        &[("CLUSTER_ADVERTISE", CLUSTER_ADVERTISE)]
    ));
    assert!(!nats_accepts(&server, &seed("nats.conf"), &[]));
    assert!(!nats_accepts(&server, &seed("high-performance.conf"), &[]));
}
