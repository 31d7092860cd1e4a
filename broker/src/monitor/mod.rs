//! HTTP monitoring: nats-server's endpoints (`/varz`, `/connz`, `/subsz`,
//! `/routez`, `/leafz`, `/gatewayz`, `/accountz`, `/accstatz`, `/jsz`,
//! `/healthz`) with its JSON field names, types, options and errors, plus
//! Prometheus `/metrics`, and the `$SYS.REQ.SERVER...` requests that ask
//! for the same documents over NATS. HTTP is enabled by `-m PORT` /
//! `http_port` / `http:`; the system requests are answered when the system
//! account is configured (its users are the only ones who can ask).
//! `-ms PORT` / `https_port` / `https:` serve the same over TLS with the
//! client port's `tls {}` certificate. With neither, none of this runs and
//! nothing is allocated.
//!
//! The HTTP server is a small one written here on tokio (GET/HEAD, request
//! line and headers, query strings, keep-alive, bounded connections and
//! deadlines) rather than hyper: it keeps Tern's idle footprint small and
//! its dependency tree short, and monitoring needs nothing more.
//!
//! | file          | owns                                                   |
//! |---------------|--------------------------------------------------------|
//! | `error`       | [`MonitorError`], [`RequestError`]                     |
//! | `http`        | reading a request, writing a response                  |
//! | `query`       | query strings and nats-server's parameter decoders     |
//! | `listener`    | accept loop, routing, per-endpoint request counts      |
//! | `format`      | Go's timestamp and duration strings                    |
//! | `process`     | the process's memory and CPU use                       |
//! | `varz`        | `/varz`                                                |
//! | `connz`       | `/connz`, and the subscription details it shares       |
//! | `subsz`       | `/subsz` and the sublist statistics                    |
//! | `subsystems`  | `/routez` `/leafz` `/gatewayz` `/accountz` `/accstatz` `/jsz` |
//! | `healthz`     | `/healthz`                                             |
//! | `metrics`     | `/metrics`                                             |
//! | `root`        | the `/` index page                                     |
//! | `system`      | `$SYS.REQ.SERVER.PING...` requests over NATS           |

pub mod connz;
pub mod error;
pub mod format;
pub mod healthz;
pub mod http;
pub mod leafz;
pub mod listener;
pub mod metrics;
pub mod process;
pub mod query;
pub mod root;
pub mod subsystems;
pub mod subsz;
pub mod system;
pub mod varz;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use error::{MonitorError, RequestError};
pub use listener::MonitorState;

use crate::server::state::Shared;

/// The running monitoring listener.
pub struct Monitor {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Monitor {
    /// Bind `host:port` from the configuration (port 0 for any free one),
    /// log nats-server's `Starting http monitor on HOST:PORT`, and serve
    /// until the server shuts down. `None` when monitoring is off.
    pub async fn start(
        shared: &Arc<Shared>,
        state: &Arc<MonitorState>,
    ) -> Result<Option<Monitor>, MonitorError> {
        let config = shared.config();
        let (port, secure) = match (config.http_port, config.https_port) {
            (None, None) => return Ok(None),
            (Some(http), Some(https)) => return Err(MonitorError::BothPorts { http, https }),
            (Some(port), None) => (port, false),
            (None, Some(port)) => (port, true),
        };
        if secure && shared.monitor_tls().is_none() {
            return Err(MonitorError::HttpsWithoutTls);
        }
        let host = config.monitor_host().to_string();
        let addr = join_host_port(&host, port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| MonitorError::Bind {
                addr: addr.clone(),
                source,
            })?;
        let bound = listener
            .local_addr()
            .map_err(|source| MonitorError::Bind { addr, source })?;
        shared.set_monitor_addr(bound);
        tracing::info!(
            "Starting {} monitor on {}",
            if secure { "https" } else { "http" },
            join_host_port(&host, bound.port())
        );
        let task = serve_on_own_thread(listener, bound, shared, state.clone())?;
        Ok(Some(Monitor { addr: bound, task }))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Wait for the listener to stop (it stops when the server shuts down).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// Runs the listener on a thread of its own (a single-threaded runtime):
/// a scrape then never takes a turn on the workers that move messages,
/// whose tasks would wait behind it. The handle resolves when it stops.
fn serve_on_own_thread(
    listener: TcpListener,
    bound: SocketAddr,
    shared: &Arc<Shared>,
    state: Arc<MonitorState>,
) -> Result<JoinHandle<()>, MonitorError> {
    let bind_err = |source| MonitorError::Bind {
        addr: bound.to_string(),
        source,
    };
    let listener = listener.into_std().map_err(bind_err)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(bind_err)?;
    let (shared, run_state) = (shared.clone(), shared.watch_run_state());
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("tern-monitor".into())
        .spawn(move || {
            runtime.block_on(async move {
                match TcpListener::from_std(listener) {
                    Ok(listener) => {
                        listener::accept_loop(listener, shared, state, run_state).await;
                    }
                    Err(e) => tracing::error!("monitoring listener: {e}"),
                }
            });
            drop(done_tx);
        })
        .map_err(bind_err)?;
    Ok(tokio::spawn(async move {
        let _ = done_rx.await;
    }))
}

/// Go's `net.JoinHostPort`: IPv6 hosts in brackets.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
