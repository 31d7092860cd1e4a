//! The one `Config` struct every loader (TOML, nats-server `.conf`, CLI flags)
//! fills in, with nats-server's defaults.

use std::path::PathBuf;
use std::time::Duration;

use super::model_tls::TlsConfig;

/// Where a setting came from, so errors and "not supported yet" reports can
/// point at the exact file and line (or the command-line flag).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    /// `file:line` for config files, `command line` for flags.
    pub location: String,
    /// The key as the user wrote it — a dotted path for nested keys
    /// (`cluster.tls`, `authorization.users[0].nkey`) — or the flag as typed
    /// (`-js`, `--tls`).
    pub key: String,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.key)
    }
}

/// A user allowed to connect (from `authorization { users = [...] }` or
/// `--user/--pass`). `password` may be plain text or a bcrypt hash (`$2a$..`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserConfig {
    /// The name (empty for an nkey user).
    pub user: String,
    pub password: String,
    /// `nkey`: the user's public key (`U...`); the client proves it holds
    /// the seed by signing INFO's nonce.
    pub nkey: Option<String>,
    /// `allowed_connection_types` (upper case: `STANDARD`, `WEBSOCKET`,
    /// `LEAFNODE`, ...); empty = any.
    pub allowed_connection_types: Vec<String>,
    /// Allow/deny lists; enforced natively on every PUB/SUB.
    pub permissions: Option<Permissions>,
    /// The account the user belongs to (`None`: the global account `$G`).
    pub account: Option<String>,
}

impl UserConfig {
    /// What identifies the user: its nkey, else its name.
    pub fn id(&self) -> &str {
        self.nkey.as_deref().unwrap_or(&self.user)
    }

    /// nats-server's error for a second user with this identity.
    pub fn duplicate_error(&self) -> String {
        match &self.nkey {
            Some(key) => format!("Duplicate nkey {key:?} detected"),
            None => format!("Duplicate user {:?} detected", self.user),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Permissions {
    pub publish: SubjectPermission,
    pub subscribe: SubjectPermission,
    /// `allow_responses`: the user may publish to the reply subjects of
    /// the requests delivered to it.
    pub responses: Option<ResponsePermission>,
}

/// `allow_responses: true` or `{ max, expires }`, with nats-server's
/// defaults (one response, within two minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePermission {
    /// Responses per request; `None` = any number (a negative `max`).
    pub max: Option<u32>,
    /// How long after the request; `None` = no limit (negative `expires`).
    pub expires: Option<Duration>,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission {
            max: Some(1),
            expires: Some(Duration::from_secs(120)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubjectPermission {
    /// `None` means "everything allowed unless denied".
    pub allow: Option<Vec<String>>,
    pub deny: Vec<String>,
}

/// Client authentication, as nats-server's top-level `authorization {}` block
/// and the `--user --pass --auth` flags describe it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthConfig {
    /// Single-user shorthand (`authorization { user, password }` / `--user --pass`).
    pub user: Option<String>,
    pub password: Option<String>,
    /// `authorization { token }` / `--auth`. Plain or bcrypt.
    pub token: Option<String>,
    pub users: Vec<UserConfig>,
    /// Default permissions for users that have none of their own.
    pub default_permissions: Option<Permissions>,
    /// How long a new client has to send CONNECT (`authorization { timeout }`).
    pub timeout: Option<Duration>,
}

impl AuthConfig {
    /// True when any form of authentication is configured.
    pub fn required(&self) -> bool {
        self.user.is_some() || self.token.is_some() || !self.users.is_empty()
    }
}

/// One account of `accounts { NAME { users, exports, imports, jetstream } }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountConfig {
    pub name: String,
    pub users: Vec<UserConfig>,
    pub exports: Vec<ExportConfig>,
    pub imports: Vec<ImportConfig>,
    /// `jetstream: enabled` (or a limits map).
    pub jetstream: bool,
    /// The account's subject mappings, in the order written.
    pub mappings: Vec<MappingConfig>,
    pub origin: Origin,
}

/// One `mappings` entry: messages published on `subject` go to one of
/// `dests` (checked when loaded; see [`crate::subject::Mapping`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingConfig {
    pub subject: String,
    pub dests: Vec<crate::subject::mapping::Destination>,
    pub origin: Origin,
}

impl AccountConfig {
    /// This account's export that lets account `importer` take `imp`:
    /// same kind, a subject covering the import's, and `importer` among
    /// the allowed accounts (when the export names any).
    pub fn export_for(&self, imp: &ImportConfig, importer: &str) -> Option<&ExportConfig> {
        self.exports.iter().find(|e| {
            e.kind == imp.kind
                && super::apply_accounts::covers(&e.subject, &imp.subject)
                && e.accounts
                    .as_ref()
                    .is_none_or(|list| list.iter().any(|a| a == importer))
        })
    }
}

/// Whether an export or import is a stream (messages flow to the
/// importer) or a service (requests flow to the exporter, replies back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShareKind {
    #[default]
    Stream,
    Service,
}

impl ShareKind {
    /// The word nats-server uses for it (configs, messages, `/accountz`).
    pub fn as_str(self) -> &'static str {
        match self {
            ShareKind::Stream => "stream",
            ShareKind::Service => "service",
        }
    }
}

