//! The monitoring listener: accepts HTTP connections (a bounded number at
//! once), reads requests with deadlines, routes each path to its endpoint
//! and counts requests per endpoint (`/varz`'s `http_req_stats`). Stops
//! when the server shuts down; lame-duck mode keeps it answering.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use crate::server::state::{RunState, Shared};

use super::error::RequestError;
use super::http::{read_request, Request, Response};
use super::process::CpuSampler;
use super::{connz, healthz, metrics, root, subsystems, subsz, varz};

/// Monitoring connections served at once; more are answered 503.
const MAX_CONNECTIONS: usize = 64;
/// Time allowed for a request's head to arrive (nats-server: 5s).
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an idle kept-alive connection stays open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the monitoring endpoints keep between requests.
pub struct MonitorState {
    pub cpu: CpuSampler,
    requests: Mutex<BTreeMap<&'static str, u64>>,
    base_path: String,
}

impl MonitorState {
    pub fn new(shared: &Shared) -> MonitorState {
        MonitorState {
            cpu: CpuSampler::new(shared.started),
            requests: Mutex::new(BTreeMap::new()),
            base_path: normalize_base_path(&shared.config().http_base_path),
        }
    }

    fn count(&self, endpoint: &'static str) {
        *self.requests.lock().entry(endpoint).or_insert(0) += 1;
    }

    /// Requests served per endpoint.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.requests
            .lock()
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    }
}

/// `http_base_path` as nats-server cleans it: a leading slash, no trailing
/// one, "" for none.
fn normalize_base_path(p: &str) -> String {
    let trimmed = p.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

/// Accept monitoring connections until the server shuts down.
pub async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    state: Arc<MonitorState>,
    mut run_state: watch::Receiver<RunState>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    match slots.clone().try_acquire_owned() {
                        Ok(permit) => {
                            let (shared, state) = (shared.clone(), state.clone());
                            tokio::spawn(async move {
                                serve_transport(stream, addr, &shared, &state).await;
                                drop(permit);
                            });
                        }
                        // Over TLS a plain 503 would be noise: just close.
                        Err(_) if shared.config().https_port.is_some() => {}
                        Err(_) => {
                            tokio::spawn(refuse(stream));
                        }
                    }
                }
                Err(e) => {
                    tracing::error!("Error accepting monitoring connection: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            changed = run_state.changed() => {
                if changed.is_err() || *run_state.borrow() == RunState::ShuttingDown {
                    return;
                }
            }
        }
    }
}

async fn refuse(mut stream: TcpStream) {
    let response = Response::text(
        503,
        "503 Service Unavailable: too many monitoring connections",
    );
    let _ = stream
        .write_all(&response.encode(false, false, SystemTime::now()))
        .await;
}

/// Serve one connection, through TLS on an HTTPS monitor (the handshake
/// bounded by the `tls {}` block's timeout).
async fn serve_transport(
    stream: TcpStream,
    addr: SocketAddr,
    shared: &Shared,
    state: &MonitorState,
) {
    let config = shared.config();
    let tls = match (config.https_port, shared.monitor_tls()) {
        (Some(_), Some(tls)) => tls,
        _ => return serve(stream, addr, shared, state).await,
    };
    let timeout = config
        .tls
        .as_ref()
        .map_or(crate::config::DEFAULT_TLS_TIMEOUT, |t| {
            t.handshake_timeout()
        });
    if crate::tls::starts_with_tls(&stream, timeout).await == Some(false) {
        // What Go's HTTPS server answers a plain request with.
        // Take the request in first: closing on unread bytes would reset
        // the connection before the answer is read.
        let mut stream = stream;
        let mut buf = Vec::with_capacity(1024);
        let _ = tokio::time::timeout(timeout, read_request(&mut stream, &mut buf)).await;
        let _ = stream
            .write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
            .await;
        let _ = stream.shutdown().await;
        return;
    }
    match crate::tls::handshake(stream, tls, timeout).await {
        Ok(stream) => serve(stream, addr, shared, state).await,
        Err(e) => tracing::debug!("{addr} - monitoring: {e}"),
    }
}

