//! Dialling a `remotes` entry and keeping the link up: URLs are tried in
//! turn, with the reconnect delay (nats-server's default 1 s), doubled for
//! each failed dial in a row up to eight times, plus jitter, between
//! attempts; 30 s after a loop was detected. Local clients never
//! notice: the server serves them the same with or without the link.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::config::{Config, LeafRemoteConfig};
use crate::server::state::{RunState, Shared};

use super::link::{self, Ended, Role};

pub const DEFAULT_RECONNECT: Duration = Duration::from_secs(1);
const LOOP_DELAY: Duration = Duration::from_secs(30);
const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// nats-server's leafnode port when a URL names none.
const DEFAULT_LEAF_PORT: u16 = 7422;

/// A remote URL taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUrl {
    pub host_port: String,
    /// The host alone (no port, no brackets): the name TLS verifies.
    pub host: String,
    pub user: Option<String>,
    pub pass: Option<String>,
    /// `ws://`/`wss://`: the link runs in WebSocket frames, upgraded on
    /// `path`.
    pub websocket: bool,
    /// `tls://`/`wss://`: the link must run over TLS.
    pub tls: bool,
    pub path: String,
}

/// `nats-leaf://[user[:pass]@]host[:port]` (also `nats://`, `tls://`), or
/// `ws://`/`wss://[user[:pass]@]host[:port][/path]` for the hub's
/// websocket port.
pub fn parse_url(url: &str) -> Option<RemoteUrl> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let websocket = scheme == "ws" || scheme == "wss";
    let tls = scheme == "tls" || scheme == "wss";
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if host.is_empty() {
        return None;
    }
    let has_port = match host.strip_prefix('[') {
        Some(v6) => v6.split_once("]:").is_some(),
        None => host.contains(':'),
    };
    let default_port = match (websocket, tls) {
        (true, true) => 443,
        (true, false) => 80,
        _ => DEFAULT_LEAF_PORT,
    };
    let host_port = if has_port {
        host.to_string()
    } else {
        format!("{host}:{default_port}")
    };
    let bare = match host.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or(v6, |(h, _)| h),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let (user, pass) = match userinfo {
        None => (None, None),
        Some(u) => match u.split_once(':') {
            Some((user, pass)) => (Some(decode(user)), Some(decode(pass))),
            None => (Some(decode(u)), None),
        },
    };
    Some(RemoteUrl {
        host_port,
        host: bare.to_string(),
        user,
        pass,
        websocket,
        tls,
        // nats-server appends the leafnode path to the URL's own.
        path: format!("{path}{LEAF_WS_PATH}"),
    })
}

/// The path a leaf asks for on a hub's websocket port.
const LEAF_WS_PATH: &str = "/leafnode";

/// Percent-decoding for credentials in URLs.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Keep a link to `remote` up until the server stops.
pub async fn solicit(
    shared: Arc<Shared>,
    remote: Arc<LeafRemoteConfig>,
    mut run_state: watch::Receiver<RunState>,
) {
    let reconnect = shared
        .config()
        .leafnodes
        .reconnect
        .unwrap_or(DEFAULT_RECONNECT);
    let mut attempt = 0usize;
    // Dials in a row that did not reach the remote: each doubles the
    // wait, up to eight times the reconnect delay.
    let mut failures = 0u32;
    // Failed dials since the last link, and whether there ever was one:
    // which of them are logged as errors (nats-server's
    // connect_error_reports / reconnect_error_reports).
    let mut failed_dials = 0u64;
    let mut linked_before = false;
    loop {
        if *run_state.borrow() != RunState::Running {
            return;
        }
        let url = &remote.urls[attempt % remote.urls.len()];
        attempt += 1;
        let mut delay = reconnect * (1 << failures.min(3));
        failures += 1;
        match parse_url(url) {
            None => tracing::error!("Invalid leafnode remote url {url:?}"),
            Some(target) => {
                tracing::debug!(
                    "Trying to connect as leafnode to remote server on {:?}",
                    target.host_port
                );
                let dial_timeout = remote
                    .dial_timeout
                    .or(shared.config().leafnodes.dial_timeout)
                    .unwrap_or(DEFAULT_DIAL_TIMEOUT);
                match tokio::time::timeout(dial_timeout, TcpStream::connect(&target.host_port))
                    .await
                {
                    Ok(Ok(stream)) => {
                        let addr = stream.peer_addr().unwrap_or(shared.local_addr);
                        let transport = match super::dial::prepare(
                            &shared,
                            &remote,
                            &target,
                            stream,
                            dial_timeout,
                        )
                        .await
                        {
                            Ok(transport) => transport,
                            Err(e) => {
                                let kind = if target.websocket { "websocket " } else { "" };
                                tracing::error!(
                                    "Error soliciting {kind}leafnode connection to {:?}: {e}",
                                    target.host_port
                                );
                                if !wait(&mut run_state, delay).await {
                                    return;
                                }
                                continue;
                            }
                        };
                        let role = Role::Solicited {
                            remote: remote.clone(),
                            user: target.user,
                            pass: target.pass,
                        };
                        let id = shared.next_client_id();
                        let run = link::run_over(shared.clone(), id, transport, addr, role);
                        tokio::pin!(run);
                        let ended = tokio::select! {
                            ended = &mut run => ended,
                            _ = stopped(&mut run_state) => {
                                // Shutdown closes the link; let it finish.
                                run.await
                            }
                        };
                        delay = if ended == Ended::Loop {
                            LOOP_DELAY
                        } else {
                            reconnect
                        };
                        // A link that was up is redialled after the plain
                        // reconnect delay, on the same URL first.
                        attempt = attempt.saturating_sub(1);
                        failures = 0;
                        failed_dials = 0;
                        linked_before = true;
                    }
                    failed => {
                        let why = match failed {
                            Ok(Err(e)) => e.to_string(),
                            _ => "i/o timeout".to_string(),
                        };
                        failed_dials += 1;
                        let config = shared.config();
                        report_dial_error(
                            &config,
                            linked_before,
                            failed_dials,
                            &target.host_port,
                            &why,
                        );
                    }
                }
            }
        }
        if !wait(&mut run_state, delay).await {
            return;
        }
    }
}