/// How many replies a service request may get back across accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseType {
    /// One reply (nats-server's default).
    #[default]
    Singleton,
    /// Any number of replies until the threshold passes.
    Stream,
    /// As `Stream` (nats-server's chunked replies).
    Chunked,
}

/// `exports: [{stream: SUBJECT} | {service: SUBJECT, response, threshold}, accounts]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportConfig {
    pub kind: ShareKind,
    pub subject: String,
    /// Accounts allowed to import it; `None`: any account.
    pub accounts: Option<Vec<String>>,
    pub response: ResponseType,
    /// How long a requester's reply route is kept (nats-server's 2 minutes).
    pub threshold: Option<Duration>,
    pub origin: Origin,
}

/// `imports: [{stream: {account, subject}, prefix | to} | {service: {account, subject}, to}]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportConfig {
    pub kind: ShareKind,
    /// The exporting account.
    pub account: String,
    /// The subject as the exporter has it.
    pub subject: String,
    /// Stream: the importer's subject for it; service: the subject the
    /// importer's clients publish requests to. `None`: the same subject.
    pub to: Option<String>,
    /// Stream only: a token put before the exporter's subject.
    pub prefix: Option<String>,
    pub origin: Origin,
}

/// Logging switches (`-D -V -DV -T -l`, `debug: true`, `log_file: ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub debug: bool,
    pub trace: bool,
    /// Trace the system account's own traffic too (`-VV`, `-DVV`,
    /// `trace_verbose`).
    pub trace_verbose: bool,
    /// Prefix lines with a timestamp (nats-server `logtime`, default true).
    /// Timestamps are always UTC (nats-server's `logtime_utc: true`).
    pub time: bool,
    pub file: Option<PathBuf>,
    /// Payload bytes a `MSG_PAYLOAD` trace line shows before `...`
    /// (`max_traced_msg_len`; 0: all).
    pub max_traced_msg_len: usize,
    /// Trace only a message's headers (`trace_headers`).
    pub trace_headers: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            debug: false,
            trace: false,
            trace_verbose: false,
            time: true,
            file: None,
            max_traced_msg_len: 0,
            trace_headers: false,
        }
    }
}

/// A feature that is present in the configuration but that Tern does not
/// implement yet (JetStream, cluster, leafnodes, websocket, TLS, accounts, ...).
/// The server refuses to start with these, naming each one and where it came
/// from; `tern -t` lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// Short feature name shared by every key and flag that needs it
    /// (`jetstream`, `cluster`, `tls`, `monitoring`, ...).
    pub feature: String,
    pub origin: Origin,
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.feature, self.origin)
    }
}

/// Something nats-server accepts but warns about (for example an integer
/// `ping_interval`, read as seconds). nats-server prints these at startup and
/// `nats-server -t` fails on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub origin: Origin,
    pub message: String,
}

impl std::fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

