//! Starting, reloading, lame-duck and stopping the server; the HTTP
//! monitor and the ports file (`ports_file_dir`) live and die with it.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::jetstream::JetStream;
use crate::monitor::{join_host_port, Monitor, MonitorState};
use crate::plugin::Plugins;
use crate::protocol::info::NATS_COMPAT_VERSION;

use super::error::ServerError;
use super::listener::accept_loop;
use super::outbound::{CloseReason, Pushed};
use super::state::{ListenerTls, RunState, Shared};

/// Bind a listening socket; the error names the address.
async fn bind(addr: String) -> Result<(TcpListener, SocketAddr), ServerError> {
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| ServerError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    Ok((listener, bound))
}

/// Open the leafnode port and dial the remotes, when configured.
async fn start_leafnodes(shared: &Arc<Shared>) -> Result<(), ServerError> {
    let config = shared.config();
    if let Some((host, port)) = &config.leafnodes.listen {
        let (listener, bound) = bind(format!("{host}:{port}")).await?;
        let _ = shared.leafs.listen_addr.set(bound);
        tracing::info!("Listening for leafnode connections on {bound}");
        tokio::spawn(crate::leaf::listener::accept_loop(
            listener,
            shared.clone(),
            shared.watch_run_state(),
        ));
    }
    for remote in &config.leafnodes.remotes {
        if remote.urls.is_empty() {
            continue;
        }
        tokio::spawn(crate::leaf::remote::solicit(
            shared.clone(),
            Arc::new(remote.clone()),
            shared.watch_run_state(),
        ));
    }
    Ok(())
}

/// A running broker. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
    /// The WebSocket accept loop, when configured.
    websocket: Option<JoinHandle<()>>,
    monitor: Option<Monitor>,
    /// The `$SYS.REQ.SERVER...` responder, when the system account is
    /// configured.
    system: Option<JoinHandle<()>>,
    /// Answers `$JS.API` in accounts JetStream does not serve.
    jetstream_refusals: Option<JoinHandle<()>>,
    ports_file: Option<PathBuf>,
    jetstream: Option<Arc<JetStream>>,
    /// Whether the plugin file watcher runs (it starts with the first
    /// configured plugin, at start or on a reload).
    plugin_watcher: AtomicBool,
}

impl Server {
    /// Bind the client port and start accepting connections.
    pub async fn start(config: Config) -> Result<Server, ServerError> {
        refuse_unsupported(&config)?;
        // Plugins load before the port opens: a required one that cannot
        // load stops start-up, and no client ever sees the broker without
        // the authorizer or transforms it was configured with.
        let plugins = load_plugins(&config)?;
        let (listener, local_addr) = bind(format!("{}:{}", config.host, config.port)).await?;
        if let Some(path) = &config.pid_file {
            std::fs::write(path, std::process::id().to_string()).map_err(|source| {
                ServerError::PidFile {
                    path: path.display().to_string(),
                    source,
                }
            })?;
        }
        let ports_dir = config.ports_file_dir.clone();
        let tls = ListenerTls::from_config(&config)?;
        let shared = Arc::new(Shared::new(config, local_addr));
        shared.set_tls(tls);
        shared.replace_plugins(plugins);
        tracing::info!(
            "  Version:  {} (NATS protocol {})",
            crate::VERSION,
            NATS_COMPAT_VERSION
        );
        tracing::info!("  ID:       {}", shared.server_id);
        tracing::info!("  Name:     {}", shared.server_name);
        let jetstream = match shared.config().jetstream.enabled {
            true => match shared.accounts.jetstream_account() {
                Ok(Some(account)) => Some(JetStream::start(&shared, account).await?),
                // As nats-server: with accounts configured, JetStream
                // serves only those that enable it.
                Ok(None) => {
                    tracing::warn!("JetStream is enabled but no account enables it (`jetstream: enabled` in an account)");
                    None
                }
                // Config files are refused for this before start; an
                // embedder's `Config` is not checked there.
                Err(names) => {
                    tracing::error!(
                        "JetStream serves one account; {} all enable it, so none is served",
                        names.join(", ")
                    );
                    None
                }
            },
            false => None,
        };
        let jetstream_refusals = refuse_jetstream_elsewhere(&shared, jetstream.as_ref());
        let monitor_state = Arc::new(MonitorState::new(&shared));
        let monitor = Monitor::start(&shared, &monitor_state).await?;
        let system = crate::monitor::system::start(&shared, monitor_state);
        let websocket = bind_websocket(&shared).await?;
        start_leafnodes(&shared).await?;
        tracing::info!("Listening for client connections on {local_addr}");
        let ports_file = match ports_dir {
            Some(dir) => Some(write_ports_file(
                &dir,
                local_addr,
                monitor.as_ref().map(Monitor::local_addr),
                shared.websocket_addr(),
            )?),
            None => None,
        };
        tracing::info!("Server is ready");
        let plugin_watcher = AtomicBool::new(false);
        start_plugin_watcher(&shared, &plugin_watcher);
        let accept = tokio::spawn(accept_loop(
            listener,
            shared.clone(),
            shared.watch_run_state(),
        ));
        let websocket = websocket.map(|(listener, settings, timeout)| {
            tokio::spawn(crate::websocket::listener::accept_loop(
                listener,
                shared.clone(),
                settings,
                timeout,
                shared.watch_run_state(),
            ))
        });
        Ok(Server {
            shared,
            accept,
            websocket,
            monitor,
            system,
            jetstream_refusals,
            ports_file,
            jetstream,
            plugin_watcher,
        })
    }

