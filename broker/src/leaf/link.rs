//! The task that runs one leaf link, accepted or solicited: the
//! handshake (INFO / CONNECT, authentication on the accepting side), then
//! interest (`LS+`/`LS-`) and messages (`LMSG`) both ways, with PING/PONG
//! keeping the link honest.
//!
//! Control lines are tiny and written into the same outbound buffer as
//! messages, so a PONG waits at most behind what is already queued; the
//! ping timer only counts missed PONGs after a full interval without any
//! inbound traffic, so a slow link busy with data is not called stale.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::net::TcpStream;
use tokio::time::sleep_until;

use crate::auth::authenticator::{ConnectionType, Presented};
use crate::config::LeafRemoteConfig;
use crate::protocol::encode::{self, Delivery};
use crate::protocol::{Limits, ProtocolError};
use crate::server::connection::{default_auth_timeout, read_transport, readable, shutdown_socket};
use crate::server::delivery::PendingFlush;
use crate::server::outbound::{CloseReason, Flush, Outbound};
use crate::server::state::Shared;
use crate::server::subscription::Subscription;
use crate::server::write_deadline::{slow_but_moving, Overdue, WriteDeadline};
use crate::subject::MatchCache;
use crate::tls::TlsSession;
use crate::websocket::{WsReader, WsWriter};

use super::handle::{DenyList, LeafHandle};
use super::handshake::{LeafConnect, LeafInfo};
use super::inbound;
use super::parser::{parse_leaf_op, LeafOp, LeafParsed};

/// How long a soliciting side waits for the hub's first INFO and for its
/// answer to CONNECT; generous so that links with long round trips
/// (satellite, cellular) complete the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which side of the link this server is.
pub enum Role {
    /// We accepted it on the leafnode port.
    Accepted,
    /// We dialled it for a `remotes` entry, with the credentials of the
    /// URL in use.
    Solicited {
        remote: Arc<LeafRemoteConfig>,
        user: Option<String>,
        pass: Option<String>,
    },
}

/// How a link ended, for the reconnect policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Closed(CloseReason),
    /// The remote (or we) found a loop: wait longer before redialling.
    Loop,
    /// The remote is not a leafnode port.
    WrongPort,
}

/// Where the handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Accepting side: waiting for CONNECT.
    AwaitConnect,
    /// Soliciting side: waiting for the hub's first INFO.
    AwaitInfo,
    /// Soliciting side: CONNECT sent, waiting for the INFO that confirms it.
    AwaitConnectInfo,
    /// Registered: interest and messages flow.
    Linked,
}

pub(super) struct Link {
    pub shared: Arc<Shared>,
    pub handle: Arc<LeafHandle>,
    role: Role,
    stage: Stage,
    pub limits: Limits,
    pub cache: MatchCache<Subscription>,
    /// What the global account's mappings made of the subjects received.
    pub pending: PendingFlush,
    pings_out: u32,
    /// When the PING whose PONG measures the round trip went out.
    ping_sent: Option<Instant>,
    last_in: Instant,
    ended: Option<Ended>,
}

/// A link carried in WebSocket frames (a `ws://` remote, or a leaf that
/// reached our websocket port on a `/leafnode` path).
pub struct WsLink {
    pub reader: WsReader,
    pub writer: WsWriter,
}

/// What a link runs over: the socket and what was set up on it before the
/// leaf protocol starts.
pub struct Transport {
    pub stream: TcpStream,
    /// TLS, established by the listener or the dialer.
    pub tls: Option<Arc<TlsSession>>,
    /// WebSocket framing, after the upgrade.
    pub ws: Option<WsLink>,
    /// Leaf protocol already read: the hub's INFO, read in the clear
    /// before the TLS upgrade it asked for.
    pub received: BytesMut,
    /// Accepting side: the first INFO went out already (in the clear,
    /// before the TLS handshake).
    pub greeted: bool,
}

impl Transport {
    /// Plain TCP, nothing read or sent yet.
    pub fn tcp(stream: TcpStream) -> Self {
        Transport {
            stream,
            tls: None,
            ws: None,
            received: BytesMut::new(),
            greeted: false,
        }
    }
}

