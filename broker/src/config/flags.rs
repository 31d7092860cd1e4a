//! nats-server's command line, with Go `flag` package semantics: `-x` and
//! `--x` are the same, `-x value` and `-x=value` both work, booleans take no
//! value (`-T=false` to turn one off), parsing stops at the first word that is
//! not a flag or after `--`, and that word may only be `version` or `help`.
//! Flags override the config file whatever their position. Flags for
//! features Tern lacks are recorded as unsupported with location
//! `command line`.

use std::path::PathBuf;

use super::apply::{host_or_default, monitor_port, non_empty, port_from};
use super::error::ConfigError;
use super::model::{Config, Origin, Unsupported};
use super::model_tls::{CertKeyPair, TlsConfig};
use super::units;
use super::usage::{usage, TLS_HELP};
use super::Action;

/// Where flag-sourced [`Unsupported`] entries say they came from.
pub const COMMAND_LINE: &str = "command line";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    String,
    Int,
}

/// What a flag does, independent of which alias was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Help,
    HelpTls,
    Version,
    Config,
    CheckConfig,
    Host,
    Port,
    ServerName,
    ClientAdvertise,
    PidFile,
    LogFile,
    Debug,
    Trace,
    TraceVerbose,
    DebugTrace,
    DebugTraceVerbose,
    LogTime,
    /// `--logtime_utc`: Tern's timestamps are UTC either way.
    LogTimeUtc,
    MaxTracedMsgLen,
    User,
    Pass,
    Token,
    /// `-m/--http_port`: HTTP monitoring.
    HttpPort,
    /// `-ms/--https_port`: HTTPS monitoring.
    HttpsPort,
    PortsFileDir,
    /// `-sl/--signal cmd[=pid]`: signal a running server and exit.
    Signal,
    /// A flag of a feature Tern lacks; recorded when its value turns it on.
    Unsupported(&'static str),
    /// `-js`: enables JetStream; `-js=false` also switches off a
    /// `jetstream` block from the config file.
    JetStream,
    /// `-sd/--store_dir`: JetStream's store directory.
    StoreDir,
    /// `--tls`: `--tls=false` switches off TLS from the config file.
    Tls,
    /// `--tlsverify`, `--tlscert`, `--tlskey`, `--tlscacert`: together
    /// with `--tls` they replace the file's `tls {}` block.
    TlsVerify,
    TlsCert,
    TlsKey,
    TlsCaCert,
}

impl Target {
    /// `-DV`/`-DVV`, which nats-server applies after the single-letter flags.
    fn is_debug_trace(self) -> bool {
        matches!(self, Target::DebugTrace | Target::DebugTraceVerbose)
    }
}

struct Spec {
    names: &'static [&'static str],
    kind: Kind,
    target: Target,
}

const fn spec(names: &'static [&'static str], kind: Kind, target: Target) -> Spec {
    Spec {
        names,
        kind,
        target,
    }
}