    /// Where the HTTP monitor listens, when it is on.
    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.monitor.as_ref().map(Monitor::local_addr)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The JetStream service, when enabled.
    pub fn jetstream(&self) -> Option<&Arc<JetStream>> {
        self.jetstream.as_ref()
    }

    /// Apply a reloaded configuration (SIGHUP). Settings that need a new
    /// listener are reported and kept as they were.
    pub fn reload(&self, new: Config) -> Result<(), ServerError> {
        refuse_unsupported(&new)?;
        let old = self.shared.config();
        let mut new = new;
        if new.host != old.host || new.port != old.port {
            tracing::warn!(
                "Reload: listen address changes need a restart; keeping {}:{}",
                old.host,
                old.port
            );
            new.host = old.host.clone();
            new.port = old.port;
        }
        if new.leafnodes != old.leafnodes {
            tracing::warn!("Reload: leafnode settings changes need a restart; keeping them");
            new.leafnodes = old.leafnodes.clone();
        }
        if new.websocket != old.websocket {
            tracing::warn!("Reload: websocket settings changes need a restart; keeping them");
            new.websocket = old.websocket.clone();
        }
        if new.jetstream != old.jetstream {
            tracing::warn!("Reload: JetStream settings changes need a restart; keeping them");
            new.jetstream = old.jetstream.clone();
        }
        if !self.shared.accounts.same_as(&new)
            || new.system_account != old.system_account
            || new.no_system_account != old.no_system_account
        {
            tracing::warn!(
                "Reload: changes to accounts, their exports and imports, or the system account need a restart; keeping them (users are reloaded)"
            );
            keep_accounts(&old, &mut new);
        }
        // Plugins are reloaded on every reload (their files may have
        // changed even when the config did not); compiled code is reused
        // for unchanged files. A required plugin that fails keeps the old
        // configuration and plugins in force.
        let plugins = load_plugins(&new)?;
        // Certificates and keys are read again: a renewed certificate is
        // served to new connections, existing ones keep their session.
        let tls = ListenerTls::from_config(&new)?;
        self.shared.replace_config(new);
        self.shared.set_tls(tls);
        self.shared.replace_plugins(plugins);
        start_plugin_watcher(&self.shared, &self.plugin_watcher);
        tracing::info!("Reloaded server configuration");
        Ok(())
    }

