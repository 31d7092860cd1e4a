//! Applies a parsed [`Table`] to [`Config`] key by key, with nats-server's
//! key names and aliases (matched case-insensitively), value types, range
//! checks and zero-means-default rules. Keys of nats-server features Tern
//! lacks are recorded in [`Config::unsupported`] unless their value leaves
//! the feature off; keys nats-server does not know are errors. Like
//! nats-server, every problem in the file is reported, not just the first.
//!
//! The `authorization` block lives in [`super::apply_auth`].

use std::path::PathBuf;
use std::time::Duration;

use super::error::ConfigError;
use super::model::*;
use super::units;
use super::unsupported;
use super::value::{Entry, Kind, Table, Value};

/// Which syntax the table came from. TOML has no size literals, so there a
/// size may also be a string such as `"1MB"`; in .conf nats-server requires
/// an unquoted number and so do we.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Conf,
    Toml,
}

pub(crate) fn apply(
    table: &Table,
    dialect: Dialect,
    config: &mut Config,
) -> Result<(), ConfigError> {
    let mut cx = Applier {
        dialect,
        config,
        errors: Vec::new(),
        set_at: SetAt::default(),
    };
    for entry in &table.entries {
        let field = Field::top(entry);
        if let Err(e) = cx.top_level(entry, &field) {
            cx.errors.push(e);
        }
    }
    cx.check_combinations();
    ConfigError::collect(cx.errors)
}

/// A value and the dotted key path it was found at.
pub(super) struct Field<'v> {
    pub path: String,
    pub value: &'v Value,
}

impl<'v> Field<'v> {
    fn top(entry: &'v Entry) -> Self {
        Field {
            path: entry.key.clone(),
            value: &entry.value,
        }
    }

    pub fn child(&self, entry: &'v Entry) -> Field<'v> {
        Field {
            path: format!("{}.{}", self.path, entry.key),
            value: &entry.value,
        }
    }

    pub fn index(&self, i: usize, value: &'v Value) -> Field<'v> {
        Field {
            path: format!("{}[{i}]", self.path),
            value,
        }
    }

    pub fn location(&self) -> String {
        self.value.pos.to_string()
    }

    pub fn origin(&self) -> Origin {
        Origin {
            location: self.location(),
            key: self.path.clone(),
        }
    }

    pub fn wrong_type(&self, expected: &'static str) -> ConfigError {
        ConfigError::WrongType {
            location: self.location(),
            key: self.path.clone(),
            expected,
            found: self.value.describe(),
        }
    }

    pub fn invalid(&self, reason: impl Into<String>) -> ConfigError {
        ConfigError::InvalidValue {
            location: self.location(),
            key: self.path.clone(),
            reason: reason.into(),
        }
    }

    pub fn unknown(&self) -> ConfigError {
        ConfigError::UnknownKey {
            location: self.location(),
            key: self.path.clone(),
        }
    }

    pub fn string(&self) -> Result<&'v str, ConfigError> {
        match &self.value.kind {
            Kind::String(s) => Ok(s),
            _ => Err(self.wrong_type("a string")),
        }
    }

    pub fn bool(&self) -> Result<bool, ConfigError> {
        match self.value.kind {
            Kind::Bool(b) => Ok(b),
            _ => Err(self.wrong_type("a boolean (true/false, yes/no, on/off)")),
        }
    }

    pub fn int(&self) -> Result<i64, ConfigError> {
        match self.value.kind {
            Kind::Integer { value, .. } => Ok(value),
            _ => Err(self.wrong_type("an integer")),
        }
    }

    /// A string or an array of strings (nats-server takes either where a
    /// list is expected).
    pub fn strings(&self) -> Result<Vec<String>, ConfigError> {
        match &self.value.kind {
            Kind::String(s) => Ok(vec![s.clone()]),
            Kind::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| self.index(i, v).string().map(str::to_string))
                .collect(),
            _ => Err(self.wrong_type("a string or an array of strings")),
        }
    }