/// JetStream settings (`jetstream { store_dir, max_memory_store,
/// max_file_store }`, the top-level `store_dir`, `-js`, `-sd`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JetStreamConfig {
    pub enabled: bool,
    /// As configured; `None` means nats-server's default, the system temp
    /// directory. See [`JetStreamConfig::store_root`].
    pub store_dir: Option<PathBuf>,
    /// Bytes all memory streams may hold together; `None` = unlimited.
    pub max_memory_store: Option<u64>,
    /// Bytes all file streams may hold together; `None` = unlimited.
    pub max_file_store: Option<u64>,
    /// How often journaled writes are fsync'd; `None` = nats-server's
    /// default (2 minutes).
    pub sync_interval: Option<std::time::Duration>,
    /// `sync_interval: always`: fsync every write group before
    /// acknowledging it.
    pub sync_always: bool,
    /// `strict: false`: JetStream API requests with fields the API does
    /// not know are read anyway. Strict (refusing them) is nats-server's
    /// default, and Tern's.
    pub lenient: bool,
}

impl JetStreamConfig {
    /// Where JetStream keeps its files: `<store_dir>/jetstream`, like
    /// nats-server (which also defaults `store_dir` to the temp directory).
    pub fn store_root(&self) -> PathBuf {
        self.store_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir)
            .join("jetstream")
    }
}

/// The WebSocket listener (`websocket {}` / `ws {}`), nats-server's
/// option names. Present only when the block sets a port (nats-server
/// treats a block without one as websocket off).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebsocketConfig {
    /// Listen host; as in nats-server, every interface unless set (not the
    /// client listen host).
    pub host: String,
    /// Listen port; 0 = any free port (nats-server's -1).
    pub port: u16,
    /// `host:port` advertised to websocket clients (`advertise`).
    pub advertise: Option<String>,
    /// Plain `ws://` is allowed (without `tls` this must be set).
    pub no_tls: bool,
    /// `tls {}`: the listener serves `wss://`.
    pub tls: Option<TlsConfig>,
    /// Negotiate permessage-deflate with clients that offer it.
    pub compression: bool,
    /// The `Origin` header must match the request's `Host`.
    pub same_origin: bool,
    /// Only these origins (`scheme://host[:port]`) may connect; empty =
    /// any (unless `same_origin`).
    pub allowed_origins: Vec<String>,
    /// Time allowed for the HTTP upgrade; `None`: not configured (Tern
    /// still bounds it, see `websocket::DEFAULT_HANDSHAKE_TIMEOUT`).
    pub handshake_timeout: Option<Duration>,
    /// Cookie names whose values stand in for CONNECT's `jwt`, `user`,
    /// `pass` and `auth_token` when the client leaves them empty.
    pub jwt_cookie: Option<String>,
    pub username_cookie: Option<String>,
    pub password_cookie: Option<String>,
    pub token_cookie: Option<String>,
    /// Ping interval for websocket clients (overrides `ping_interval`).
    pub ping_interval: Option<Duration>,
    /// Extra headers sent with the `101 Switching Protocols` response, in
    /// the order written.
    pub headers: Vec<(String, String)>,
}

/// What happens when a plugin call fails (trap, timeout, memory cap, invalid
/// result) or the plugin is quarantined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Transforms and filters: the message is not delivered / not stored.
    Drop,
    /// Carry on as if the plugin were not there.
    Pass,
    /// Authorizers: the connection is refused.
    Deny,
}

/// One entry of `plugins [...]`: a WebAssembly component and how to run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginConfig {
    /// Name in logs and monitoring (default: the file name without `.wasm`).
    pub name: String,
    /// The component file; relative paths are relative to the config file.
    pub path: PathBuf,
    /// Subject transforms: the subjects they apply to (wildcards allowed).
    pub subjects: Vec<String>,
    /// Stream filters: the streams they apply to (empty = every stream).
    pub streams: Vec<String>,
    /// The plugin's own `config` table, flattened: nested keys joined with
    /// dots, array elements numbered, values as text.
    pub config: Vec<(String, String)>,
    /// Linear memory cap per instance, bytes.
    pub max_memory: usize,
    /// CPU deadline per call.
    pub timeout: Duration,
    /// `None`: the hook's default (deny for authorizers, drop otherwise).
    pub on_failure: Option<FailurePolicy>,
    /// A required plugin that cannot load stops start-up (or a reload);
    /// an optional one is skipped with a warning.
    pub required: bool,
    /// Instances kept ready between calls.
    pub pool_size: usize,
    /// Failed calls in a row before the plugin is quarantined.
    pub quarantine_after: u32,
    pub origin: Origin,
}

