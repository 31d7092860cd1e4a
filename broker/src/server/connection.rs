//! The task that runs one client connection.
//!
//! One task per connection waits on: the socket becoming readable (read a
//! batch, parse, apply, flush the receivers it touched), a wake-up from
//! another task (bytes handed to us, our full socket, or a close request —
//! server shutdown and lame duck close clients this way), the socket
//! becoming writable while output is blocked, and one timer for the ping
//! interval, the write deadline and the authentication deadline.
//!
//! TCP and WebSocket clients run here alike; a WebSocket connection adds a
//! [`WsReader`] that turns the frames read into the NATS byte stream before
//! the parser sees it (its output side is framed inside [`Outbound`]).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::time::sleep_until;

use crate::protocol::{encode, parse_op, Parsed, ProtocolError, ServerInfo};
use crate::tls::TlsSession;
use crate::websocket::frame::Decoder;
use crate::websocket::{Upgrade, WsReader, WsWriter};

use super::client::ClientHandle;
use super::connection_ws::read_batch_ws;
use super::delivery::remove_subscription;
use super::ops;
use super::outbound::{CloseReason, Flush, Outbound};
use super::session::Session;
use super::state::{RunState, Shared};
use super::write_deadline::{slow_but_moving, Overdue, WriteDeadline};

/// Read sizes adapt like nats-server's: start small, double while reads
/// fill the buffer, halve when they come back mostly empty.
const MIN_READ: usize = 512;
const MAX_READ: usize = 64 * 1024;

/// Serve one client until it disconnects or is closed.
pub async fn serve(shared: Arc<Shared>, stream: TcpStream, addr: SocketAddr) {
    serve_transport(shared, stream, addr, None).await
}

/// Serve one client whose WebSocket upgrade was accepted (over `tls` for
/// `wss://`).
pub async fn serve_websocket(
    shared: Arc<Shared>,
    stream: TcpStream,
    addr: SocketAddr,
    upgrade: Upgrade,
    tls: Option<Arc<TlsSession>>,
) {
    serve_transport(shared, stream, addr, Some((upgrade, tls))).await
}

/// The INFO a client is sent: a WebSocket client is told the websocket
/// listener's host and port, as nats-server does.
pub fn client_info(
    shared: &Shared,
    id: u64,
    client_ip: Option<String>,
    websocket: bool,
) -> ServerInfo {
    let mut info = shared.info_for(id, client_ip);
    if websocket {
        let config = shared.config();
        if let (Some(ws), Some(addr)) = (&config.websocket, shared.websocket_addr()) {
            info.host = ws.host.clone();
            info.port = addr.port();
        }
    }
    info
}

