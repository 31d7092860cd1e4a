//! The command line: Go `flag` semantics and what each flag does.

use super::super::flags::{CommandLine, COMMAND_LINE};
use super::super::{Action, Config, ConfigError, Origin, Unsupported};

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

fn applied(line: &str) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    CommandLine::parse(args(line))?.apply(&mut config)?;
    Ok(config)
}

#[test]
fn single_and_double_dash_and_equals_are_equivalent() {
    for line in [
        "-p 4333",
        "--p 4333",
        "-port 4333",
        "--port=4333",
        "-p=4333",
        "-port=0x10ED",
    ] {
        assert_eq!(applied(line).unwrap().port, 4333, "{line}");
    }
    for line in ["-a 127.0.0.1", "--addr 127.0.0.1", "--net=127.0.0.1"] {
        assert_eq!(applied(line).unwrap().host, "127.0.0.1", "{line}");
    }
}

#[test]
fn ports_follow_nats_rules() {
    assert_eq!(applied("-p 0").unwrap().port, 4222);
    assert_eq!(applied("-p -1").unwrap().port, 0);
    let err = applied("-p 70000").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid value \"70000\" for flag -p: port 70000 is out of range"),
        "{err}"
    );
}

#[test]
fn booleans_take_no_value_but_accept_equals() {
    let c = applied("-D -V").unwrap();
    assert!(c.log.debug && c.log.trace);
    let c = applied("-T=false").unwrap();
    assert!(!c.log.time);
    let c = applied("--logtime=0").unwrap();
    assert!(!c.log.time);
    let c = applied("-DV").unwrap();
    assert!(c.log.debug && c.log.trace && !c.log.trace_verbose);
    let c = applied("-DVV").unwrap();
    assert!(c.log.debug && c.log.trace && c.log.trace_verbose);
    let c = applied("-VV").unwrap();
    assert!(!c.log.debug && c.log.trace && c.log.trace_verbose);
    let c = applied("-V").unwrap();
    assert!(c.log.trace && !c.log.trace_verbose);
    // -DV is applied after -D, whatever the order, as nats-server does.
    let c = applied("-DV -D=false").unwrap();
    assert!(c.log.debug);
}

#[test]
fn a_bool_flag_does_not_swallow_the_next_word() {
    let line = CommandLine::parse(args("-D 4222")).unwrap();
    assert!(matches!(line.early_action(), Err(ConfigError::UnrecognizedCommand(c)) if c == "4222"));
}

#[test]
fn errors_use_go_flag_wording() {
    let msg = |line: &str| CommandLine::parse(args(line)).unwrap_err().to_string();
    assert_eq!(msg("-xyz"), "flag provided but not defined: -xyz");
    assert_eq!(msg("--xyz=1"), "flag provided but not defined: -xyz");
    assert_eq!(msg("-p"), "flag needs an argument: -p");
    assert_eq!(
        msg("-p abc"),
        "invalid value \"abc\" for flag -p: parse error"
    );
    assert_eq!(
        msg("-p 99999999999999999999"),
        "invalid value \"99999999999999999999\" for flag -p: value out of range"
    );
    assert_eq!(
        msg("-D=maybe"),
        "invalid boolean value \"maybe\" for -D: parse error"
    );
    assert_eq!(msg("---p"), "bad flag syntax: ---p");
    assert_eq!(msg("-=p"), "bad flag syntax: -=p");
}

#[test]
fn a_string_flag_takes_the_next_word_even_if_dashed() {
    let c = applied("--user -weird --pass secret").unwrap();
    assert_eq!(c.auth.user.as_deref(), Some("-weird"));
    assert_eq!(c.auth.password.as_deref(), Some("secret"));
}

#[test]
fn parsing_stops_at_the_first_word_or_double_dash() {
    let line = CommandLine::parse(args("-p 1 version -xyz")).unwrap();
    assert_eq!(line.early_action().unwrap(), Some(Action::Version));
    let line = CommandLine::parse(args("-- -xyz")).unwrap();
    assert!(matches!(line.early_action(), Err(ConfigError::UnrecognizedCommand(c)) if c == "-xyz"));
    let line = CommandLine::parse(args("HELP")).unwrap();
    assert!(matches!(line.early_action(), Ok(Some(Action::Help(_)))));
    // A lone dash is a word, not a flag.
    let line = CommandLine::parse(args("-")).unwrap();
    assert!(line.early_action().is_err());
}