    /// Lame-duck mode: stop accepting, tell clients (INFO with `ldm`), wait
    /// the grace period, then close clients spread over the rest of
    /// `lame_duck_duration`, then stop.
    pub async fn lame_duck(self) {
        let config = self.shared.config();
        tracing::info!("Entering lame duck mode, stop accepting new clients");
        self.shared.set_run_state(RunState::LameDuck);
        for client in self.shared.clients() {
            let info = super::connection::client_info(
                &self.shared,
                client.id,
                None,
                client.out.is_websocket(),
            )
            .to_line();
            // Mark 0 belongs to no read batch; this flushes by itself.
            if client.out.push(0, |b| b.extend_from_slice(&info)) != Pushed::Rejected {
                client.out.flush_or_wake();
            }
        }
        let grace = config.lame_duck_grace_period.min(config.lame_duck_duration);
        tokio::time::sleep(grace).await;
        let clients = self.shared.clients();
        let window = config.lame_duck_duration.saturating_sub(grace);
        if !clients.is_empty() {
            let step = window / clients.len() as u32;
            tracing::info!(
                "Closing {} existing clients over {:?}",
                clients.len(),
                window
            );
            for client in clients {
                client.out.close(CloseReason::ServerShutdown);
                if !step.is_zero() {
                    tokio::time::sleep(step.min(Duration::from_secs(1))).await;
                }
            }
        }
        self.shutdown().await;
    }

    /// Stop accepting, close every client, and wait (briefly) for them.
    pub async fn shutdown(mut self) {
        self.shared.set_run_state(RunState::ShuttingDown);
        let _ = self.accept.await;
        if let Some(ws) = self.websocket.take() {
            let _ = ws.await;
        }
        for link in self.shared.leafs.links() {
            link.out.close(CloseReason::ServerShutdown);
        }
        for client in self.shared.clients() {
            client.out.close(CloseReason::ServerShutdown);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while self.shared.client_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if let Some(jetstream) = &self.jetstream {
            jetstream.shutdown().await;
        }
        if let Some(monitor) = self.monitor {
            monitor.stopped().await;
        }
        if let Some(system) = self.system {
            let _ = system.await;
        }
        if let Some(refusals) = self.jetstream_refusals {
            let _ = refusals.await;
        }
        if let Some(path) = &self.shared.config().pid_file {
            let _ = std::fs::remove_file(path);
        }
        if let Some(path) = &self.ports_file {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::error!("Error cleaning up ports file {}: {e}", path.display());
            }
        }
        tracing::info!("Server Exiting..");
    }
}

/// Write `<dir>/<exe>_<pid>.ports`: the URLs clients and monitoring tools
/// reach this server at, in nats-server's JSON shape. A wildcard listen
/// address is listed as every interface address.
fn write_ports_file(
    dir: &std::path::Path,
    client: SocketAddr,
    monitor: Option<SocketAddr>,
    websocket: Option<SocketAddr>,
) -> Result<PathBuf, ServerError> {
    let exe = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "tern".to_string());
    let path = dir.join(format!("{exe}_{}.ports", std::process::id()));
    let mut doc = serde_json::Map::new();
    doc.insert("nats".into(), urls("nats", client).into());
    if let Some(m) = monitor {
        doc.insert("monitoring".into(), urls("http", m).into());
    }
    if let Some(w) = websocket {
        doc.insert("websocket".into(), urls("ws", w).into());
    }
    let text = serde_json::Value::Object(doc).to_string();
    std::fs::write(&path, text).map_err(|source| ServerError::PortsFile {
        path: path.display().to_string(),
        source,
    })?;
    Ok(path)
}

fn urls(scheme: &str, addr: SocketAddr) -> Vec<String> {
    let ips = if addr.ip().is_unspecified() {
        interface_addresses()
    } else {
        vec![addr.ip()]
    };
    ips.into_iter()
        .map(|ip| {
            format!(
                "{scheme}://{}",
                join_host_port(&ip.to_string(), addr.port())
            )
        })
        .collect()
}