/// Run leaf link `id` over `transport` until it closes.
pub async fn run_over(
    shared: Arc<Shared>,
    id: u64,
    transport: Transport,
    addr: SocketAddr,
    role: Role,
) -> Ended {
    let Transport {
        stream,
        tls,
        ws,
        received,
        greeted,
    } = transport;
    let _ = stream.set_nodelay(true);
    let sock = Arc::new(stream);
    let config = shared.config();
    let import_deny = DenyList::jetstream_and(match &role {
        Role::Solicited { remote, .. } => &remote.deny_imports,
        Role::Accepted => &[],
    });
    // Leaf links carry everything for a whole server: never cut off for
    // pending bytes (as in nats-server), they stall client publishers from
    // ¾ of a generous max_pending.
    let max_pending = config.max_pending.max(64 * 1024 * 1024);
    let (out, mut ws_reader) = match ws {
        None => (Outbound::link(sock.clone(), max_pending, None), None),
        Some(ws) => (
            Outbound::link(sock.clone(), max_pending, Some(ws.writer)),
            Some(ws.reader),
        ),
    };
    let out = out.with_tls(tls);
    let handle = Arc::new(LeafHandle::new(
        id,
        addr,
        out,
        matches!(role, Role::Solicited { .. }),
        import_deny,
    ));
    let stage = match role {
        Role::Accepted => Stage::AwaitConnect,
        Role::Solicited { .. } => Stage::AwaitInfo,
    };
    let mut link = Link {
        limits: Limits {
            max_control_line: config.max_control_line.max(64 * 1024),
            max_payload: config.max_payload,
        },
        shared: shared.clone(),
        handle: handle.clone(),
        role,
        stage,
        cache: MatchCache::new(!config.no_match_cache),
        pending: PendingFlush::default(),
        pings_out: 0,
        ping_sent: None,
        last_in: Instant::now(),
        ended: None,
    };
    if link.stage == Stage::AwaitConnect {
        tracing::debug!("{addr} - lid:{id} - Leafnode connection created");
        if !greeted {
            let local = link.handle.out.local_addr().unwrap_or(shared.local_addr);
            let info = leaf_info(&shared, id, local, false).to_line();
            link.send(&info);
        }
    }
    let reason = serve(&mut link, &sock, ws_reader.as_mut(), received).await;
    let registered = link.stage == Stage::Linked;
    link.pending.flush();
    link.cache.clear();
    link.cache.report(&link.shared.global().sublist);
    handle.out.flush_final();
    shutdown_socket(&sock);
    if registered {
        shared.leafs.unregister(id);
    }
    inbound::drop_all_interest(&shared, &handle);
    let name = handle.meta.lock().name.clone();
    if registered {
        tracing::info!(
            "{addr} - lid:{id} - Leafnode connection closed: {} - Remote: {name}",
            reason.as_str()
        );
    } else {
        tracing::debug!(
            "{addr} - lid:{id} - Leafnode connection closed: {}",
            reason.as_str()
        );
    }
    link.ended.unwrap_or(Ended::Closed(reason))
}