#[test]
fn version_wins_over_help() {
    let line = CommandLine::parse(args("-h -v")).unwrap();
    assert_eq!(line.early_action().unwrap(), Some(Action::Version));
    let line = CommandLine::parse(args("--help")).unwrap();
    assert!(
        matches!(line.early_action().unwrap(), Some(Action::Help(text)) if text.contains("--user"))
    );
}

#[test]
fn unsupported_flags_are_recorded_as_typed() {
    let c = applied("-js -m 8222 --cluster_name NATS -cluster nats://0.0.0.0:6222").unwrap();
    let got: Vec<_> = c
        .unsupported
        .iter()
        .map(|u| (u.feature.as_str(), u.origin.key.as_str()))
        .collect();
    assert_eq!(
        got,
        [("cluster", "--cluster_name"), ("cluster", "-cluster"),]
    );
    assert!(c
        .unsupported
        .iter()
        .all(|u| u.origin.location == COMMAND_LINE));
}

#[test]
fn off_values_of_unsupported_flags_are_not_recorded() {
    let c = applied("-js=false -m 0 -s=false --cluster= --tls=false --tlscert x").unwrap();
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
}

#[test]
fn disabling_flags_switch_off_the_config_files_feature() {
    let mut config = Config::default();
    config.jetstream.enabled = true;
    for feature in ["tls", "cluster"] {
        config.unsupported.push(Unsupported {
            feature: feature.into(),
            origin: Origin {
                location: "f.conf:1".into(),
                key: feature.into(),
            },
        });
    }
    CommandLine::parse(args("-js=false --tls=false"))
        .unwrap()
        .apply(&mut config)
        .unwrap();
    let left: Vec<_> = config
        .unsupported
        .iter()
        .map(|u| u.feature.as_str())
        .collect();
    assert_eq!(left, ["cluster"]);
    assert!(!config.jetstream.enabled);
}

#[test]
fn jetstream_flags() {
    let c = applied("-js -sd /tmp/x").unwrap();
    assert!(c.jetstream.enabled);
    assert_eq!(
        c.jetstream.store_dir.as_deref(),
        Some(std::path::Path::new("/tmp/x"))
    );
    assert!(c.unsupported.is_empty());
}

#[test]
fn auth_flags_conflicts() {
    assert!(applied("--user a --pass b").is_ok());
    let err = applied("--user a --auth t").unwrap_err();
    assert!(
        err.to_string()
            .contains("Cannot have a user/pass and token"),
        "{err}"
    );
}

#[test]
fn empty_values_reset_to_defaults() {
    let c = applied("-a= -n= -l= -P=").unwrap();
    assert_eq!(c.host, "0.0.0.0");
    assert_eq!(c.server_name, None);
    assert_eq!(c.log.file, None);
    assert_eq!(c.pid_file, None);
    let mut config = Config::default();
    let err = CommandLine::parse(vec!["-n=a b".to_string()])
        .unwrap()
        .apply(&mut config)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value \"a b\" for flag -n: server name cannot contain spaces"
    );
}

#[test]
fn monitoring_ports_file_and_signal_flags() {
    let c = applied("-m 8222 --ports_file_dir /tmp/x").unwrap();
    assert_eq!(c.http_port, Some(8222));
    assert_eq!(
        c.ports_file_dir.as_deref(),
        Some(std::path::Path::new("/tmp/x"))
    );
    assert!(c.unsupported.is_empty());
    assert_eq!(applied("-m -1").unwrap().http_port, Some(0));
    assert_eq!(applied("--http_port=0").unwrap().http_port, None);
    assert!(applied("-m 70000").is_err());
    let ms = applied("-ms 8443").unwrap();
    assert_eq!((ms.https_port, ms.http_port), (Some(8443), None));
    assert!(ms.unsupported.is_empty());
}

#[test]
fn signal_flag_is_an_early_action() {
    let early = |line: &str| CommandLine::parse(args(line)).unwrap().early_action();
    assert_eq!(
        early("--signal reload=1234").unwrap(),
        Some(Action::Signal {
            command: "reload".into(),
            pid: Some("1234".into())
        })
    );
    assert_eq!(
        early("-P /run/tern.pid -sl quit").unwrap(),
        Some(Action::Signal {
            command: "quit".into(),
            pid: Some("/run/tern.pid".into())
        })
    );
    assert_eq!(
        early("--signal ldm").unwrap(),
        Some(Action::Signal {
            command: "ldm".into(),
            pid: None
        })
    );
    assert_eq!(
        early("--signal bogus=1").unwrap_err().to_string(),
        "unknown signal \"bogus\""
    );
    assert_eq!(
        early("--signal stop=1=2").unwrap_err().to_string(),
        "invalid signal parameters: [2]"
    );
}