    pub fn table(&self) -> Result<&'v Table, ConfigError> {
        match &self.value.kind {
            Kind::Table(t) => Ok(t),
            _ => Err(self.wrong_type("a map")),
        }
    }

    pub fn array(&self) -> Result<&'v [Value], ConfigError> {
        match &self.value.kind {
            Kind::Array(items) => Ok(items),
            _ => Err(self.wrong_type("an array")),
        }
    }

    /// A byte count: an integer (with a size suffix in .conf), or in TOML
    /// also a string like `"64MB"`.
    pub fn size(&self, dialect: Dialect) -> Result<i64, ConfigError> {
        match (&self.value.kind, dialect) {
            (Kind::Integer { value, .. }, _) => Ok(*value),
            (Kind::String(s), Dialect::Toml) => units::parse_size(s).map_err(|e| self.invalid(e)),
            (_, Dialect::Toml) => {
                Err(self.wrong_type("an integer or a size string such as \"64MB\""))
            }
            (_, Dialect::Conf) => {
                Err(self.wrong_type("an integer (sizes such as 64MB are written without quotes)"))
            }
        }
    }

    /// A Go duration string (`"2m"`, `"500ms"`), as signed nanoseconds.
    pub fn go_duration(&self) -> Result<i64, ConfigError> {
        let text = self
            .string()
            .map_err(|_| self.wrong_type("a duration string such as \"10s\""))?;
        let name = self.path.rsplit('.').next().unwrap_or(&self.path);
        units::parse_go_duration(text)
            .map_err(|e| self.invalid(format!("error parsing {name}: {e}")))
    }
}

/// Where the settings that are checked against each other were set.
#[derive(Default)]
struct SetAt {
    max_payload: Option<Origin>,
    max_pending: Option<Origin>,
    lame_duck_duration: Option<Origin>,
    lame_duck_grace_period: Option<Origin>,
    system_account: Option<Origin>,
    no_auth_user: Option<Origin>,
}

pub(super) struct Applier<'c> {
    pub dialect: Dialect,
    pub config: &'c mut Config,
    pub errors: Vec<ConfigError>,
    set_at: SetAt,
}

/// nats-server's smallest lame-duck duration.
const MIN_LAME_DUCK_DURATION: Duration = Duration::from_secs(30);
/// nats-server warns about larger payloads.
const MAX_PAYLOAD_WARN: usize = 8 * 1024 * 1024;