async fn serve(
    link: &mut Link,
    sock: &Arc<TcpStream>,
    mut ws: Option<&mut WsReader>,
    mut rbuf: BytesMut,
) -> CloseReason {
    let handle = link.handle.clone();
    let config = link.shared.config();
    let ping_interval = config.ping_interval.max(Duration::from_millis(10));
    let now = Instant::now();
    let mut ping_at = now + ping_interval;
    let handshake_by = now
        + match link.stage {
            Stage::AwaitConnect => config
                .leafnodes
                .auth
                .timeout
                .unwrap_or_else(|| default_auth_timeout(config.leafnodes.tls.as_ref()))
                .max(Duration::from_secs(2)),
            _ => HANDSHAKE_TIMEOUT,
        };
    // Links default to nats-server's `retry`: a link that keeps taking
    // bytes is never cut for being slow. At least 10 s unless configured.
    let limit = config
        .leafnodes
        .write_deadline
        .unwrap_or(config.write_deadline.max(Duration::from_secs(10)));
    let mut deadline = WriteDeadline::new(limit, config.leafnodes.write_timeout, true);
    let mut last_written = 0;
    let timer = sleep_until(handshake_by.min(ping_at).into());
    tokio::pin!(timer);
    let woken = handle.out.woken();
    tokio::pin!(woken);
    // Frames that arrived with the websocket upgrade response (the hub's
    // INFO, typically), or the INFO read before a TLS upgrade, are already
    // here: no readiness event will announce them.
    if let Some(w) = ws.as_deref_mut() {
        if !w.raw.is_empty() {
            if let Err(e) = w.decode_into(&handle.out, &mut rbuf) {
                tracing::error!("{} - lid:{} - websocket error: {e}", handle.addr, handle.id);
                return CloseReason::ReadError;
            }
        }
    }
    if !rbuf.is_empty() {
        if let Err(reason) = apply_buffer(link, &mut rbuf) {
            link.pending.flush();
            return reason;
        }
    }
    link.pending.flush();
    // The TLS handshake may have left the peer's first bytes decrypted
    // inside the session, where no socket readiness announces them.
    let mut read_now = handle.out.tls().is_some();
    loop {
        if let Some(reason) = handle.out.closing() {
            return reason;
        }
        tokio::select! {
            biased;
            _ = &mut woken => {
                woken.set(handle.out.woken());
                match handle.out.flush() {
                    Flush::Done => deadline.cleared(),
                    Flush::Blocked => {
                        let started = deadline.due().is_none();
                        let due = deadline.blocked(&handle.out);
                        if started && due < timer.deadline().into_std() {
                            timer.as_mut().reset(due.into());
                        }
                    }
                    Flush::Closing => {}
                    Flush::Failed => return CloseReason::WriteError,
                }
            }
            ready = readable(sock, read_now) => {
                read_now = false;
                if ready.is_err() {
                    return CloseReason::ReadError;
                }
                let raw = match ws.as_deref_mut() {
                    Some(w) => &mut w.raw,
                    None => &mut rbuf,
                };
                if raw.capacity() - raw.len() < 32 * 1024 {
                    raw.reserve(64 * 1024);
                }
                match read_transport(&handle.out, sock, raw) {
                    Ok(0) => return CloseReason::ClientClosed,
                    Ok(_) => {
                        link.last_in = Instant::now();
                        let mut peer_closed = false;
                        if let Some(w) = ws.as_deref_mut() {
                            match w.decode_into(&handle.out, &mut rbuf) {
                                Ok(closed) => peer_closed = closed,
                                Err(e) => {
                                    tracing::error!("{} - lid:{} - websocket error: {e}", handle.addr, handle.id);
                                    return CloseReason::ReadError;
                                }
                            }
                        }
                        let outcome = apply_buffer(link, &mut rbuf);
                        link.pending.flush();
                        link.cache.report(&link.shared.global().sublist);
                        if let Err(reason) = outcome {
                            return reason;
                        }
                        if peer_closed {
                            return CloseReason::ClientClosed;
                        }
                        if rbuf.is_empty() && rbuf.capacity() > 256 * 1024 {
                            rbuf = BytesMut::new();
                        }
                    }
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted) => {}
                    Err(_) => return CloseReason::ReadError,
                }
            }
            _ = sock.writable(), if deadline.due().is_some() => {
                match handle.out.flush() {
                    Flush::Done => deadline.cleared(),
                    Flush::Blocked | Flush::Closing => {}
                    Flush::Failed => return CloseReason::WriteError,
                }
            }
            _ = &mut timer => {
                let now = Instant::now();
                if link.stage != Stage::Linked && now >= handshake_by {
                    if link.stage == Stage::AwaitConnect {
                        link.send_err("Authentication Timeout");
                        return CloseReason::AuthenticationTimeout;
                    }
                    tracing::error!("{} - lid:{} - Leafnode handshake with the remote timed out", handle.addr, handle.id);
                    return CloseReason::StaleConnection;
                }
                match deadline.check(now, &handle.out) {
                    Overdue::No => {}
                    Overdue::Close => return CloseReason::SlowConsumerWriteDeadline,
                    Overdue::Moving { written } => {
                        let addr = handle.addr.to_string();
                        slow_but_moving(&link.shared, &addr, handle.id, "lid", deadline.limit(), written);
                    }
                }
                if now >= ping_at {
                    // A link busy sending is alive too: the remote is
                    // reading, or TCP would stop taking our bytes. Its
                    // PONGs may be stuck behind our data on a slow link,
                    // so counting them would call a healthy link stale.
                    let written = handle.out.written();
                    let sending = written != last_written;
                    last_written = written;
                    if sending || link.last_in.elapsed() < ping_interval {
                        link.pings_out = 0;
                    } else {
                        if link.pings_out + 1 > config.ping_max {
                            link.send_err("Stale Leaf Node Connection - Closing");
                            return CloseReason::StaleConnection;
                        }
                        link.pings_out += 1;
                        link.ping();
                        link.pending.flush();
                    }
                    ping_at = now + ping_interval;
                }
                let mut next = ping_at;
                if link.stage != Stage::Linked {
                    next = next.min(handshake_by);
                }
                if let Some(due) = deadline.due() {
                    next = next.min(due);
                }
                timer.as_mut().reset(next.into());
            }
        }
    }
}

