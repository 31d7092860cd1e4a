//! `/varz`: the server's identity, limits, and counters, with nats-server's
//! field names, order and types. Subsystems Tern does not have yet
//! (cluster, gateway, leafnodes, MQTT) appear as the empty objects
//! nats-server shows when they are off; so do websocket and JetStream when
//! not configured.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use crate::protocol::info::NATS_COMPAT_VERSION;
use crate::server::state::Shared;

use super::format::{rfc3339, uptime};
use super::listener::MonitorState;
use super::process::rss_bytes;

#[derive(Debug, Serialize)]
pub struct Varz {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    /// Tern's own version (`version` is the NATS server version Tern is
    /// compatible with, as in INFO).
    pub tern_version: String,
    pub proto: u32,
    pub go: String,
    pub host: String,
    pub port: u16,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    pub max_connections: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_subscriptions: usize,
    /// Nanoseconds, like Go's `time.Duration`.
    pub ping_interval: u64,
    pub ping_max: u32,
    pub http_host: String,
    pub http_port: u16,
    pub http_base_path: String,
    pub https_port: u16,
    /// Seconds.
    pub auth_timeout: f64,
    pub max_control_line: usize,
    pub max_payload: usize,
    pub max_pending: usize,
    pub cluster: Empty,
    pub gateway: Empty,
    /// `{}` without leaf nodes; port and remotes when configured.
    pub leaf: serde_json::Value,
    pub mqtt: Empty,
    pub websocket: WebsocketVarz,
    /// `{}` while JetStream is off; its config and usage when on.
    pub jetstream: serde_json::Value,
    pub tls_timeout: f64,
    pub write_deadline: u64,
    pub start: String,
    pub now: String,
    pub uptime: String,
    pub mem: u64,
    pub cores: usize,
    pub gomaxprocs: usize,
    pub cpu: f64,
    pub connections: usize,
    pub total_connections: u64,
    pub routes: u64,
    pub remotes: u64,
    pub leafnodes: u64,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub in_client_msgs: u64,
    pub in_client_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub out_client_msgs: u64,
    pub out_client_bytes: u64,
    pub slow_consumers: u64,
    pub stale_connections: u64,
    pub stalled_clients: u64,
    pub subscriptions: usize,
    pub http_req_stats: BTreeMap<String, u64>,
    pub config_load_time: String,
    pub config_digest: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metadata: std::collections::BTreeMap<String, String>,
    pub slow_consumer_stats: PerKind,
    pub stale_connection_stats: PerKind,
    pub disk_io_wait_stats: DiskIoWaitStats,
    /// Tern's WebAssembly plugins and their call/failure counters (absent
    /// when none is loaded; nats-server has no such field).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<crate::plugin::PluginCounters>,
    /// The system account's name (absent with `no_system_account`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_account: Option<String>,
}

/// The `websocket` section: nats-server's fields, each left out when
/// empty, so an unconfigured listener shows `{}`.
#[derive(Debug, Default, Serialize)]
pub struct WebsocketVarz {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub port: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub advertise: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub jwt_cookie: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub handshake_timeout: u64,
    #[serde(skip_serializing_if = "is_false")]
    pub no_tls: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub same_origin: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub compression: bool,
}

fn websocket_varz(shared: &Shared) -> WebsocketVarz {
    let cfg = shared.config();
    let Some(ws) = &cfg.websocket else {
        return WebsocketVarz::default();
    };
    WebsocketVarz {
        host: ws.host.clone(),
        // The bound port, also when a random one was asked for.
        port: shared.websocket_addr().map_or(ws.port, |a| a.port()),
        advertise: ws.advertise.clone().unwrap_or_default(),
        jwt_cookie: ws.jwt_cookie.clone().unwrap_or_default(),
        handshake_timeout: ws.handshake_timeout.map_or(0, duration_nanos),
        no_tls: ws.no_tls,
        same_origin: ws.same_origin,
        allowed_origins: ws.allowed_origins.clone(),
        compression: ws.compression,
    }
}

