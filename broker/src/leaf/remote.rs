//! Dialling a `remotes` entry and keeping the link up: URLs are tried in
//! turn, with the reconnect delay (nats-server's default 1 s) plus jitter
//! between attempts, 30 s after a loop was detected. Local clients never
//! notice: the server serves them the same with or without the link.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::config::LeafRemoteConfig;
use crate::server::state::{RunState, Shared};

use super::link::{self, Ended, Role};

pub const DEFAULT_RECONNECT: Duration = Duration::from_secs(1);
const LOOP_DELAY: Duration = Duration::from_secs(30);
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// nats-server's leafnode port when a URL names none.
const DEFAULT_LEAF_PORT: u16 = 7422;

/// A remote URL taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUrl {
    pub host_port: String,
    pub user: Option<String>,
    pub pass: Option<String>,
}

/// `nats-leaf://[user[:pass]@]host[:port]` (also `nats://`).
pub fn parse_url(url: &str) -> Option<RemoteUrl> {
    let (_, rest) = url.split_once("://")?;
    let rest = rest.trim_end_matches('/');
    let (userinfo, host) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    if host.is_empty() {
        return None;
    }
    let has_port = match host.strip_prefix('[') {
        Some(v6) => v6.split_once("]:").is_some(),
        None => host.contains(':'),
    };
    let host_port = if has_port {
        host.to_string()
    } else {
        format!("{host}:{DEFAULT_LEAF_PORT}")
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
        user,
        pass,
    })
}

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
    loop {
        if *run_state.borrow() != RunState::Running {
            return;
        }
        let url = &remote.urls[attempt % remote.urls.len()];
        attempt += 1;
        let mut delay = reconnect;
        match parse_url(url) {
            None => tracing::error!("Invalid leafnode remote url {url:?}"),
            Some(target) => {
                tracing::debug!(
                    "Trying to connect as leafnode to remote server on {:?}",
                    target.host_port
                );
                match tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(&target.host_port))
                    .await
                {
                    Ok(Ok(stream)) => {
                        let addr = stream.peer_addr().unwrap_or(shared.local_addr);
                        let role = Role::Solicited {
                            remote: remote.clone(),
                            user: target.user,
                            pass: target.pass,
                        };
                        let run = link::run(shared.clone(), stream, addr, role);
                        tokio::pin!(run);
                        let ended = tokio::select! {
                            ended = &mut run => ended,
                            _ = stopped(&mut run_state) => {
                                // Shutdown closes the link; let it finish.
                                run.await
                            }
                        };
                        if ended == Ended::Loop {
                            delay = LOOP_DELAY;
                        }
                        // A link that was up is redialled at once, like
                        // nats-server; failures back off.
                        attempt = attempt.saturating_sub(1);
                    }
                    Ok(Err(e)) => tracing::debug!(
                        "Error trying to connect as leafnode to remote server {:?}: {e}",
                        target.host_port
                    ),
                    Err(_) => tracing::debug!(
                        "Timed out connecting as leafnode to remote server {:?}",
                        target.host_port
                    ),
                }
            }
        }
        let jitter = rand::rng().random_range(0..=delay.as_millis() as u64 / 5 + 1);
        let wait = delay + Duration::from_millis(jitter);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped(&mut run_state) => return,
        }
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
    }
}