/// Apply every complete operation at the front of `rbuf`.
fn apply_buffer(link: &mut Link, rbuf: &mut BytesMut) -> Result<(), CloseReason> {
    let mut pos = 0;
    let mut need = 0;
    let mut msgs = 0u64;
    let mut bytes = 0u64;
    let result = loop {
        match parse_leaf_op(&rbuf[pos..], &link.limits) {
            Ok(LeafParsed::Op(op, len)) => {
                pos += len;
                if let LeafOp::Msg {
                    headers, payload, ..
                } = &op
                {
                    msgs += 1;
                    bytes += (payload.len() + headers.map_or(0, <[u8]>::len)) as u64;
                }
                if let Err(reason) = apply(link, op) {
                    break Err(reason);
                }
            }
            Ok(LeafParsed::Incomplete { min_len }) => {
                need = min_len;
                break Ok(());
            }
            Err(e) => break Err(protocol_error(link, &e)),
        }
    };
    rbuf.advance(pos);
    if need > rbuf.capacity() {
        rbuf.reserve(need - rbuf.len());
    }
    if msgs > 0 {
        use std::sync::atomic::Ordering::Relaxed;
        link.handle.in_msgs.fetch_add(msgs, Relaxed);
        link.handle.in_bytes.fetch_add(bytes, Relaxed);
    }
    result
}

fn protocol_error(link: &mut Link, e: &ProtocolError) -> CloseReason {
    tracing::error!("{} - lid:{} - {e}", link.handle.addr, link.handle.id);
    if let Some(text) = e.err_text() {
        link.send_err(text);
    }
    CloseReason::for_protocol_error(e)
}

fn apply(link: &mut Link, op: LeafOp<'_>) -> Result<(), CloseReason> {
    match (link.stage, op) {
        (_, LeafOp::Ping) => {
            link.send(encode::PONG);
            Ok(())
        }
        (_, LeafOp::Pong) => {
            link.pings_out = 0;
            if let Some(sent) = link.ping_sent.take() {
                link.handle.set_rtt(sent.elapsed());
            }
            Ok(())
        }
        (_, LeafOp::Ok) => Ok(()),
        (_, LeafOp::Err(text)) => {
            let text = String::from_utf8_lossy(text).into_owned();
            tracing::error!(
                "{} - lid:{} - Leafnode Error {text}",
                link.handle.addr,
                link.handle.id
            );
            if text.contains("Loop detected") {
                link.ended = Some(Ended::Loop);
                return Err(CloseReason::ProtocolViolation);
            }
            Ok(())
        }
        (Stage::AwaitConnect, LeafOp::Connect(json)) => accept_connect(link, json),
        (Stage::AwaitInfo, LeafOp::Info(json)) => first_info(link, json),
        (Stage::AwaitConnectInfo, LeafOp::Info(json)) => {
            let info: LeafInfo = serde_json::from_slice(json).unwrap_or_default();
            if info.connect_info {
                link_up(link);
            }
            Ok(())
        }
        // Later INFOs update URLs and permissions, which Tern does not use.
        (Stage::Linked | Stage::AwaitConnect, LeafOp::Info(_)) => Ok(()),
        (
            Stage::Linked,
            LeafOp::Sub {
                key,
                subject,
                queue,
                weight,
            },
        ) => inbound::subscribe(link, key, subject, queue, weight),
        (Stage::Linked, LeafOp::Unsub { key }) => {
            inbound::unsubscribe(link, key);
            Ok(())
        }
        (
            Stage::Linked,
            LeafOp::Msg {
                subject,
                reply,
                queues,
                headers,
                payload,
            },
        ) => {
            inbound::route(
                link,
                &Delivery {
                    subject,
                    reply,
                    headers,
                    payload,
                },
                queues,
            );
            Ok(())
        }
        (Stage::AwaitConnect, _) => {
            link.send_err("Authorization Violation");
            Err(CloseReason::AuthenticationViolation)
        }
        (Stage::AwaitInfo | Stage::AwaitConnectInfo, _) => {
            tracing::error!(
                "{} - lid:{} - Leafnode protocol received before the handshake completed",
                link.handle.addr,
                link.handle.id
            );
            Err(CloseReason::ProtocolViolation)
        }
        (Stage::Linked, LeafOp::Connect(_)) => {
            link.send_err("Protocol Violation");
            Err(CloseReason::ProtocolViolation)
        }
    }
}

