//! What every connection task shares: the configuration in force, the
//! accounts and their subscription indexes, the client registry, totals, the recently closed
//! connections (kept only while monitoring is on), and the run state
//! (running, lame duck, shutting down).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Instant, SystemTime};

use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;
use tokio::sync::watch;

use crate::account::{Account, Accounts};
use crate::auth::Authenticator;
use crate::config::Config;
use crate::jetstream::JetStream;
use crate::leaf::LeafRegistry;
use crate::plugin::Plugins;
use crate::protocol::info::NATS_COMPAT_VERSION;
use crate::protocol::ServerInfo;

use super::client::{ClientHandle, ClosedClient};

/// The server's run state, watched by every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    /// Lame-duck mode: no new clients; existing ones are closed gradually.
    LameDuck,
    ShuttingDown,
}

/// Totals kept for connections that have closed, so server-wide counters
/// stay monotonic.
#[derive(Debug, Default)]
pub struct Totals {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    pub out_msgs: AtomicU64,
    pub out_bytes: AtomicU64,
    pub slow_consumers: AtomicU64,
    pub stale_connections: AtomicU64,
    pub total_connections: AtomicU64,
    /// Times a client publisher waited for a receiver that was behind.
    pub stalled_clients: AtomicU64,
}

/// Server-wide counters at one moment: closed connections' totals plus the
/// live connections' own counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    pub connections: usize,
    pub total_connections: u64,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub slow_consumers: u64,
    pub stale_connections: u64,
    pub stalled_clients: u64,
    pub subscriptions: usize,
}

pub struct Shared {
    config: RwLock<Arc<Config>>,
    auth: RwLock<Arc<Authenticator>>,
    /// The accounts and their subscription indexes (fixed at start).
    pub accounts: Accounts,
    /// Leaf links and the interest they were told about.
    pub leafs: LeafRegistry,
    clients: Mutex<FxHashMap<u64, Arc<ClientHandle>>>,
    next_client_id: AtomicU64,
    pub totals: Totals,
    pub server_id: String,
    pub server_name: String,
    pub started: Instant,
    /// Wall-clock time the server started (for monitoring).
    pub started_at: SystemTime,
    /// When the configuration in force was loaded (start or last reload).
    config_loaded_at: Mutex<SystemTime>,
    pub local_addr: SocketAddr,
    run_state: watch::Sender<RunState>,
    /// The most recent closed connections, oldest first; at most
    /// `max_closed` (0 while monitoring is off: nobody could read them).
    closed: Mutex<VecDeque<Arc<ClosedClient>>>,
    max_closed: usize,
    /// Where the monitoring listener is bound, once it is.
    monitor_addr: OnceLock<SocketAddr>,
    /// Where the WebSocket listener is bound, once it is.
    websocket_addr: OnceLock<SocketAddr>,
    /// The JetStream service, once started (weak: it holds `Shared`).
    jetstream: OnceLock<Weak<JetStream>>,
    /// The WebAssembly plugins in force, swapped whole on reload.
    plugins: RwLock<Arc<Plugins>>,
    /// Bumped on every swap; connections compare it once per read batch
    /// to pick up the new set.
    plugins_generation: AtomicU64,
    /// The listeners' TLS configurations, rebuilt (certificates read
    /// again) on every reload; new connections take the ones in force.
    tls: RwLock<ListenerTls>,
}

/// The TLS configuration of each listener that has a `tls` block.
#[derive(Clone, Default)]
pub struct ListenerTls {
    pub client: Option<Arc<rustls::ServerConfig>>,
    pub websocket: Option<Arc<rustls::ServerConfig>>,
    pub leaf: Option<Arc<rustls::ServerConfig>>,
    /// HTTPS monitoring: the client port's certificate, no client
    /// certificates asked for (as nats-server serves it).
    pub monitor: Option<Arc<rustls::ServerConfig>>,
}