fn is_zero_u16(n: &u16) -> bool {
    *n == 0
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// A subsystem that is off: `{}`.
#[derive(Debug, Default, Serialize)]
pub struct Empty {}

/// Counts by connection kind; Tern has clients only so far.
#[derive(Debug, Default, Serialize)]
pub struct PerKind {
    pub clients: u64,
    pub routes: u64,
    pub gateways: u64,
    pub leafs: u64,
}

/// nats-server's JetStream disk semaphore statistics; zero without it.
#[derive(Debug, Default, Serialize)]
pub struct DiskIoWaitStats {
    pub waiters: i64,
    pub waits: u64,
    pub wait_time: u64,
    pub max_wait_time: u64,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// How long nats-server waits for a TLS handshake (seconds); reported as
/// it does even without TLS.
const TLS_TIMEOUT_SECS: f64 = 2.0;

pub fn varz(shared: &Shared, state: &MonitorState) -> Varz {
    let cfg = shared.config();
    let stats = shared.stats();
    let now = SystemTime::now();
    let cores = super::process::cores();
    let workers = tokio::runtime::Handle::try_current()
        .map(|h| h.metrics().num_workers())
        .unwrap_or(cores);
    let monitor = shared.monitor_addr();
    Varz {
        server_id: shared.server_id.clone(),
        server_name: shared.server_name.clone(),
        version: NATS_COMPAT_VERSION.to_string(),
        tern_version: crate::VERSION.to_string(),
        proto: 1,
        go: format!("tern {}", crate::VERSION),
        host: shared.local_addr.ip().to_string(),
        port: shared.local_addr.port(),
        auth_required: shared.auth_required(),
        max_connections: cfg.max_connections,
        max_subscriptions: cfg.max_subscriptions,
        ping_interval: duration_nanos(cfg.ping_interval),
        ping_max: cfg.ping_max,
        http_host: cfg.monitor_host().to_string(),
        http_port: match cfg.https_port {
            None => monitor.map_or(0, |a| a.port()),
            Some(_) => 0,
        },
        http_base_path: cfg.http_base_path.clone(),
        https_port: match cfg.https_port {
            Some(_) => monitor.map_or(0, |a| a.port()),
            None => 0,
        },
        auth_timeout: cfg.auth.timeout.map_or(2.0, |d| d.as_secs_f64()),
        max_control_line: cfg.max_control_line,
        max_payload: cfg.max_payload,
        max_pending: cfg.max_pending,
        cluster: Empty {},
        gateway: Empty {},
        leaf: super::leafz::varz_leaf(shared),
        mqtt: Empty {},
        websocket: websocket_varz(shared),
        jetstream: shared.jetstream().map_or_else(
            || serde_json::json!({}),
            |js| super::subsystems::varz_jetstream(&js),
        ),
        tls_timeout: TLS_TIMEOUT_SECS,
        write_deadline: duration_nanos(cfg.write_deadline),
        start: rfc3339(shared.started_at),
        now: rfc3339(now),
        uptime: uptime(shared.started.elapsed()),
        mem: rss_bytes(),
        cores,
        system_account: shared.accounts.system().map(|a| a.name.clone()),
        gomaxprocs: workers,
        cpu: state.cpu.percent(),
        connections: stats.connections,
        total_connections: stats.total_connections,
        routes: 0,
        remotes: 0,
        leafnodes: shared.leafs.links().len() as u64,
        in_msgs: stats.in_msgs,
        in_bytes: stats.in_bytes,
        in_client_msgs: stats.in_msgs,
        in_client_bytes: stats.in_bytes,
        out_msgs: stats.out_msgs,
        out_bytes: stats.out_bytes,
        out_client_msgs: stats.out_msgs,
        out_client_bytes: stats.out_bytes,
        slow_consumers: stats.slow_consumers,
        stale_connections: stats.stale_connections,
        stalled_clients: stats.stalled_clients,
        subscriptions: stats.subscriptions,
        http_req_stats: state.request_counts(),
        config_load_time: rfc3339(shared.config_loaded_at()),
        config_digest: String::new(),
        tags: cfg.server_tags.clone(),
        metadata: cfg.server_metadata.clone(),
        slow_consumer_stats: PerKind {
            clients: stats.slow_consumers,
            ..PerKind::default()
        },
        stale_connection_stats: PerKind {
            clients: stats.stale_connections,
            ..PerKind::default()
        },
        disk_io_wait_stats: DiskIoWaitStats::default(),
        plugins: shared
            .plugins()
            .summaries()
            .iter()
            .map(crate::plugin::PluginSummary::counters)
            .collect(),
    }
}

fn duration_nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