async fn serve_transport(
    shared: Arc<Shared>,
    stream: TcpStream,
    addr: SocketAddr,
    websocket: Option<(Upgrade, Option<Arc<TlsSession>>)>,
) {
    let _ = stream.set_nodelay(true);
    let id = shared.next_client_id();
    let config = shared.config();
    let mut info = client_info(
        &shared,
        id,
        Some(addr.ip().to_string()),
        websocket.is_some(),
    );
    if shared.auth().uses_nonce() {
        info.nonce = Some(crate::auth::authenticator::new_nonce());
    }
    let nonce = info.nonce.clone();
    let info = info.to_line();
    let (stream, tls, info_sent, upgrade) = match (websocket, shared.client_tls()) {
        (Some((upgrade, tls)), _) => (stream, tls, false, Some(upgrade)),
        (None, Some(server_config)) => {
            let Some(tc) = config.tls.as_ref() else {
                return;
            };
            let allow_plain = config.allow_non_tls;
            match crate::tls::listener_start::start(stream, tc, server_config, &info, allow_plain)
                .await
            {
                Ok(started) => {
                    if let Some(session) = &started.tls {
                        tracing::debug!(
                            "{addr} - cid:{id} - TLS handshake complete (TLS {}, {})",
                            session.version(),
                            session.cipher()
                        );
                    }
                    (started.stream, started.tls, started.greeted, None)
                }
                Err(e @ crate::tls::HandshakeError::Greeting(_)) => {
                    tracing::debug!("{addr} - cid:{id} - {e}");
                    return;
                }
                Err(e) => {
                    tracing::error!("{addr} - cid:{id} - {e}");
                    return;
                }
            }
        }
        (None, None) => (stream, None, false, None),
    };
    let sock = Arc::new(stream);
    let out = match &upgrade {
        None => Outbound::new(sock.clone(), config.max_pending),
        Some(up) => Outbound::websocket(
            sock.clone(),
            config.max_pending,
            WsWriter::new(up.compress, up.browser, up.safari),
        ),
    }
    .with_tls(tls);
    let handle = Arc::new(ClientHandle::new(id, addr, out));
    tracing::debug!("{addr} - cid:{id} - Client connection created");

    let mut session = Session::new(shared.clone(), handle.clone());
    session.nonce = nonce;
    let mut ws = upgrade.map(|up| {
        if !up.cookies.is_empty() {
            session.ws_cookies = Some(Box::new(up.cookies));
        }
        WsReader {
            raw: BytesMut::new(),
            decoder: Decoder::new(!up.no_masking, up.compress, config.max_payload),
            ping_interval: config.websocket.as_ref().and_then(|w| w.ping_interval),
        }
    });
    if !info_sent {
        session.send(&info);
    }

    let reason = if shared.client_count() >= config.max_connections {
        tracing::error!("{addr} - cid:{id} - maximum connections exceeded");
        session.send_err("maximum connections exceeded");
        CloseReason::MaxConnectionsExceeded
    } else {
        shared.register(handle.clone());
        session.pending.flush();
        // Shutdown closes registered clients; one that registered just after
        // that sweep sees the state here instead.
        let reason = if shared.run_state() == RunState::ShuttingDown {
            CloseReason::ServerShutdown
        } else {
            run(&mut session, &sock, ws.as_mut()).await
        };
        shared.unregister(id);
        reason
    };

    // Let an -ERR queued just before the close reach the client (and, on
    // WebSocket, the close frame after it).
    session.pending.flush();
    session.cache.clear();
    session.cache.report(&session.account.sublist);
    handle.out.ws_close_for(reason);
    handle.out.flush_final();
    // Other connections' match caches may keep this handle (and so the
    // socket) alive a little longer; the client must see the close now.
    shutdown_socket(&sock);
    let subs: Vec<_> = handle.subs.lock().drain().map(|(_, s)| s).collect();
    for sub in &subs {
        remove_subscription(&shared, sub);
    }
    if shared.records_closed() {
        shared.record_closed(handle.closed_record(reason, &subs));
    }
    if reason == CloseReason::StaleConnection {
        shared
            .totals
            .stale_connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    if reason == CloseReason::SlowConsumerPendingBytes
        || reason == CloseReason::SlowConsumerWriteDeadline
    {
        shared
            .totals
            .slow_consumers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(
            "{addr} - cid:{id} - Slow Consumer Detected: {} (max_pending {})",
            reason.as_str(),
            config.max_pending
        );
    }
    tracing::debug!(
        "{addr} - cid:{id} - Client connection closed: {}",
        reason.as_str()
    );
}

pub(crate) fn shutdown_socket(sock: &TcpStream) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is owned by `sock`, which outlives this call;
    // shutdown(2) does not close or invalidate it.
    unsafe {
        libc::shutdown(sock.as_raw_fd(), libc::SHUT_RDWR);
    }
}

async fn run(
    session: &mut Session,
    sock: &Arc<TcpStream>,
    mut ws: Option<&mut WsReader>,
) -> CloseReason {
    let handle = session.handle.clone();
    let config = session.config.clone();
    let mut rbuf = BytesMut::new();
    let mut read_size = MIN_READ;

    // One timer serves the ping interval, the authentication deadline and
    // the write deadline; it is reset only when the earliest of them moves,
    // so a busy connection does not rebuild timers on every turn.
    let now = Instant::now();
    let ping_interval = ws
        .as_ref()
        .and_then(|w| w.ping_interval)
        .unwrap_or(config.ping_interval)
        .max(Duration::from_millis(10));
    let mut ping_at = now + ping_interval;
    let auth_at = session.auth_required.then(|| {
        now + config
            .auth
            .timeout
            .unwrap_or_else(|| default_auth_timeout(config.tls.as_ref()))
    });
    let mut deadline = WriteDeadline::new(config.write_deadline, config.write_timeout, false);
    let timer = sleep_until(next_wake(ping_at, auth_at, None).into());
    tokio::pin!(timer);
    let woken = handle.out.woken();
    tokio::pin!(woken);
    // The TLS handshake may have left the client's first bytes decrypted
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
                        if started {
                            timer.as_mut().reset(next_wake(ping_at, auth_at, Some(due)).into());
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
                let read = match ws.as_deref_mut() {
                    None => read_batch(session, sock, &mut rbuf, &mut read_size),
                    Some(w) => read_batch_ws(session, sock, &mut rbuf, &mut read_size, w),
                };
                match read {
                    Ok(Read::Open) => {}
                    Ok(Read::Eof) => return CloseReason::ClientClosed,
                    Ok(Read::Stalled { then }) => {
                        if let Err(reason) = apply_after_stalls(session, &mut rbuf).await {
                            return reason;
                        }
                        release_if_idle(&mut rbuf, read_size);
                        if let Some(reason) = then {
                            return reason;
                        }
                    }
                    Err(reason) => return reason,
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
                if auth_at.is_some_and(|t| now >= t) && !session.connected {
                    session.send_err("Authentication Timeout");
                    return CloseReason::AuthenticationTimeout;
                }
                match deadline.check(now, &handle.out) {
                    Overdue::No => {}
                    Overdue::Close => return CloseReason::SlowConsumerWriteDeadline,
                    Overdue::Moving { written } => {
                        let addr = handle.addr.to_string();
                        slow_but_moving(&session.shared, &addr, handle.id, "cid", deadline.limit(), written);
                    }
                }
                let write_deadline = deadline.due();
                if now >= ping_at {
                    if let Err(reason) = ping_tick(session, ping_interval) {
                        return reason;
                    }
                    ping_at = now + ping_interval;
                }
                let auth_pending = auth_at.filter(|_| !session.connected);
                timer.as_mut().reset(next_wake(ping_at, auth_pending, write_deadline).into());
            }
        }
    }
}

