//! What every connection task shares: the configuration in force, the
//! subscription index, the client registry, totals, and the run state
//! (running, lame duck, shutting down).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;
use tokio::sync::watch;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::protocol::info::NATS_COMPAT_VERSION;
use crate::protocol::ServerInfo;
use crate::subject::Sublist;

use super::client::ClientHandle;
use super::subscription::Subscription;

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
    pub total_connections: AtomicU64,
}

pub struct Shared {
    config: RwLock<Arc<Config>>,
    auth: RwLock<Arc<Authenticator>>,
    pub sublist: Sublist<Subscription>,
    clients: Mutex<FxHashMap<u64, Arc<ClientHandle>>>,
    next_client_id: AtomicU64,
    pub totals: Totals,
    pub server_id: String,
    pub server_name: String,
    pub started: Instant,
    pub local_addr: SocketAddr,
    run_state: watch::Sender<RunState>,
}

impl Shared {
    pub fn new(config: Config, local_addr: SocketAddr) -> Self {
        let server_id = new_server_id();
        let server_name = config
            .server_name
            .clone()
            .unwrap_or_else(|| server_id.clone());
        let auth = Authenticator::from_config(&config.auth);
        let (run_state, _) = watch::channel(RunState::Running);
        Shared {
            config: RwLock::new(Arc::new(config)),
            auth: RwLock::new(Arc::new(auth)),
            sublist: Sublist::new(),
            clients: Mutex::new(FxHashMap::default()),
            next_client_id: AtomicU64::new(1),
            totals: Totals::default(),
            server_id,
            server_name,
            started: Instant::now(),
            local_addr,
            run_state,
        }
    }

    pub fn config(&self) -> Arc<Config> {
        self.config.read().clone()
    }

    pub fn auth(&self) -> Arc<Authenticator> {
        self.auth.read().clone()
    }

    /// Swap in a reloaded configuration. Listener address changes need a
    /// restart; everything else applies to new connections (limits) or at
    /// once (authentication).
    pub fn replace_config(&self, config: Config) {
        *self.auth.write() = Arc::new(Authenticator::from_config(&config.auth));
        *self.config.write() = Arc::new(config);
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
        if let Some(c) = self.clients.lock().remove(&id) {
            let t = &self.totals;
            t.in_msgs.fetch_add(
                c.counters.in_msgs.load(Ordering::Relaxed),
                Ordering::Relaxed,
            );
            t.in_bytes.fetch_add(
                c.counters.in_bytes.load(Ordering::Relaxed),
                Ordering::Relaxed,
            );
            let (out_msgs, out_bytes) = c.out.delivered();
            t.out_msgs.fetch_add(out_msgs, Ordering::Relaxed);
            t.out_bytes.fetch_add(out_bytes, Ordering::Relaxed);
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
            auth_required: self.auth().required(),
            client_ip,
            connect_urls: None,
            ldm: self.run_state() == RunState::LameDuck,
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