/// Log a failed dial as nats-server does: an error for the first failure
/// and then every `connect_error_reports`-th (before the remote was ever
/// linked) or `reconnect_error_reports`-th (after), a debug line otherwise.
fn report_dial_error(config: &Config, linked_before: bool, attempts: u64, host: &str, why: &str) {
    if is_reported(config, linked_before, attempts) {
        tracing::error!(
            "Error trying to connect as leafnode to remote server {host:?} (attempt {attempts}): {why}"
        );
    } else {
        tracing::debug!(
            "Error trying to connect as leafnode to remote server {host:?} (attempt {attempts}): {why}"
        );
    }
}

fn is_reported(config: &Config, linked_before: bool, attempts: u64) -> bool {
    let every = if linked_before {
        config.reconnect_error_reports
    } else {
        config.connect_error_reports
    };
    attempts == 1 || attempts.is_multiple_of(every.max(1))
}

/// Sleep `delay` plus up to a fifth of it at random; false when the server
/// stopped meanwhile.
async fn wait(run_state: &mut watch::Receiver<RunState>, delay: Duration) -> bool {
    let jitter = rand::rng().random_range(0..=delay.as_millis() as u64 / 5 + 1);
    tokio::select! {
        _ = tokio::time::sleep(delay + Duration::from_millis(jitter)) => true,
        _ = stopped(run_state) => false,
    }
}

async fn stopped(run_state: &mut watch::Receiver<RunState>) {
    loop {
        if *run_state.borrow() != RunState::Running {
            return;
        }
        if run_state.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("nats-leaf://127.0.0.1:7422").expect("valid");
        assert_eq!(u.host_port, "127.0.0.1:7422");
        assert_eq!(u.user, None);
        let u = parse_url("nats-leaf://a:p%40ss@hub.example").expect("valid");
        assert_eq!(u.host_port, "hub.example:7422");
        assert_eq!(u.user.as_deref(), Some("a"));
        assert_eq!(u.pass.as_deref(), Some("p@ss"));
        let u = parse_url("nats://tok@[::1]:4000").expect("valid");
        assert_eq!(u.host_port, "[::1]:4000");
        assert_eq!(u.pass, None);
        assert!(parse_url("nats-leaf://").is_none());
        let u = parse_url("ws://hub:8080/edge/").expect("valid");
        assert!(u.websocket);
        assert_eq!(
            (u.host_port.as_str(), u.path.as_str()),
            ("hub:8080", "/edge/leafnode")
        );
        let u = parse_url("ws://u:p@hub").expect("valid");
        assert_eq!(
            (u.host_port.as_str(), u.path.as_str()),
            ("hub:80", "/leafnode")
        );
        let u = parse_url("wss://hub.example").expect("valid");
        assert!(u.websocket && u.tls);
        assert_eq!(
            (u.host_port.as_str(), u.host.as_str()),
            ("hub.example:443", "hub.example")
        );
        let u = parse_url("TLS://[::1]:7422").expect("valid");
        assert!(!u.websocket && u.tls);
        assert_eq!(u.host, "::1");
        assert!(!parse_url("nats-leaf://h:1").expect("valid").tls);
    }

    #[test]
    fn dial_errors_are_reported_as_nats_server_counts_them() {
        let config = Config::default();
        let reported = |linked, n| is_reported(&config, linked, n);
        assert!(reported(false, 1) && !reported(false, 2) && reported(false, 3600));
        assert!(
            (1..5).all(|n| reported(true, n)),
            "after a link, every failure"
        );
        let every_three = Config {
            connect_error_reports: 3,
            ..Config::default()
        };
        let shown: Vec<u64> = (1..=7)
            .filter(|&n| is_reported(&every_three, false, n))
            .collect();
        assert_eq!(shown, [1, 3, 6]);
    }
}