/// Every flag nats-server defines (`nats-server -h`, its main.go and opts.go).
const FLAGS: &[Spec] = &[
    spec(&["h", "help"], Kind::Bool, Target::Help),
    spec(&["help_tls"], Kind::Bool, Target::HelpTls),
    spec(&["v", "version"], Kind::Bool, Target::Version),
    spec(&["c", "config"], Kind::String, Target::Config),
    spec(&["t"], Kind::Bool, Target::CheckConfig),
    spec(&["a", "addr", "net"], Kind::String, Target::Host),
    spec(&["p", "port"], Kind::Int, Target::Port),
    spec(
        &["n", "name", "server_name"],
        Kind::String,
        Target::ServerName,
    ),
    spec(&["client_advertise"], Kind::String, Target::ClientAdvertise),
    spec(&["P", "pid"], Kind::String, Target::PidFile),
    spec(&["l", "log"], Kind::String, Target::LogFile),
    spec(&["D", "debug"], Kind::Bool, Target::Debug),
    spec(&["V", "trace"], Kind::Bool, Target::Trace),
    // Verbose tracing adds the system account's own traffic.
    spec(&["VV"], Kind::Bool, Target::TraceVerbose),
    spec(&["DV"], Kind::Bool, Target::DebugTrace),
    spec(&["DVV"], Kind::Bool, Target::DebugTraceVerbose),
    spec(&["T", "logtime"], Kind::Bool, Target::LogTime),
    spec(&["user"], Kind::String, Target::User),
    spec(&["pass"], Kind::String, Target::Pass),
    spec(&["auth"], Kind::String, Target::Token),
    spec(&["js", "jetstream"], Kind::Bool, Target::JetStream),
    spec(&["sd", "store_dir"], Kind::String, Target::StoreDir),
    spec(&["m", "http_port"], Kind::Int, Target::HttpPort),
    spec(&["ms", "https_port"], Kind::Int, Target::HttpsPort),
    spec(&["sl", "signal"], Kind::String, Target::Signal),
    spec(&["ports_file_dir"], Kind::String, Target::PortsFileDir),
    spec(&["s", "syslog"], Kind::Bool, Target::Unsupported("syslog")),
    spec(
        &["r", "remote_syslog"],
        Kind::String,
        Target::Unsupported("syslog"),
    ),
    spec(
        &["log_size_limit"],
        Kind::Int,
        Target::Unsupported("log rotation"),
    ),
    spec(&["logtime_utc"], Kind::Bool, Target::LogTimeUtc),
    spec(&["max_traced_msg_len"], Kind::Int, Target::MaxTracedMsgLen),
    spec(&["profile"], Kind::Int, Target::Unsupported("profiling")),
    spec(&["routes"], Kind::String, Target::Unsupported("cluster")),
    spec(
        &["cluster", "cluster_listen"],
        Kind::String,
        Target::Unsupported("cluster"),
    ),
    spec(
        &["cluster_advertise"],
        Kind::String,
        Target::Unsupported("cluster"),
    ),
    spec(
        &["cluster_name"],
        Kind::String,
        Target::Unsupported("cluster"),
    ),
    spec(
        &["no_advertise"],
        Kind::Bool,
        Target::Unsupported("cluster"),
    ),
    spec(
        &["connect_retries"],
        Kind::Int,
        Target::Unsupported("cluster"),
    ),
    spec(&["tls"], Kind::Bool, Target::Tls),
    spec(&["tlsverify"], Kind::Bool, Target::TlsVerify),
    spec(&["tlscert"], Kind::String, Target::TlsCert),
    spec(&["tlskey"], Kind::String, Target::TlsKey),
    spec(&["tlscacert"], Kind::String, Target::TlsCaCert),
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum FlagValue {
    Bool(bool),
    String(String),
    Int(i64),
}

/// One flag as given: `written` is how the user typed it (`--jetstream`).
#[derive(Debug, Clone)]
struct Given {
    target: Target,
    written: String,
    value: FlagValue,
}

/// The command line, parsed but not yet applied.
#[derive(Debug, Default)]
pub(crate) struct CommandLine {
    given: Vec<Given>,
    /// The first word after the flags.
    command: Option<String>,
}

impl CommandLine {
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Self, ConfigError> {
        let args: Vec<String> = args.into_iter().collect();
        let mut line = CommandLine::default();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            if arg.len() < 2 || !arg.starts_with('-') {
                break;
            }
            let dashes = if arg.starts_with("--") { 2 } else { 1 };
            if arg == "--" {
                i += 1;
                break;
            }
            let body = &arg[dashes..];
            if body.starts_with('-') || body.starts_with('=') {
                return Err(ConfigError::BadFlagSyntax(arg.clone()));
            }
            i += 1;
            let (name, inline) = match body.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (body, None),
            };
            let spec = FLAGS
                .iter()
                .find(|s| s.names.contains(&name))
                .ok_or_else(|| ConfigError::UnknownFlag(name.to_string()))?;
            let value = match spec.kind {
                Kind::Bool => match inline {
                    None => FlagValue::Bool(true),
                    Some(v) => FlagValue::Bool(units::parse_go_bool(&v).ok_or_else(|| {
                        ConfigError::InvalidBoolFlag {
                            flag: name.to_string(),
                            value: v.clone(),
                        }
                    })?),
                },
                Kind::String | Kind::Int => {
                    let raw = match inline {
                        Some(v) => v,
                        None => {
                            let v = args
                                .get(i)
                                .ok_or_else(|| ConfigError::MissingFlagValue(name.to_string()))?;
                            i += 1;
                            v.clone()
                        }
                    };
                    if spec.kind == Kind::String {
                        FlagValue::String(raw)
                    } else {
                        FlagValue::Int(units::parse_go_int(&raw).map_err(|reason| {
                            ConfigError::InvalidFlagValue {
                                flag: name.to_string(),
                                value: raw.clone(),
                                reason: reason.to_string(),
                            }
                        })?)
                    }
                }
            };
            let written = arg
                .split_once('=')
                .map_or(arg.as_str(), |(flag, _)| flag)
                .to_string();
            line.given.push(Given {
                target: spec.target,
                written,
                value,
            });
        }
        line.command = args.get(i).cloned();
        Ok(line)
    }

    fn last(&self, target: Target) -> Option<&FlagValue> {
        self.given
            .iter()
            .rev()
            .find(|g| g.target == target)
            .map(|g| &g.value)
    }

    fn is_on(&self, target: Target) -> bool {
        self.last(target) == Some(&FlagValue::Bool(true))
    }

    /// What to do instead of running, when the flags say so; nats-server
    /// checks these before reading any config file.
    pub fn early_action(&self) -> Result<Option<Action>, ConfigError> {
        if self.is_on(Target::Version) {
            return Ok(Some(Action::Version));
        }
        if self.is_on(Target::Help) {
            return Ok(Some(Action::Help(usage())));
        }
        if self.is_on(Target::HelpTls) {
            return Ok(Some(Action::Help(TLS_HELP.to_string())));
        }
        // nats-server sends the signal before reading any config file.
        if let Some(FlagValue::String(spec)) = self.last(Target::Signal) {
            if !spec.is_empty() {
                return signal_action(spec, self.pid_file_flag()).map(Some);
            }
        }
        match self.command.as_deref().map(str::to_lowercase).as_deref() {
            None => Ok(None),
            Some("version") => Ok(Some(Action::Version)),
            Some("help") => Ok(Some(Action::Help(usage()))),
            Some(_) => Err(ConfigError::UnrecognizedCommand(
                self.command.clone().unwrap_or_default(),
            )),
        }
    }

    /// The `-P` pid file given on this command line, if any.
    fn pid_file_flag(&self) -> Option<PathBuf> {
        match self.last(Target::PidFile) {
            Some(FlagValue::String(path)) if !path.is_empty() => Some(PathBuf::from(path)),
            _ => None,
        }
    }

    pub fn config_file(&self) -> Option<PathBuf> {
        match self.last(Target::Config) {
            Some(FlagValue::String(path)) if !path.is_empty() => Some(PathBuf::from(path)),
            _ => None,
        }
    }

    pub fn check_config(&self) -> bool {
        self.is_on(Target::CheckConfig)
    }

    /// Applies the flags over `config` (already loaded from the file).
    pub fn apply(&self, config: &mut Config) -> Result<(), ConfigError> {
        let bad = |g: &Given, reason: String| ConfigError::InvalidFlagValue {
            flag: g.written.trim_start_matches('-').to_string(),
            value: match &g.value {
                FlagValue::String(s) => s.clone(),
                FlagValue::Int(i) => i.to_string(),
                FlagValue::Bool(b) => b.to_string(),
            },
            reason,
        };
        // `-js=false` / `--tls=false` (the last occurrence counts, as with any
        // Go flag) switch the feature off, the config file's part included.
        let js_off = self.last(Target::JetStream) == Some(&FlagValue::Bool(false));
        let tls_off = self.last(Target::Tls) == Some(&FlagValue::Bool(false));
        if js_off {
            config.jetstream.enabled = false;
        }
        if tls_off {
            drop_feature(config, "tls");
            config.tls = None;
        } else if let Some(tls) = self.tls_override()? {
            config.tls = Some(tls);
        }
        // nats-server applies -DV/-DVV after the single-letter flags, so they
        // win over `-D=false`.
        let combined_last = self
            .given
            .iter()
            .filter(|g| !g.target.is_debug_trace())
            .chain(self.given.iter().filter(|g| g.target.is_debug_trace()));
        for g in combined_last {
            match (&g.target, &g.value) {
                (Target::Host, FlagValue::String(s)) => config.host = host_or_default(s),
                (Target::Port, FlagValue::Int(p)) => {
                    config.port = port_from(*p).map_err(|e| bad(g, e))?
                }
                (Target::ServerName, FlagValue::String(s)) => {
                    if s.contains(' ') {
                        return Err(bad(g, "server name cannot contain spaces".to_string()));
                    }
                    config.server_name = non_empty(s);
                }
                (Target::ClientAdvertise, FlagValue::String(s)) => {
                    config.client_advertise = non_empty(s)
                }
                (Target::PidFile, FlagValue::String(s)) => {
                    config.pid_file = non_empty(s).map(PathBuf::from)
                }
                (Target::PortsFileDir, FlagValue::String(s)) => {
                    config.ports_file_dir = non_empty(s).map(PathBuf::from)
                }
                (Target::HttpPort, FlagValue::Int(p)) => {
                    config.http_port = monitor_port(*p).map_err(|e| bad(g, e))?
                }
                (Target::HttpsPort, FlagValue::Int(p)) => {
                    config.https_port = monitor_port(*p).map_err(|e| bad(g, e))?
                }
                (Target::LogFile, FlagValue::String(s)) => {
                    config.log.file = non_empty(s).map(PathBuf::from)
                }
                (Target::Debug, FlagValue::Bool(b)) => config.log.debug = *b,
                (Target::Trace, FlagValue::Bool(b)) => config.log.trace = *b,
                (Target::TraceVerbose, FlagValue::Bool(b)) => {
                    config.log.trace = *b;
                    config.log.trace_verbose = *b;
                }
                (Target::DebugTrace, FlagValue::Bool(b)) => {
                    config.log.debug = *b;
                    config.log.trace = *b;
                }
                (Target::DebugTraceVerbose, FlagValue::Bool(b)) => {
                    config.log.debug = *b;
                    config.log.trace = *b;
                    config.log.trace_verbose = *b;
                }
                (Target::LogTime, FlagValue::Bool(b)) => config.log.time = *b,
                (Target::LogTimeUtc, _) => {}
                (Target::MaxTracedMsgLen, FlagValue::Int(i)) => {
                    config.log.max_traced_msg_len = usize::try_from(*i).unwrap_or(0)
                }
                (Target::User, FlagValue::String(s)) => config.auth.user = non_empty(s),
                (Target::Pass, FlagValue::String(s)) => config.auth.password = non_empty(s),
                (Target::Token, FlagValue::String(s)) => config.auth.token = non_empty(s),
                (Target::JetStream, FlagValue::Bool(true)) if !js_off => {
                    config.jetstream.enabled = true
                }
                (Target::StoreDir, FlagValue::String(s)) => {
                    config.jetstream.store_dir = non_empty(s).map(PathBuf::from)
                }
                (Target::Unsupported(feature), value) => {
                    let on = match value {
                        FlagValue::Bool(b) => *b,
                        FlagValue::Int(i) => *i != 0,
                        FlagValue::String(s) => !s.is_empty(),
                    };
                    if on {
                        record(config, feature, g);
                    }
                }
                _ => {}
            }
        }
        check_auth_flags(config)
    }
}