impl ListenerTls {
    /// Build every listener's configuration from `config` (reading the
    /// certificate and key files).
    pub fn from_config(config: &Config) -> Result<Self, crate::tls::TlsError> {
        let build =
            |tls: Option<&crate::config::TlsConfig>| tls.map(crate::tls::server_config).transpose();
        Ok(ListenerTls {
            client: build(config.tls.as_ref())?,
            websocket: build(config.websocket.as_ref().and_then(|w| w.tls.as_ref()))?,
            leaf: build(config.leafnodes.tls.as_ref())?,
            monitor: match (&config.tls, config.https_port) {
                (Some(tc), Some(_)) => {
                    Some(crate::tls::server_config(&crate::config::TlsConfig {
                        verify: false,
                        ..tc.clone()
                    })?)
                }
                _ => None,
            },
        })
    }
}

impl Shared {
    pub fn new(config: Config, local_addr: SocketAddr) -> Self {
        let server_id = new_server_id();
        let server_name = config
            .server_name
            .clone()
            .unwrap_or_else(|| server_id.clone());
        let auth = Authenticator::for_server(&config);
        let accounts = Accounts::from_config(&config);
        let (run_state, _) = watch::channel(RunState::Running);
        let max_closed = if config.http_port.is_some() || config.https_port.is_some() {
            config.max_closed_clients
        } else {
            0
        };
        let now = SystemTime::now();
        let leafnodes = config.leafnodes.listen.is_some() || !config.leafnodes.remotes.is_empty();
        Shared {
            config: RwLock::new(Arc::new(config)),
            auth: RwLock::new(Arc::new(auth)),
            accounts,
            leafs: LeafRegistry::new(leafnodes),
            clients: Mutex::new(FxHashMap::default()),
            next_client_id: AtomicU64::new(1),
            totals: Totals::default(),
            server_id,
            server_name,
            started: Instant::now(),
            started_at: now,
            config_loaded_at: Mutex::new(now),
            local_addr,
            run_state,
            closed: Mutex::new(VecDeque::new()),
            max_closed,
            monitor_addr: OnceLock::new(),
            websocket_addr: OnceLock::new(),
            jetstream: OnceLock::new(),
            plugins: RwLock::new(Arc::new(Plugins::default())),
            plugins_generation: AtomicU64::new(0),
            tls: RwLock::new(ListenerTls::default()),
        }
    }

    /// The global account `$G`: clients without an account, leaf links.
    pub fn global(&self) -> &Arc<Account> {
        self.accounts.global()
    }

    pub fn config(&self) -> Arc<Config> {
        self.config.read().clone()
    }

    pub fn auth(&self) -> Arc<Authenticator> {
        self.auth.read().clone()
    }

    /// Whether clients must authenticate: users or a token are configured,
    /// or an authorizer plugin decides who connects.
    pub fn auth_required(&self) -> bool {
        self.auth().required() || self.plugins.read().authorizer.is_some()
    }

    pub fn plugins(&self) -> Arc<Plugins> {
        self.plugins.read().clone()
    }

    pub fn plugins_generation(&self) -> u64 {
        self.plugins_generation.load(Ordering::Acquire)
    }

    /// Put a new set of plugins in force (start, reload).
    pub fn replace_plugins(&self, plugins: Plugins) {
        *self.plugins.write() = Arc::new(plugins);
        self.plugins_generation.fetch_add(1, Ordering::Release);
    }

    /// Put plugins loaded from `config` in force, unless a reload replaced
    /// that config meanwhile (its own plugins win). Holding the config lock
    /// across the check and the swap keeps a reload from slipping between.
    pub fn replace_plugins_if_config(&self, config: &Arc<Config>, plugins: Plugins) -> bool {
        let current = self.config.read();
        if !Arc::ptr_eq(&*current, config) {
            return false;
        }
        self.replace_plugins(plugins);
        true
    }