/// nats-server's `DEFAULT_CONNECT_ERROR_REPORTS`.
pub const DEFAULT_CONNECT_ERROR_REPORTS: u64 = 3600;
/// nats-server's `DEFAULT_RECONNECT_ERROR_REPORTS`.
pub const DEFAULT_RECONNECT_ERROR_REPORTS: u64 = 1;
pub const DEFAULT_PLUGIN_MAX_MEMORY: usize = 16 * 1024 * 1024;
pub const DEFAULT_PLUGIN_TIMEOUT: Duration = Duration::from_millis(5);
pub const DEFAULT_PLUGIN_POOL_SIZE: usize = 2;
pub const DEFAULT_PLUGIN_QUARANTINE_AFTER: u32 = 10;

/// `leafnodes { ... }`: accepting leaf connections (`host`/`port`/`listen`
/// with their own `authorization`) and soliciting them (`remotes`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeafNodeConfig {
    /// Where to accept leaf connections: `None` = not listening.
    pub listen: Option<(String, u16)>,
    /// `advertise`: the URL given to soliciting servers instead of ours.
    pub advertise: Option<String>,
    /// Users, token or single user that leaf connections authenticate with.
    pub auth: AuthConfig,
    pub remotes: Vec<LeafRemoteConfig>,
    /// Delay between attempts to reconnect a remote (`reconnect`,
    /// nats-server's default 1 s).
    pub reconnect: Option<Duration>,
    /// `write_deadline` for leaf links (else the top-level one, at least
    /// 10 s).
    pub write_deadline: Option<Duration>,
    /// `write_timeout` for leaf links (`default`: retry).
    pub write_timeout: WritePolicy,
    /// How long dialling a remote may take (`dial_timeout`; a remote's
    /// own setting wins). Unset: 5 s (nats-server's 1 s is short for the
    /// high-latency uplinks edge gateways have).
    pub dial_timeout: Option<Duration>,
    /// `tls {}`: leaf links accepted on the leafnode port use TLS.
    pub tls: Option<TlsConfig>,
}

/// `write_timeout` as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WritePolicy {
    /// `default`: `close` for clients, `retry` for links.
    #[default]
    Default,
    Close,
    Retry,
}

impl WritePolicy {
    /// The `write_timeout` value, as nats-server parses it.
    pub fn parse(text: &str) -> Option<WritePolicy> {
        match text {
            "default" => Some(WritePolicy::Default),
            "close" => Some(WritePolicy::Close),
            "retry" => Some(WritePolicy::Retry),
            _ => None,
        }
    }
}

/// One entry of `leafnodes { remotes [...] }`: a hub to connect to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeafRemoteConfig {
    /// `url` / `urls`: tried in turn; credentials may be in the URL.
    pub urls: Vec<String>,
    /// Local account bound to the link (only the global account exists).
    pub account: Option<String>,
    /// Subjects whose messages are not taken from the hub.
    pub deny_imports: Vec<String>,
    /// Subjects whose messages are not sent to the hub.
    pub deny_exports: Vec<String>,
    /// `hub: true`: the remote is our leaf, we are its hub.
    pub hub: bool,
    /// `ws_compression`: ask for permessage-deflate on a `ws://` link.
    pub ws_compression: bool,
    /// `dial_timeout` of this remote.
    pub dial_timeout: Option<Duration>,
    /// `tls {}`: the link to this remote uses TLS, with these roots (and
    /// client certificate). Without it, TLS is still used when the URL is
    /// `tls://` or `wss://` or the hub's INFO requires it.
    pub tls: Option<TlsConfig>,
    pub origin: Origin,
}