/// `--signal cmd[=pid]`: the command must be one nats-server knows; the
/// part after `=` is a pid or a pid file (read when it exists, as
/// nats-server does). Without it, the `-P` pid file of the same command
/// line, if given, names the process.
fn signal_action(spec: &str, pid_file: Option<PathBuf>) -> Result<Action, ConfigError> {
    let mut parts = spec.split('=');
    let command = parts.next().unwrap_or_default().to_string();
    let target = parts.next().map(str::to_string);
    let rest: Vec<&str> = parts.collect();
    if !rest.is_empty() {
        return Err(ConfigError::InvalidSignal(format!(
            "invalid signal parameters: [{}]",
            rest.join(" ")
        )));
    }
    if !SIGNAL_COMMANDS.contains(&command.as_str()) {
        return Err(ConfigError::InvalidSignal(format!(
            "unknown signal \"{command}\""
        )));
    }
    let pid = match target {
        Some(t) => Some(t),
        None => pid_file.map(|p| p.display().to_string()),
    };
    Ok(Action::Signal { command, pid })
}

/// The commands `--signal` accepts (nats-server's `CommandToSignal`).
pub const SIGNAL_COMMANDS: &[&str] = &["stop", "quit", "reopen", "reload", "ldm", "term"];

impl CommandLine {
    /// The `tls {}` block the `--tls*` flags make, as nats-server's
    /// `overrideTLS`: any of them (unless `--tls=false`) replaces the
    /// file's block, and a certificate and key are then required.
    fn tls_override(&self) -> Result<Option<TlsConfig>, ConfigError> {
        let tls_flags = [
            Target::Tls,
            Target::TlsVerify,
            Target::TlsCert,
            Target::TlsKey,
            Target::TlsCaCert,
        ];
        if !self.given.iter().any(|g| tls_flags.contains(&g.target)) {
            return Ok(None);
        }
        let path = |target| match self.last(target) {
            Some(FlagValue::String(s)) if !s.is_empty() => Some(PathBuf::from(s)),
            _ => None,
        };
        let refuse = |flag: &str, reason: &str| ConfigError::InvalidFlagValue {
            flag: flag.to_string(),
            value: String::new(),
            reason: reason.to_string(),
        };
        let cert_file = path(Target::TlsCert).ok_or_else(|| {
            refuse(
                "tlscert",
                "TLS Server certificate must be present and valid",
            )
        })?;
        let key_file = path(Target::TlsKey)
            .ok_or_else(|| refuse("tlskey", "TLS Server private key must be present and valid"))?;
        let tls = TlsConfig {
            certs: vec![CertKeyPair {
                cert_file,
                key_file,
            }],
            ca_file: path(Target::TlsCaCert),
            verify: self.is_on(Target::TlsVerify),
            ..TlsConfig::default()
        };
        crate::tls::server_config(&tls).map_err(|e| refuse("tlscert", &e.to_string()))?;
        Ok(Some(tls))
    }
}

fn record(config: &mut Config, feature: &str, g: &Given) {
    config.unsupported.push(Unsupported {
        feature: feature.to_string(),
        origin: Origin {
            location: COMMAND_LINE.to_string(),
            key: g.written.clone(),
        },
    });
}

fn drop_feature(config: &mut Config, feature: &str) {
    config.unsupported.retain(|u| u.feature != feature);
}

/// `--user`/`--pass`/`--auth` must make sense together with the file's
/// `authorization`. nats-server silently ignores `--user` when the file has
/// a users list; refusing is safer than guessing which one was meant.
fn check_auth_flags(config: &Config) -> Result<(), ConfigError> {
    let auth = &config.auth;
    let conflict = |reason: &str| ConfigError::InvalidValue {
        location: COMMAND_LINE.to_string(),
        key: "--user/--pass/--auth".to_string(),
        reason: reason.to_string(),
    };
    if (auth.user.is_some() || auth.password.is_some()) && auth.token.is_some() {
        return Err(conflict("Cannot have a user/pass and token"));
    }
    if !auth.users.is_empty() && (auth.user.is_some() || auth.token.is_some()) {
        return Err(conflict(
            "Can not have a single user/pass or a token and a users array",
        ));
    }
    Ok(())
}