/// Accepting side: check the leaf's CONNECT and link it.
fn accept_connect(link: &mut Link, json: &[u8]) -> Result<(), CloseReason> {
    let Ok(connect) = LeafConnect::parse(json) else {
        link.send_err("Protocol Violation");
        return Err(CloseReason::ProtocolViolation);
    };
    if connect.lang.is_some() {
        // A client dialled the leafnode port.
        link.send_err("attempted to connect to leaf node port");
        return Err(CloseReason::ProtocolViolation);
    }
    if connect.gateway.is_some() {
        link.send_err("Rejecting connection from gateway on the leafnode port");
        return Err(CloseReason::ProtocolViolation);
    }
    let config = link.shared.config();
    let leaf_auth = &config.leafnodes.auth;
    let presented = Presented {
        // Leaf CONNECTs carry no nkey signature Tern checks yet.
        nonce: None,
        via: if link.handle.out.is_websocket() {
            ConnectionType::LeafnodeWs
        } else {
            ConnectionType::Leafnode
        },
    };
    let credentials = connect.credentials();
    let verdict = if leaf_auth.required() {
        crate::auth::Authenticator::from_config(leaf_auth).authenticate(&credentials, &presented)
    } else {
        link.shared.auth().authenticate(&credentials, &presented)
    };
    if let Err(e) = verdict {
        tracing::error!(
            "{} - lid:{} - Leafnode authentication failed: {e}",
            link.handle.addr,
            link.handle.id
        );
        link.send_err("Authorization Violation");
        return Err(CloseReason::AuthenticationViolation);
    }
    let handle = link.handle.clone();
    handle.set_headers(connect.headers && !config.no_header_support);
    // A leaf that declares itself the hub makes us its spoke.
    handle.set_spoke(connect.hub);
    handle.set_remote(&connect.id, &connect.name, &connect.version);
    handle.set_export_deny(DenyList::jetstream_and(&connect.deny_pub));
    let local = handle.out.local_addr().unwrap_or(link.shared.local_addr);
    let info = leaf_info(&link.shared, handle.id, local, true).to_line();
    link.send(&info);
    link.pending.flush();
    link_up(link);
    Ok(())
}