impl Applier<'_> {
    pub fn unsupported(&mut self, feature: &str, field: &Field<'_>) {
        self.config.unsupported.push(Unsupported {
            feature: feature.to_string(),
            origin: field.origin(),
        });
    }

    pub fn warn(&mut self, field: &Field<'_>, message: String) {
        self.config.warnings.push(ConfigWarning {
            origin: field.origin(),
            message,
        });
    }

    fn top_level(&mut self, entry: &Entry, f: &Field<'_>) -> Result<(), ConfigError> {
        let key = entry.key.to_lowercase();
        match key.as_str() {
            "listen" => {
                let (host, port) = listen(f)?;
                if let Some(host) = host {
                    self.config.host = host_or_default(&host);
                }
                self.config.port = client_port(f, port)?;
            }
            "port" => self.config.port = client_port(f, f.int()?)?,
            "host" | "net" => self.config.host = host_or_default(f.string()?),
            "client_advertise" => self.config.client_advertise = non_empty(f.string()?),
            "tls" => self.config.tls = Some(super::apply_tls::tls_block(self, f)?),
            "allow_non_tls" => self.config.allow_non_tls = f.bool()?,
            "no_auth_user" => {
                self.config.no_auth_user = non_empty(f.string()?);
                self.set_at.no_auth_user = Some(f.origin());
            }
            "server_name" => {
                let name = f.string()?;
                if name.contains(' ') {
                    return Err(f.invalid("server name cannot contain spaces"));
                }
                self.config.server_name = non_empty(name);
            }
            "mappings" | "maps" => {
                let list = super::apply_mappings::mappings(self, f);
                self.config.mappings.extend(list);
            }
            "server_tags" => {
                for tag in f.strings()? {
                    let tag = tag.trim().to_string();
                    if !self.config.server_tags.contains(&tag) {
                        self.config.server_tags.push(tag);
                    }
                }
            }
            "server_metadata" => {
                for entry in &f.table()?.entries {
                    let value = f.child(entry).string()?.to_string();
                    self.config.server_metadata.insert(entry.key.clone(), value);
                }
            }
            "debug" => self.config.log.debug = f.bool()?,
            "trace" => self.config.log.trace = f.bool()?,
            // Verbose tracing adds the system account's own traffic.
            "trace_verbose" => {
                let on = f.bool()?;
                self.config.log.trace = on;
                self.config.log.trace_verbose = on;
            }
            "trace_headers" => {
                let on = f.bool()?;
                self.config.log.trace = on;
                self.config.log.trace_headers = on;
            }
            // Tern's timestamps are UTC either way.
            "logtime_utc" => {
                f.bool()?;
            }
            "max_traced_msg_len" => {
                self.config.log.max_traced_msg_len = to_usize(f, f.int()?.max(0))?
            }
            "max_sub_tokens" | "max_subscription_tokens" => {
                let v = f.int()?;
                if v > 255 {
                    return Err(f.invalid(format!("{key} value is too big")));
                }
                if v <= 0 {
                    return Err(f.invalid(format!("{key} value can not be negative")));
                }
                self.config.max_sub_tokens = to_usize(f, v)?
            }
            // Zero or less keeps nats-server's default.
            "connect_error_reports" => {
                self.config.connect_error_reports = u64::try_from(f.int()?)
                    .ok()
                    .filter(|&n| n > 0)
                    .unwrap_or(super::model::DEFAULT_CONNECT_ERROR_REPORTS)
            }
            "reconnect_error_reports" => {
                self.config.reconnect_error_reports = u64::try_from(f.int()?)
                    .ok()
                    .filter(|&n| n > 0)
                    .unwrap_or(super::model::DEFAULT_RECONNECT_ERROR_REPORTS)
            }
            "disable_sublist_cache" | "no_sublist_cache" => {
                self.config.no_match_cache = f.bool()?
            }
            "logtime" => self.config.log.time = f.bool()?,
            "logfile" | "log_file" => {
                self.config.log.file = non_empty(f.string()?).map(PathBuf::from)
            }
            "pidfile" | "pid_file" => {
                self.config.pid_file = non_empty(f.string()?).map(PathBuf::from)
            }
            "max_control_line" => {
                self.config.max_control_line = self.int32_size(f, DEFAULT_MAX_CONTROL_LINE)?
            }
            "max_payload" => {
                self.config.max_payload = self.int32_size(f, DEFAULT_MAX_PAYLOAD)?;
                self.set_at.max_payload = Some(f.origin());
                if self.config.max_payload > MAX_PAYLOAD_WARN {
                    self.warn(f, "max_payload over 8MB is generally discouraged and could lead to poor performance".into());
                }
            }
            "max_pending" => {
                let v = non_negative(f, f.size(self.dialect)?)?;
                self.config.max_pending = if v == 0 {
                    DEFAULT_MAX_PENDING
                } else {
                    to_usize(f, v)?
                };
                self.set_at.max_pending = Some(f.origin());
            }
            // nats-server refuses every client when this is 0 or negative.
            "max_connections" | "max_conn" => {
                self.config.max_connections = to_usize(f, f.int()?.max(0))?
            }
            "max_subscriptions" | "max_subs" => {
                self.config.max_subscriptions = to_usize(f, f.int()?.max(0))?
            }
            "ping_interval" => {
                self.config.ping_interval = self
                    .duration_or_seconds(f)?
                    .unwrap_or(DEFAULT_PING_INTERVAL)
            }
            "write_deadline" => {
                self.config.write_deadline = self
                    .duration_or_seconds(f)?
                    .unwrap_or(DEFAULT_WRITE_DEADLINE)
            }
            "write_timeout" => self.config.write_timeout = write_policy(f)?,
            "no_fast_producer_stall" => self.config.no_fast_producer_stall = f.bool()?,
            "ping_max" => {
                let v = non_negative(f, f.int()?)?;
                self.config.ping_max = match v {
                    0 => DEFAULT_PING_MAX,
                    v => u32::try_from(v).map_err(|_| f.invalid("ping_max value is too big"))?,
                };
            }
            "lame_duck_duration" => {
                let d = units::nanos_to_duration(f.go_duration()?).unwrap_or_default();
                if d < MIN_LAME_DUCK_DURATION {
                    let shown = units::format_go_duration(d);
                    return Err(f.invalid(format!(
                        "invalid lame_duck_duration of {shown}, minimum is 30 seconds"
                    )));
                }
                self.config.lame_duck_duration = d;
                self.set_at.lame_duck_duration = Some(f.origin());
            }
            "lame_duck_grace_period" => {
                let d = units::nanos_to_duration(f.go_duration()?).ok_or_else(|| {
                    f.invalid("invalid lame_duck_grace_period, needs to be positive")
                })?;
                self.config.lame_duck_grace_period = if d.is_zero() {
                    DEFAULT_LAME_DUCK_GRACE_PERIOD
                } else {
                    d
                };
                self.set_at.lame_duck_grace_period = Some(f.origin());
            }
            "no_header_support" => self.config.no_header_support = f.bool()?,
            "http" => {
                let (host, port) = listen(f)?;
                if let Some(host) = host {
                    self.config.http_host = non_empty(&host);
                }
                self.config.http_port = monitor_port(port).map_err(|e| f.invalid(e))?;
            }
            "http_port" | "monitor_port" => {
                self.config.http_port = monitor_port(f.int()?).map_err(|e| f.invalid(e))?
            }
            "https" => {
                let (host, port) = listen(f)?;
                if let Some(host) = host {
                    self.config.http_host = non_empty(&host);
                }
                self.config.https_port = monitor_port(port).map_err(|e| f.invalid(e))?;
            }
            "https_port" => {
                self.config.https_port = monitor_port(f.int()?).map_err(|e| f.invalid(e))?
            }
            "no_system_account" | "no_system" | "no_sys_acc" => {
                self.config.no_system_account = f.bool()?
            }
            "http_base_path" => self.config.http_base_path = f.string()?.to_string(),
            "max_closed_clients" => {
                let v = non_negative(f, f.int()?)?;
                self.config.max_closed_clients = if v == 0 {
                    DEFAULT_MAX_CLOSED_CLIENTS
                } else {
                    to_usize(f, v)?
                };
            }
            "ports_file_dir" => {
                self.config.ports_file_dir = non_empty(f.string()?).map(PathBuf::from)
            }
            "authorization" => super::apply_auth::authorization(self, f)?,
            "accounts" => super::apply_accounts::accounts(self, f)?,
            "system_account" | "system" => {
                self.config.system_account = non_empty(f.string()?);
                self.set_at.system_account = Some(f.origin());
            }
            "jetstream" => super::apply_jetstream::jetstream(self, f)?,
            "store_dir" | "storedir" => super::apply_jetstream::top_level_store_dir(self, f)?,
            "websocket" | "ws" => super::apply_websocket::websocket(self, f)?,
            "plugins" => super::apply_plugins::plugins(self, f)?,
            "leaf" | "leafnodes" => super::apply_leafnodes::leafnodes(self, f)?,
            "plugin_cache_dir" => super::apply_plugins::cache_dir(self, f)?,
            _ => match unsupported::feature_of(&key) {
                Some((feature, gate)) => {
                    if gate.is_open(f)? {
                        self.unsupported(feature, f);
                    }
                }
                // A key that only holds a value for `$key` is allowed, as in nats-server.
                None if entry.used_as_variable => {}
                None => return Err(f.unknown()),
            },
        }
        Ok(())
    }

    /// `max_payload` / `max_control_line`: nats-server stores them in 32 bits.
    fn int32_size(&self, f: &Field<'_>, default: usize) -> Result<usize, ConfigError> {
        let v = non_negative(f, f.size(self.dialect)?)?;
        if v > i64::from(i32::MAX) {
            let name = f.path.as_str();
            return Err(f.invalid(format!("{name} value is too big")));
        }
        if v == 0 {
            return Ok(default);
        }
        to_usize(f, v)
    }

    /// `ping_interval` / `write_deadline`: a duration string, or (the old
    /// form, which nats-server warns about) an integer number of seconds.
    /// `None` for zero, which means the default.
    pub(super) fn duration_or_seconds(
        &mut self,
        f: &Field<'_>,
    ) -> Result<Option<Duration>, ConfigError> {
        let nanos = match &f.value.kind {
            Kind::String(_) => f.go_duration()?,
            Kind::Integer { value, suffix } => {
                if let Some(warning) =
                    seconds_warning(self.dialect, &f.path, *value, suffix.as_deref())
                {
                    self.warn(f, warning);
                }
                value
                    .checked_mul(1_000_000_000)
                    .ok_or_else(|| f.invalid(format!("{value} seconds is out of range")))?
            }
            _ => {
                return Err(f.wrong_type(
                    "a duration string such as \"2m\" or an integer number of seconds",
                ))
            }
        };
        let d = units::nanos_to_duration(nanos).ok_or_else(|| f.invalid("must not be negative"))?;
        Ok((!d.is_zero()).then_some(d))
    }

    /// The checks nats-server makes across settings when the server starts.
    fn check_combinations(&mut self) {
        let across_accounts =
            super::apply_accounts::check(self.config, self.set_at.system_account.as_ref());
        self.errors.extend(across_accounts);
        if let (Some(name), Some(at)) = (&self.config.no_auth_user, &self.set_at.no_auth_user) {
            if let Err(reason) = super::apply_auth::check_no_auth_user(self.config, name) {
                self.errors.push(invalid_at(at.clone(), reason));
            }
        }
        if let Some(second) = self.config.accounts.iter().filter(|a| a.jetstream).nth(1) {
            self.config.unsupported.push(Unsupported {
                feature: "jetstream in more than one account".into(),
                origin: second.origin.clone(),
            });
        }
        let c = &self.config;
        if c.max_payload > c.max_pending {
            if let Some(origin) = self
                .set_at
                .max_payload
                .clone()
                .or(self.set_at.max_pending.clone())
            {
                let reason = format!(
                    "max_payload ({}) cannot be higher than max_pending ({})",
                    c.max_payload, c.max_pending
                );
                self.errors.push(invalid_at(origin, reason));
            }
        }
        if c.lame_duck_grace_period >= c.lame_duck_duration {
            let at = self
                .set_at
                .lame_duck_grace_period
                .clone()
                .or(self.set_at.lame_duck_duration.clone());
            if let Some(origin) = at {
                let reason = format!(
                    "lame duck grace period ({}) should be strictly lower than lame duck duration ({})",
                    units::format_go_duration(c.lame_duck_grace_period),
                    units::format_go_duration(c.lame_duck_duration)
                );
                self.errors.push(invalid_at(origin, reason));
            }
        }
    }
}