/// Every address of every network interface (getifaddrs(3)).
fn interface_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr points at a sockaddr whose family says which
            // concrete type it is.
            let family = unsafe { (*ifa.ifa_addr).sa_family } as i32;
            if family == libc::AF_INET {
                // SAFETY: AF_INET addresses are sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                out.push(IpAddr::from(
                    u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                ));
            } else if family == libc::AF_INET6 {
                // SAFETY: AF_INET6 addresses are sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                out.push(IpAddr::from(sin6.sin6_addr.s6_addr));
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

/// Bind the WebSocket port when configured; the accept loop starts with
/// the client one.
async fn bind_websocket(
    shared: &Arc<Shared>,
) -> Result<
    Option<(
        TcpListener,
        Arc<crate::websocket::handshake::Settings>,
        Duration,
    )>,
    ServerError,
> {
    let config = shared.config();
    let Some(ws) = &config.websocket else {
        return Ok(None);
    };
    let (listener, bound) = bind(format!("{}:{}", ws.host, ws.port)).await?;
    shared.set_websocket_addr(bound);
    if ws.tls.is_some() {
        tracing::info!("Listening for websocket clients on wss://{bound}");
    } else {
        tracing::info!("Listening for websocket clients on ws://{bound}");
        tracing::warn!("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
    }
    let settings = Arc::new(crate::websocket::handshake::Settings::from_config(ws));
    let timeout = ws
        .handshake_timeout
        .unwrap_or(crate::websocket::DEFAULT_HANDSHAKE_TIMEOUT);
    Ok(Some((listener, settings, timeout)))
}

/// Watch the plugin files once plugins are configured (a broker without
/// plugins runs no watcher). Needs a tokio runtime, as start and SIGHUP
/// reloads have.
fn start_plugin_watcher(shared: &Arc<Shared>, started: &AtomicBool) {
    if shared.config().plugins.is_empty() || started.load(Ordering::Relaxed) {
        return;
    }
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        started.store(true, Ordering::Relaxed);
        runtime.spawn(crate::plugin::watch_files(shared.clone()));
    }
}

/// Load the configured plugins (none: no engine is created at all).
fn load_plugins(config: &Config) -> Result<Plugins, ServerError> {
    if config.plugins.is_empty() {
        return Ok(Plugins::default());
    }
    let cache = config.plugin_cache();
    Ok(Plugins::load(&config.plugins, Some(&cache))?)
}

/// With JetStream enabled, the other accounts (but the system one) are
/// told it is not enabled for them, as nats-server tells them.
fn refuse_jetstream_elsewhere(
    shared: &Arc<Shared>,
    jetstream: Option<&Arc<JetStream>>,
) -> Option<JoinHandle<()>> {
    if !shared.config().jetstream.enabled {
        return None;
    }
    let others = shared
        .accounts
        .all()
        .into_iter()
        .filter(|a| !jetstream.is_some_and(|js| Arc::ptr_eq(&js.account, a)))
        .filter(|a| !shared.accounts.system().is_some_and(|s| Arc::ptr_eq(s, a)))
        .collect();
    crate::jetstream::api::not_enabled::start(shared, others)
}

/// Keep the running accounts (their exports, imports, the system account)
/// while taking the reloaded users of each; users of accounts the server
/// does not have cannot log in until a restart.
fn keep_accounts(old: &Config, new: &mut Config) {
    let mut accounts = old.accounts.clone();
    for acc in &mut accounts {
        acc.users = new
            .accounts
            .iter()
            .find(|a| a.name == acc.name)
            .map(|a| a.users.clone())
            .unwrap_or_default();
    }
    for dropped in new
        .accounts
        .iter()
        .filter(|a| !old.accounts.iter().any(|o| o.name == a.name))
    {
        tracing::warn!(
            "Reload: account {} is new; its users can connect after a restart",
            dropped.name
        );
    }
    new.accounts = accounts;
    new.system_account = old.system_account.clone();
    new.no_system_account = old.no_system_account;
}

/// Configured features Tern does not have yet stop a start or a reload,
/// every one of them named with where it was asked for.
fn refuse_unsupported(config: &Config) -> Result<(), ServerError> {
    if config.unsupported.is_empty() {
        return Ok(());
    }
    let all: Vec<String> = config.unsupported.iter().map(ToString::to_string).collect();
    Err(ServerError::Unsupported(all.join(", ")))
}