/// Serve requests on one connection until it closes, errs or idles out.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    addr: SocketAddr,
    shared: &Shared,
    state: &MonitorState,
) {
    let mut buf = Vec::new();
    let mut first = true;
    loop {
        let wait = if first { READ_TIMEOUT } else { IDLE_TIMEOUT };
        first = false;
        let request = match tokio::time::timeout(wait, read_request(&mut stream, &mut buf)).await {
            Err(_) | Ok(Ok(None)) => return,
            Ok(Ok(Some(r))) => r,
            Ok(Err(e)) => {
                tracing::debug!("{addr} - monitoring: {e}");
                let response = Response::for_error(&e);
                let _ = stream
                    .write_all(&response.encode(false, false, SystemTime::now()))
                    .await;
                let _ = stream.flush().await;
                return;
            }
        };
        let response = route(shared, state, &request);
        let wire = response.encode(request.is_head(), request.keep_alive, SystemTime::now());
        // Through TLS the response may still sit in the session's records.
        let sent = async {
            stream.write_all(&wire).await?;
            stream.flush().await
        };
        if sent.await.is_err() || !request.keep_alive {
            return;
        }
    }
}

fn json_ok<T: Serialize>(doc: &T) -> Response {
    match serde_json::to_vec_pretty(doc) {
        Ok(body) => Response::json(200, body),
        Err(e) => Response::text(500, format!("Error marshaling response: {e}")),
    }
}

fn answer<T: Serialize>(result: Result<T, RequestError>) -> Response {
    match result {
        Ok(doc) => json_ok(&doc),
        Err(e) => Response::for_error(&e),
    }
}

/// The endpoint for a path (relative to the base path), as nats-server's
/// mux matches them: exact paths only.
pub fn route(shared: &Shared, state: &MonitorState, request: &Request) -> Response {
    let Some(path) = strip_base(&request.path, &state.base_path) else {
        return Response::not_found();
    };
    let q = &request.query;
    let endpoint: &'static str = match path {
        "/" => "/",
        "/varz" => "/varz",
        "/connz" => "/connz",
        "/routez" => "/routez",
        "/gatewayz" => "/gatewayz",
        "/leafz" => "/leafz",
        "/subsz" | "/subscriptionsz" => "/subsz",
        "/accountz" => "/accountz",
        "/accstatz" => "/accstatz",
        "/jsz" => "/jsz",
        "/healthz" => "/healthz",
        "/metrics" => "/metrics",
        _ => return Response::not_found(),
    };
    state.count(endpoint);
    match endpoint {
        "/" => Response::html(root::index(&state.base_path)),
        "/varz" => json_ok(&varz::varz(shared, state)),
        "/connz" => answer(connz::connz(shared, q)),
        "/routez" => answer(subsystems::routez(shared, q)),
        "/gatewayz" => answer(subsystems::gatewayz(shared, q)),
        "/leafz" => answer(super::leafz::leafz(shared, q)),
        "/subsz" => answer(subsz::subsz(shared, q)),
        "/accountz" => answer(subsystems::accountz(shared, q)),
        "/accstatz" => answer(subsystems::accstatz(shared, q)),
        "/jsz" => answer(subsystems::jsz(shared, q)),
        "/healthz" => match healthz::healthz(shared, q) {
            // nats-server writes health compactly.
            Ok((status, health)) => match serde_json::to_vec(&health) {
                Ok(body) => Response::json(status, body),
                Err(e) => Response::text(500, format!("Error marshaling response: {e}")),
            },
            Err(e) => Response::for_error(&e),
        },
        "/metrics" => Response::prometheus(metrics::metrics(shared, state)),
        _ => Response::not_found(),
    }
}

/// The path below the base path; the base path itself is the index.
fn strip_base<'p>(path: &'p str, base: &str) -> Option<&'p str> {
    if base.is_empty() {
        return Some(path);
    }
    let rest = path.strip_prefix(base)?;
    match rest {
        "" => Some("/"),
        r if r.starts_with('/') => Some(r),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths() {
        assert_eq!(normalize_base_path(""), "");
        assert_eq!(normalize_base_path("/"), "");
        assert_eq!(normalize_base_path("nats/"), "/nats");
        assert_eq!(strip_base("/nats/varz", "/nats"), Some("/varz"));
        assert_eq!(strip_base("/nats", "/nats"), Some("/"));
        assert_eq!(strip_base("/natsx/varz", "/nats"), None);
        assert_eq!(strip_base("/varz", ""), Some("/varz"));
    }
}