/// The socket is readable (or, with `now`, is to be read at once).
pub(crate) async fn readable(sock: &TcpStream, now: bool) -> io::Result<()> {
    if now {
        return Ok(());
    }
    sock.readable().await
}

/// nats-server's default: 2 s, or the TLS timeout plus one second on a
/// TLS port (the client may have just spent that on the handshake).
pub(crate) fn default_auth_timeout(tls: Option<&crate::config::TlsConfig>) -> Duration {
    match tls {
        Some(tls) => tls.handshake_timeout() + Duration::from_secs(1),
        None => Duration::from_secs(2),
    }
}

/// The earliest of the connection's deadlines.
fn next_wake(
    ping_at: Instant,
    auth_at: Option<Instant>,
    write_deadline: Option<Instant>,
) -> Instant {
    [auth_at, write_deadline]
        .into_iter()
        .flatten()
        .fold(ping_at, Instant::min)
}

/// What a read left to do.
pub(super) enum Read {
    /// Everything read was applied; the connection stays open.
    Open,
    /// End of stream.
    Eof,
    /// A receiver is behind: wait for it, then apply the rest of the read
    /// buffer ([`apply_after_stalls`]), then end with `then` if set.
    Stalled { then: Option<CloseReason> },
}

/// Read what the socket has, apply every complete operation, flush the
/// receivers.
fn read_batch(
    session: &mut Session,
    sock: &TcpStream,
    rbuf: &mut BytesMut,
    read_size: &mut usize,
) -> Result<Read, CloseReason> {
    if rbuf.capacity() - rbuf.len() < *read_size {
        rbuf.reserve(*read_size);
    }
    let offered = rbuf.capacity() - rbuf.len();
    let n = match read_transport(&session.handle.out, sock, rbuf) {
        Ok(0) => return Ok(Read::Eof),
        Ok(n) => n,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            // Nothing more to read: receivers of deferred batches are
            // flushed before the task waits.
            session.flush_deferred();
            release_if_idle(rbuf, *read_size);
            return Ok(Read::Open);
        }
        Err(_) => return Err(CloseReason::ReadError),
    };
    note_read(session, n, offered, read_size);

    session.begin_batch();
    let outcome = apply_buffer(session, rbuf);
    if session.pending.has_stalled() {
        outcome?;
        return Ok(Read::Stalled { then: None });
    }
    session.end_batch(n == offered);
    session.end_read();
    outcome?;
    release_if_idle(rbuf, *read_size);
    Ok(Read::Open)
}

/// Wait for the receivers found behind, each time applying more of the
/// read buffer, until it is all applied (stalls that outlast the read's
/// budget no longer stop it; see [`super::stall`]).
async fn apply_after_stalls(session: &mut Session, rbuf: &mut BytesMut) -> Result<(), CloseReason> {
    let mut outcome = Ok(());
    while session.wait_for_stalled().await {
        if let Some(reason) = session.handle.out.closing() {
            outcome = Err(reason);
            break;
        }
        session.begin_batch();
        outcome = apply_buffer(session, rbuf);
        if outcome.is_err() {
            break;
        }
    }
    session.end_batch(false);
    session.end_read();
    outcome
}

/// Activity and read-size bookkeeping after `n` bytes were read into
/// `offered` bytes of room.
#[inline]
pub(super) fn note_read(session: &mut Session, n: usize, offered: usize, read_size: &mut usize) {
    session.last_in = Instant::now();
    session.handle.touch(session.last_in);
    if n == offered {
        *read_size = (*read_size * 2).min(MAX_READ);
    } else if n < *read_size / 2 {
        *read_size = (*read_size / 2).max(MIN_READ);
    }
}