/// nats-server warns when a duration is written as an integer. An unquoted
/// `2m` deserves saying why it is not two minutes: `m` is a size suffix, so
/// it is the number two million.
fn seconds_warning(
    dialect: Dialect,
    name: &str,
    value: i64,
    suffix: Option<&str>,
) -> Option<String> {
    let advice = match suffix {
        Some(s) => {
            let written = format!("{}{s}", value / units::size_multiplier(s).unwrap_or(1));
            format!(
                "an unquoted {written} is the number {value} ('{s}' is a size suffix), read as {value} seconds; quote durations: \"{written}\""
            )
        }
        // Integers are a plain, documented form in Tern's TOML.
        None if dialect == Dialect::Toml => return None,
        None => format!("an integer is read as seconds; write \"{value}s\" instead"),
    };
    Some(format!(
        "{name} should be converted to a duration: {advice}"
    ))
}

/// `write_timeout`, with nats-server's error for anything else.
pub(super) fn write_policy(f: &Field<'_>) -> Result<super::model::WritePolicy, ConfigError> {
    super::model::WritePolicy::parse(f.string()?)
        .ok_or_else(|| f.invalid("write_timeout must be 'default', 'close' or 'retry'"))
}

pub(super) fn invalid_at(origin: Origin, reason: String) -> ConfigError {
    ConfigError::InvalidValue {
        location: origin.location,
        key: origin.key,
        reason,
    }
}