/// Everything the broker needs to start. Defaults are nats-server's.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub server_name: Option<String>,
    /// Top-level `mappings`: those of the global account.
    pub mappings: Vec<MappingConfig>,
    /// `server_tags`: labels operators give servers, shown in `/varz`.
    pub server_tags: Vec<String>,
    /// `server_metadata`: key/value pairs shown in `/varz`.
    pub server_metadata: std::collections::BTreeMap<String, String>,
    /// Client listen host (`host`, `net`, `listen`, `-a`).
    pub host: String,
    /// Client listen port; 0 means "pick a free port" (nats-server's `-1`).
    pub port: u16,
    pub client_advertise: Option<String>,
    /// The client port's `tls {}` block (or `--tls` and its flags).
    pub tls: Option<TlsConfig>,
    /// `allow_non_tls`: with `tls`, clients may also connect in the clear.
    pub allow_non_tls: bool,
    /// `no_auth_user`: the user (name or nkey) a client that presents no
    /// credentials connects as.
    pub no_auth_user: Option<String>,
    /// Largest message payload a client may publish (bytes).
    pub max_payload: usize,
    /// Longest protocol line accepted (bytes).
    pub max_control_line: usize,
    /// Outbound bytes a connection may have pending before it is cut off as
    /// a slow consumer.
    pub max_pending: usize,
    /// 0 means no client may connect: nats-server turns `max_connections: 0`
    /// (or a negative value) into "refuse every client".
    pub max_connections: usize,
    /// 0 = unlimited.
    pub max_subscriptions: usize,
    /// A leaf remote that never linked logs its first failed dial and then
    /// every this many (`connect_error_reports`, nats-server's 3600; the
    /// others are debug lines).
    pub connect_error_reports: u64,
    /// The same for a remote that was linked before
    /// (`reconnect_error_reports`, default 1: every failure).
    pub reconnect_error_reports: u64,
    /// Most tokens a subscription's subject may have (`max_sub_tokens`;
    /// 0: no limit).
    pub max_sub_tokens: usize,
    /// `disable_sublist_cache`: every publish matches in the sublist.
    pub no_match_cache: bool,
    pub ping_interval: Duration,
    pub ping_max: u32,
    pub write_deadline: Duration,
    /// `write_timeout`: what a passed write deadline does to a client.
    pub write_timeout: WritePolicy,
    /// Drop a client's messages to a receiver that is behind instead of
    /// making the client wait (`no_fast_producer_stall`).
    pub no_fast_producer_stall: bool,
    pub lame_duck_duration: Duration,
    pub lame_duck_grace_period: Duration,
    /// Disable headers support advertised in INFO (`no_header_support`).
    pub no_header_support: bool,
    pub auth: AuthConfig,
    pub log: LogConfig,
    pub pid_file: Option<PathBuf>,
    /// Directory for the `<exe>_<pid>.ports` file listing the bound URLs
    /// (`ports_file_dir`, `--ports_file_dir`).
    pub ports_file_dir: Option<PathBuf>,
    /// HTTP monitoring port (`-m`, `http_port`, `monitor_port`, `http`):
    /// `None` = off (nats-server's 0), `Some(0)` = any free port (its -1).
    pub http_port: Option<u16>,
    /// HTTPS monitoring port (`-ms`, `https_port`, `https`): the monitor
    /// served over TLS with the client port's certificate.
    pub https_port: Option<u16>,
    /// Monitoring listen host (`http: "host:port"`); `None` = the client
    /// listen host, as in nats-server.
    pub http_host: Option<String>,
    /// Path prefix of every monitoring endpoint (`http_base_path`).
    pub http_base_path: String,
    /// `no_system_account`: no `$SYS.REQ.SERVER...` requests are answered.
    pub no_system_account: bool,
    /// `system_account`: the account whose users may send the
    /// `$SYS.REQ.SERVER...` requests (`None`: `$SYS`).
    pub system_account: Option<String>,
    /// `accounts { ... }`: isolated subject spaces, their users, and the
    /// streams and services they share.
    pub accounts: Vec<AccountConfig>,
    /// Closed connections remembered for `/connz?state=closed`
    /// (`max_closed_clients`).
    pub max_closed_clients: usize,
    /// JetStream (`jetstream {}`, `-js`, `-sd`).
    pub jetstream: JetStreamConfig,
    pub leafnodes: LeafNodeConfig,
    /// The WebSocket listener, when configured with a port.
    pub websocket: Option<WebsocketConfig>,
    /// WebAssembly plugins (`plugins [...]`), in the order they apply.
    pub plugins: Vec<PluginConfig>,
    /// Where compiled plugin code is cached (`plugin_cache_dir`); `None`:
    /// `<temp dir>/tern-plugin-cache`.
    pub plugin_cache_dir: Option<PathBuf>,
    /// File the config was loaded from (used by SIGHUP reload).
    pub config_file: Option<PathBuf>,
    /// Configured features Tern does not implement yet.
    pub unsupported: Vec<Unsupported>,
    /// Accepted, but worth telling the operator about at startup.
    pub warnings: Vec<ConfigWarning>,
}