    /// Swap in a reloaded configuration. Listener address changes need a
    /// restart; everything else applies to new connections (limits) or at
    /// once (authentication).
    pub fn replace_config(&self, config: Config) {
        *self.auth.write() = Arc::new(Authenticator::for_server(&config));
        *self.config.write() = Arc::new(config);
        *self.config_loaded_at.lock() = SystemTime::now();
    }

    /// The client port's TLS configuration, if it has `tls`.
    pub fn client_tls(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.tls.read().client.clone()
    }

    /// The WebSocket listener's TLS configuration, if it serves `wss://`.
    pub fn websocket_tls(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.tls.read().websocket.clone()
    }

    /// The leafnode port's TLS configuration, if it has `tls`.
    pub fn leaf_tls(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.tls.read().leaf.clone()
    }

    /// The HTTPS monitor's TLS configuration, when it serves `https_port`.
    pub fn monitor_tls(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.tls.read().monitor.clone()
    }

    pub fn set_tls(&self, tls: ListenerTls) {
        *self.tls.write() = tls;
    }

    /// When the configuration in force was loaded.
    pub fn config_loaded_at(&self) -> SystemTime {
        *self.config_loaded_at.lock()
    }

    /// Counters for `/varz` and `/metrics`: totals of closed connections
    /// plus the live ones. Takes each live client's outbound lock briefly.
    pub fn stats(&self) -> ServerStats {
        let registry = self.clients.lock();
        let clients: Vec<Arc<ClientHandle>> = registry.values().cloned().collect();
        let t = &self.totals;
        let mut s = ServerStats {
            connections: clients.len(),
            total_connections: t.total_connections.load(Ordering::Relaxed),
            in_msgs: t.in_msgs.load(Ordering::Relaxed),
            in_bytes: t.in_bytes.load(Ordering::Relaxed),
            out_msgs: t.out_msgs.load(Ordering::Relaxed),
            out_bytes: t.out_bytes.load(Ordering::Relaxed),
            slow_consumers: t.slow_consumers.load(Ordering::Relaxed),
            stale_connections: t.stale_connections.load(Ordering::Relaxed),
            stalled_clients: t.stalled_clients.load(Ordering::Relaxed),
            subscriptions: self.accounts.subscription_count(),
        };
        drop(registry);
        for c in &clients {
            let t = c.traffic();
            s.in_msgs += t.in_msgs;
            s.in_bytes += t.in_bytes;
            s.out_msgs += t.out_msgs;
            s.out_bytes += t.out_bytes;
        }
        s
    }

    /// Whether closed connections are being recorded (monitoring is on).
    pub fn records_closed(&self) -> bool {
        self.max_closed > 0
    }

    /// Remember a closed connection, forgetting the oldest past the limit.
    pub fn record_closed(&self, closed: ClosedClient) {
        if self.max_closed == 0 {
            return;
        }
        let mut ring = self.closed.lock();
        if ring.len() >= self.max_closed {
            ring.pop_front();
        }
        ring.push_back(Arc::new(closed));
    }

    /// The remembered closed connections, oldest first.
    pub fn closed_clients(&self) -> Vec<Arc<ClosedClient>> {
        self.closed.lock().iter().cloned().collect()
    }