/// `listen`-style values: a port, or `host:port` (`[v6]:port`, `:port`).
/// Returns the host when one was written.
pub(super) fn listen(f: &Field<'_>) -> Result<(Option<String>, i64), ConfigError> {
    match &f.value.kind {
        Kind::Integer { value, .. } => Ok((None, *value)),
        Kind::String(s) => {
            let (host, port) = split_host_port(s)
                .ok_or_else(|| f.invalid(format!("could not parse address string {s:?}")))?;
            let port = port
                .parse::<i64>()
                .map_err(|_| f.invalid(format!("could not parse port {port:?}")))?;
            Ok((Some(host.to_string()), port))
        }
        _ => Err(f.wrong_type("a port or host:port")),
    }
}

/// Go's `net.SplitHostPort`: IPv6 hosts must be bracketed.
pub(super) fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return (!port.contains(':')).then_some((host, port));
    }
    let (host, port) = s.rsplit_once(':')?;
    (!host.contains(':') && !host.contains('[') && !host.contains(']') && !port.contains(']'))
        .then_some((host, port))
}

/// nats-server's port rules: 0 means the default port, -1 a random one
/// (Tern's 0).
pub(super) fn port_from(value: i64) -> Result<u16, String> {
    match value {
        -1 => Ok(0),
        0 => Ok(DEFAULT_PORT),
        1..=65535 => Ok(value as u16),
        _ => Err(format!("port {value} is out of range (1-65535, 0 for the default {DEFAULT_PORT}, -1 for a random port)")),
    }
}