pub const DEFAULT_PORT: u16 = 4222;
pub const DEFAULT_HOST: &str = "0.0.0.0";
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;
pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;
pub const DEFAULT_MAX_PENDING: usize = 64 * 1024 * 1024;
pub const DEFAULT_MAX_CONNECTIONS: usize = 64 * 1024;
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(120);
pub const DEFAULT_PING_MAX: u32 = 2;
pub const DEFAULT_WRITE_DEADLINE: Duration = Duration::from_secs(10);
pub const DEFAULT_LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
pub const DEFAULT_MAX_CLOSED_CLIENTS: usize = 10_000;
pub const DEFAULT_LAME_DUCK_GRACE_PERIOD: Duration = Duration::from_secs(10);

/// nats-server's global account: clients without an account are in it.
pub const GLOBAL_ACCOUNT: &str = "$G";
/// The system account's name when `system_account` does not say.
pub const DEFAULT_SYSTEM_ACCOUNT: &str = "$SYS";

impl Config {
    /// The system account's name (`system_account`, else `$SYS`).
    pub fn system_account_name(&self) -> &str {
        self.system_account
            .as_deref()
            .unwrap_or(DEFAULT_SYSTEM_ACCOUNT)
    }

    /// Where compiled plugin code is cached.
    pub fn plugin_cache(&self) -> PathBuf {
        self.plugin_cache_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("tern-plugin-cache"))
    }

    /// The host the monitoring listener binds to.
    pub fn monitor_host(&self) -> &str {
        self.http_host.as_deref().unwrap_or(&self.host)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server_name: None,
            mappings: Vec::new(),
            server_tags: Vec::new(),
            server_metadata: Default::default(),
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            client_advertise: None,
            tls: None,
            allow_non_tls: false,
            no_auth_user: None,
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
            max_pending: DEFAULT_MAX_PENDING,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_subscriptions: 0,
            max_sub_tokens: 0,
            connect_error_reports: DEFAULT_CONNECT_ERROR_REPORTS,
            reconnect_error_reports: DEFAULT_RECONNECT_ERROR_REPORTS,
            no_match_cache: false,
            ping_interval: DEFAULT_PING_INTERVAL,
            ping_max: DEFAULT_PING_MAX,
            write_deadline: DEFAULT_WRITE_DEADLINE,
            write_timeout: WritePolicy::Default,
            no_fast_producer_stall: false,
            lame_duck_duration: DEFAULT_LAME_DUCK_DURATION,
            lame_duck_grace_period: DEFAULT_LAME_DUCK_GRACE_PERIOD,
            no_header_support: false,
            auth: AuthConfig::default(),
            log: LogConfig::default(),
            pid_file: None,
            ports_file_dir: None,
            http_port: None,
            https_port: None,
            http_host: None,
            http_base_path: String::new(),
            no_system_account: false,
            system_account: None,
            accounts: Vec::new(),
            max_closed_clients: DEFAULT_MAX_CLOSED_CLIENTS,
            jetstream: JetStreamConfig::default(),
            websocket: None,
            plugins: Vec::new(),
            plugin_cache_dir: None,
            leafnodes: LeafNodeConfig::default(),
            config_file: None,
            unsupported: Vec::new(),
            warnings: Vec::new(),
        }
    }
}