/// Soliciting side: the hub's INFO arrived; answer with CONNECT.
fn first_info(link: &mut Link, json: &[u8]) -> Result<(), CloseReason> {
    let Ok(info) = serde_json::from_slice::<LeafInfo>(json) else {
        tracing::error!(
            "{} - lid:{} - Leafnode INFO does not parse",
            link.handle.addr,
            link.handle.id
        );
        return Err(CloseReason::ProtocolViolation);
    };
    if info.client_id == 0 || info.leafnode_urls.is_empty() {
        // nats-server's test for "this is not a leafnode port": client
        // ports send no leafnode URLs.
        tracing::error!(
            "{} - lid:{} - Attempted to connect to a non-leafnode port (client or route port)",
            link.handle.addr,
            link.handle.id
        );
        link.end(Ended::WrongPort);
        return Err(CloseReason::ProtocolViolation);
    }
    let config = link.shared.config();
    let handle = link.handle.clone();
    handle.set_headers(info.headers && !config.no_header_support);
    handle.set_remote(&info.server_id, &info.server_name, &info.version);
    let Role::Solicited { remote, user, pass } = &link.role else {
        return Err(CloseReason::ProtocolViolation);
    };
    // We are the spoke unless the remote entry says we are its hub.
    handle.set_spoke(!remote.hub);
    let token = match (user, pass) {
        (Some(u), None) => Some(u.clone()),
        _ => None,
    };
    let connect = LeafConnect {
        version: crate::protocol::info::NATS_COMPAT_VERSION.to_string(),
        id: link.shared.server_id.clone(),
        name: link.shared.server_name.clone(),
        hub: remote.hub,
        headers: !config.no_header_support,
        jetstream: config.jetstream.enabled,
        remote_account: crate::leaf::GLOBAL_ACCOUNT.to_string(),
        proto: 1,
        user: user.clone(),
        pass: pass.clone(),
        token,
        deny_pub: remote.deny_imports.clone(),
        ..LeafConnect::default()
    };
    handle.set_export_deny(DenyList::jetstream_and(&remote.deny_exports));
    link.send(&connect.to_line());
    link.pending.flush();
    if info.info_on_connect {
        link.stage = Stage::AwaitConnectInfo;
    } else {
        link_up(link);
    }
    Ok(())
}

/// The handshake is done, either way: announce our interest and start
/// measuring the round trip.
fn link_up(link: &mut Link) {
    link.stage = Stage::Linked;
    let handle = &link.handle;
    tracing::info!(
        "{} - lid:{} - Leafnode connection created for account: {} - Remote: {}",
        handle.addr,
        handle.id,
        crate::leaf::GLOBAL_ACCOUNT,
        handle.meta.lock().name
    );
    link.shared.leafs.register(handle);
    link.ping();
}

impl Link {
    /// PING the remote; its PONG measures the round trip.
    fn ping(&mut self) {
        self.ping_sent = Some(Instant::now());
        self.send(encode::PING);
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let pushed = self
            .handle
            .out
            .push(self.pending.mark(), |b| b.extend_from_slice(bytes));
        self.pending.note_leaf(&self.handle, pushed);
    }

    pub fn send_err(&mut self, text: &str) {
        let pushed = self
            .handle
            .out
            .push(self.pending.mark(), |b| encode::write_err(b, text));
        self.pending.note_leaf(&self.handle, pushed);
    }

    pub fn end(&mut self, ended: Ended) {
        self.ended = Some(ended);
    }
}

/// INFO for the leafnode port of link `id` on `local`: first (with a
/// nonce, `info_on_connect`) or confirming a CONNECT (`connect_info`).
pub fn leaf_info(shared: &Shared, id: u64, local: SocketAddr, connect_info: bool) -> LeafInfo {
    let config = shared.config();
    let url = config
        .leafnodes
        .advertise
        .clone()
        .unwrap_or_else(|| local.to_string());
    let tls = config.leafnodes.tls.as_ref();
    LeafInfo {
        server_id: shared.server_id.clone(),
        server_name: shared.server_name.clone(),
        version: crate::protocol::info::NATS_COMPAT_VERSION.to_string(),
        go: format!("tern {}", crate::VERSION),
        host: local.ip().to_string(),
        port: local.port(),
        headers: !config.no_header_support,
        auth_required: true,
        max_payload: config.max_payload,
        proto: 1,
        client_id: id,
        nonce: if connect_info {
            String::new()
        } else {
            super::interest::random_token()
        },
        leafnode_urls: vec![url],
        jetstream: config.jetstream.enabled,
        tls_required: tls.is_some(),
        tls_verify: tls.is_some_and(|t| t.verify),
        info_on_connect: !connect_info,
        connect_info,
        remote_account: if connect_info {
            crate::leaf::GLOBAL_ACCOUNT.to_string()
        } else {
            String::new()
        },
        ..LeafInfo::default()
    }
}