/// nats-server's monitoring port rules: 0 leaves monitoring off, -1 picks
/// a random port (Tern's `Some(0)`).
pub(super) fn monitor_port(value: i64) -> Result<Option<u16>, String> {
    match value {
        0 => Ok(None),
        -1 => Ok(Some(0)),
        1..=65535 => Ok(Some(value as u16)),
        _ => Err(format!(
            "monitoring port {value} is out of range (1-65535, 0 for off, -1 for a random port)"
        )),
    }
}

fn client_port(f: &Field<'_>, value: i64) -> Result<u16, ConfigError> {
    port_from(value).map_err(|e| f.invalid(e))
}

/// nats-server binds to all interfaces when the host is left empty.
pub(super) fn host_or_default(host: &str) -> String {
    if host.is_empty() {
        DEFAULT_HOST.to_string()
    } else {
        host.to_string()
    }
}

pub(super) fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn non_negative(f: &Field<'_>, v: i64) -> Result<i64, ConfigError> {
    if v < 0 {
        return Err(f.invalid(format!("{v} is negative; expected 0 (the default) or more")));
    }
    Ok(v)
}

fn to_usize(f: &Field<'_>, v: i64) -> Result<usize, ConfigError> {
    usize::try_from(v).map_err(|_| f.invalid(format!("{v} does not fit this platform")))
}