/// Read from the socket, decrypting when the connection has TLS (whose
/// records the session may have to answer: a key update, an alert).
#[inline]
pub(crate) fn read_transport(
    out: &Outbound,
    sock: &TcpStream,
    buf: &mut BytesMut,
) -> io::Result<usize> {
    let Some(tls) = out.tls() else {
        return read_once(sock, buf);
    };
    let read = tls.read(sock, buf);
    if tls.wants_write() {
        out.flush_or_wake();
    }
    read
}

/// One `recv` into the spare capacity of `rbuf`. A short read means the
/// socket is drained, so readiness is cleared right away (inside `try_io`,
/// which only clears it if no new data arrived meanwhile): the next turn
/// then waits in epoll instead of making a `recv` that would block.
pub(crate) fn read_once(sock: &TcpStream, rbuf: &mut BytesMut) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let fd = sock.as_raw_fd();
    let mut drained = None;
    let result = sock.try_io(Interest::READABLE, || {
        let spare = rbuf.spare_capacity_mut();
        let len = spare.len();
        // SAFETY: `spare` is writable memory of `len` bytes owned by `rbuf`;
        // recv(2) writes at most `len` bytes into it.
        let n = unsafe { libc::recv(fd, spare.as_mut_ptr().cast(), len, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        // SAFETY: recv initialised the first `n` bytes of the spare capacity.
        unsafe { rbuf.set_len(rbuf.len() + n) };
        if n > 0 && n < len {
            drained = Some(n);
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    });
    match drained {
        Some(n) => Ok(n),
        None => result,
    }
}

/// An idle connection holds no read buffer: most edge connections are idle
/// most of the time, and their memory is what limits how many fit.
pub(super) fn release_if_idle(rbuf: &mut BytesMut, read_size: usize) {
    if rbuf.is_empty() && read_size == MIN_READ && rbuf.capacity() > 0 {
        *rbuf = BytesMut::new();
    }
}

/// Parse and apply all complete operations at the front of `rbuf`, then
/// drop the bytes they used.
pub(super) fn apply_buffer(session: &mut Session, rbuf: &mut BytesMut) -> Result<(), CloseReason> {
    let mut pos = 0;
    let mut need = 0;
    let result = loop {
        match parse_op(&rbuf[pos..], &session.limits) {
            Ok(Parsed::Op(op, len)) => {
                pos += len;
                if tracing::enabled!(tracing::Level::TRACE) {
                    super::trace::inbound(session, &rbuf[pos - len..pos], &op);
                }
                if let Err(reason) = ops::apply(session, op) {
                    break Err(reason);
                }
                if session.pending.has_stalled() {
                    // The rest waits until the receiver has drained.
                    break Ok(());
                }
            }
            Ok(Parsed::Incomplete { min_len }) => {
                need = min_len;
                break Ok(());
            }
            Err(e) => break Err(protocol_error(session, &e)),
        }
    };
    rbuf.advance(pos);
    if need > rbuf.capacity() {
        // A large message is arriving: make room for all of it at once.
        rbuf.reserve(need - rbuf.len());
    }
    result
}

fn protocol_error(session: &mut Session, e: &ProtocolError) -> CloseReason {
    tracing::error!("{} - cid:{} - {e}", session.handle.addr, session.handle.id);
    if let Some(text) = e.err_text() {
        session.send_err(text);
    }
    CloseReason::for_protocol_error(e)
}

/// How often a busy connection's RTT is measured anyway (nats-server's
/// `DEFAULT_RTT_MEASUREMENT_INTERVAL`).
const RTT_MEASUREMENT_INTERVAL: Duration = Duration::from_secs(3600);

/// The ping timer fired: close a stale connection or send a PING.
fn ping_tick(session: &mut Session, interval: Duration) -> Result<(), CloseReason> {
    // Traffic from the client proves it is alive; no need to ask, unless
    // the RTT is due for a measurement (never yet, or an hour old).
    let rtt_due = session
        .rtt_measured_at
        .is_none_or(|at| at.elapsed() > RTT_MEASUREMENT_INTERVAL);
    if session.last_in.elapsed() < interval && !rtt_due {
        return Ok(());
    }
    if session.pings_out + 1 > session.config.ping_max {
        tracing::debug!(
            "{} - cid:{} - Stale Client Connection - Closing",
            session.handle.addr,
            session.handle.id
        );
        session.send_err("Stale Connection");
        session.pending.flush();
        return Err(CloseReason::StaleConnection);
    }
    session.pings_out += 1;
    session.ping_sent_at = Some(Instant::now());
    session.send(encode::PING);
    session.pending.flush();
    Ok(())
}