    /// Note where the monitoring listener is bound (once).
    pub fn set_monitor_addr(&self, addr: SocketAddr) {
        let _ = self.monitor_addr.set(addr);
    }

    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.monitor_addr.get().copied()
    }

    /// Note where the WebSocket listener is bound (once).
    pub fn set_websocket_addr(&self, addr: SocketAddr) {
        let _ = self.websocket_addr.set(addr);
    }

    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.websocket_addr.get().copied()
    }

    pub fn set_jetstream(&self, js: &Arc<JetStream>) {
        let _ = self.jetstream.set(Arc::downgrade(js));
    }

    /// The running JetStream service, for monitoring.
    pub fn jetstream(&self) -> Option<Arc<JetStream>> {
        self.jetstream.get().and_then(Weak::upgrade)
    }

    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn register(&self, client: Arc<ClientHandle>) {
        self.totals
            .total_connections
            .fetch_add(1, Ordering::Relaxed);
        self.clients.lock().insert(client.id, client);
    }

    pub fn unregister(&self, id: u64) {
        // The totals change under the registry lock, so that `stats` sees
        // each connection either live or in the totals, never both.
        let mut clients = self.clients.lock();
        if let Some(c) = clients.remove(&id) {
            let (t, traffic) = (&self.totals, c.traffic());
            t.in_msgs.fetch_add(traffic.in_msgs, Ordering::Relaxed);
            t.in_bytes.fetch_add(traffic.in_bytes, Ordering::Relaxed);
            t.out_msgs.fetch_add(traffic.out_msgs, Ordering::Relaxed);
            t.out_bytes.fetch_add(traffic.out_bytes, Ordering::Relaxed);
        }
    }

    pub fn client_count(&self) -> usize {
        self.clients.lock().len()
    }

    /// A snapshot of the connected clients.
    pub fn clients(&self) -> Vec<Arc<ClientHandle>> {
        self.clients.lock().values().cloned().collect()
    }

    pub fn run_state(&self) -> RunState {
        *self.run_state.borrow()
    }

    pub fn watch_run_state(&self) -> watch::Receiver<RunState> {
        self.run_state.subscribe()
    }

    pub fn set_run_state(&self, state: RunState) {
        self.run_state.send_replace(state);
    }

    /// The INFO a new client is greeted with.
    pub fn info_for(&self, client_id: u64, client_ip: Option<String>) -> ServerInfo {
        let cfg = self.config();
        let tls = ClientTls::of(&cfg);
        ServerInfo {
            server_id: self.server_id.clone(),
            server_name: self.server_name.clone(),
            version: NATS_COMPAT_VERSION.to_string(),
            tern_version: crate::VERSION.to_string(),
            go: format!("tern {}", crate::VERSION),
            host: self.local_addr.ip().to_string(),
            port: self.local_addr.port(),
            headers: !cfg.no_header_support,
            max_payload: cfg.max_payload,
            proto: 1,
            client_id: Some(client_id),
            auth_required: self.auth_required(),
            client_ip,
            connect_urls: None,
            ldm: self.run_state() == RunState::LameDuck,
            jetstream: cfg.jetstream.enabled,
            tls_required: tls == ClientTls::Required,
            tls_verify: cfg.tls.as_ref().is_some_and(|t| t.verify),
            tls_available: tls == ClientTls::Offered,
            nonce: None,
        }
    }
}

/// What the client port's INFO says of TLS.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientTls {
    None,
    Required,
    /// `allow_non_tls`: clients may upgrade or stay in the clear.
    Offered,
}

impl ClientTls {
    /// As nats-server: `allow_non_tls` offers TLS rather than requiring
    /// it, unless the handshake always comes first.
    fn of(cfg: &Config) -> Self {
        match &cfg.tls {
            None => ClientTls::None,
            Some(t) if t.handshake_first && t.handshake_first_fallback.is_none() => {
                ClientTls::Required
            }
            Some(_) if cfg.allow_non_tls => ClientTls::Offered,
            Some(_) => ClientTls::Required,
        }
    }
}

/// A server id in nats-server's shape: 56 characters, starting with `N`,
/// from the base32 alphabet of nkeys.
fn new_server_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ ((std::process::id() as u64) << 32);
    let mut id = String::with_capacity(56);
    id.push('N');
    for _ in 1..56 {
        // xorshift64*: plenty for a unique-enough identifier.
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        let v = seed.wrapping_mul(0x2545_F491_4F6C_DD1D);
        id.push(ALPHABET[(v >> 59) as usize] as char);
    }
    id
}
