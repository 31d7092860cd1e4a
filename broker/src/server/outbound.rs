//! A connection's pending output.
//!
//! Any task may append to it (delivery from publishers, the owner's own
//! PONG/+OK/-ERR) and any task may flush it with a non-blocking write: the
//! publisher that appended flushes at the end of its read batch, so the
//! common case needs no task wake-up at all. When the socket does not take
//! everything, the owner task is woken and waits for writability. When the
//! pending bytes of a client pass `max_pending`, the connection is marked
//! as a slow consumer and closed. A link to another server (a leaf) is
//! never cut for its pending bytes, as in nats-server: it carries a whole
//! server's traffic, and only its write deadline ends it.
//!
//! Before that, past three quarters of `max_pending`, the connection is
//! *stalled*: client publishers that deliver to it wait a little
//! ([`Outbound::stall_wait`], driven by `super::stall`) until it drains
//! below that mark again, as nats-server slows fast producers. Nothing
//! waits while holding this lock.
//!
//! A WebSocket connection's state also holds its [`WsWriter`]: a flush
//! wraps the pending NATS bytes into frames in the writer's wire buffer and
//! writes that. New bytes are framed only once the wire buffer is empty,
//! so they keep accumulating (and counting against `max_pending`) while
//! the socket is full. Plain TCP pays one `Option` check per flush.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::tls::TlsSession;
use crate::websocket::frame;
use crate::websocket::WsWriter;

/// Why a connection is being closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    ClientClosed,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    StaleConnection,
    ProtocolViolation,
    AuthenticationViolation,
    AuthenticationTimeout,
    MaxPayloadExceeded,
    MaxControlLineExceeded,
    MaxConnectionsExceeded,
    ReadError,
    WriteError,
    ServerShutdown,
}

impl CloseReason {
    /// How a connection that broke the protocol ends.
    pub fn for_protocol_error(e: &crate::protocol::ProtocolError) -> CloseReason {
        use crate::protocol::ProtocolError;
        match e {
            ProtocolError::MaxPayload { .. } => CloseReason::MaxPayloadExceeded,
            ProtocolError::MaxControlLine => CloseReason::MaxControlLineExceeded,
            _ => CloseReason::ProtocolViolation,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "Client Closed",
            CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            CloseReason::StaleConnection => "Stale Connection",
            CloseReason::ProtocolViolation => "Protocol Violation",
            CloseReason::AuthenticationViolation => "Authentication Failure",
            CloseReason::AuthenticationTimeout => "Authentication Timeout",
            CloseReason::MaxPayloadExceeded => "Maximum Message Payload Exceeded",
            CloseReason::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            CloseReason::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            CloseReason::ReadError => "Read Error",
            CloseReason::WriteError => "Write Error",
            CloseReason::ServerShutdown => "Server Shutdown",
        }
    }
}

/// Result of a flush attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Flush {
    /// Everything pending was written.
    Done,
    /// The socket is full; bytes remain pending.
    Blocked,
    /// The connection is closing; nothing was written.
    Closing,
    /// The write failed; the connection has been marked closing.
    Failed,
}

struct State {
    buf: BytesMut,
    /// WebSocket framing; `None` for plain TCP.
    ws: Option<Box<WsWriter>>,
    closing: Option<CloseReason>,
    /// The publisher batch that last queued this connection for flushing
    /// (see `delivery::PendingFlush`); kept under the same lock as the
    /// append so that marking costs nothing extra.
    flush_mark: u64,
    out_msgs: u64,
    out_bytes: u64,
    /// Bytes the socket has taken so far.
    written: u64,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Nothing appended: the connection is closing (or just became a slow
    /// consumer).
    Rejected,
    /// Appended; this batch had already queued the connection for flushing.
    Queued,
    /// Appended, and the caller must queue the connection for flushing.
    FirstInBatch,
}

/// Buffers larger than this are released once drained, so one burst does
/// not pin memory on an otherwise idle connection.
const RETAIN_CAPACITY: usize = 256 * 1024;

pub struct Outbound {
    state: Mutex<State>,
    /// Wakes the owner task: bytes are waiting on a full socket, or the
    /// connection must close.
    wake: Notify,
    sock: Arc<TcpStream>,
    max_pending: usize,
    /// Pending bytes past which the connection is a slow consumer
    /// (`max_pending` for clients, never for links).
    cut_off_at: usize,
    /// Pending bytes past which publishers are stalled (¾ of
    /// `max_pending`, nats-server's mark).
    stall_at: usize,
    /// The pending bytes passed `stall_at` and have not dropped below it
    /// since; set and cleared under the state lock, read without it.
    stalled: AtomicBool,
    /// Wakes the publishers stalled on this connection.
    unstall: Notify,
    /// How many times a publisher waited on this connection.
    stalls: AtomicU64,
    websocket: bool,
    /// The TLS session the bytes are encrypted through, when the
    /// connection has one (set before the connection is shared).
    tls: Option<Arc<TlsSession>>,
}

impl Outbound {
    pub fn new(sock: Arc<TcpStream>, max_pending: usize) -> Self {
        Self::with_framing(sock, max_pending, None)
    }

    /// The outbound of a WebSocket connection.
    pub fn websocket(sock: Arc<TcpStream>, max_pending: usize, writer: WsWriter) -> Self {
        Self::with_framing(sock, max_pending, Some(Box::new(writer)))
    }

    /// The outbound of a link to another server (TCP or WebSocket): it
    /// stalls client publishers past ¾ of `max_pending` like a client, but
    /// is never cut off for its pending bytes.
    pub fn link(sock: Arc<TcpStream>, max_pending: usize, writer: Option<WsWriter>) -> Self {
        Outbound {
            cut_off_at: usize::MAX,
            ..Self::with_framing(sock, max_pending, writer.map(Box::new))
        }
    }

    fn with_framing(sock: Arc<TcpStream>, max_pending: usize, ws: Option<Box<WsWriter>>) -> Self {
        let websocket = ws.is_some();
        Outbound {
            state: Mutex::new(State {
                buf: BytesMut::new(),
                ws,
                closing: None,
                flush_mark: 0,
                out_msgs: 0,
                out_bytes: 0,
                written: 0,
            }),
            wake: Notify::new(),
            sock,
            max_pending,
            cut_off_at: max_pending,
            stall_at: max_pending / 4 * 3,
            stalled: AtomicBool::new(false),
            unstall: Notify::new(),
            stalls: AtomicU64::new(0),
            websocket,
            tls: None,
        }
    }

    /// Encrypt everything written through `tls`.
    pub fn with_tls(mut self, tls: Option<Arc<TlsSession>>) -> Self {
        self.tls = tls;
        self
    }

    /// The connection's TLS session, if it has one.
    #[inline]
    pub fn tls(&self) -> Option<&Arc<TlsSession>> {
        self.tls.as_ref()
    }

    /// Write some of `bytes` to the socket, through TLS when the
    /// connection has it; a socket's `try_write` semantics either way.
    #[inline]
    fn write_some(&self, bytes: &[u8]) -> io::Result<usize> {
        match &self.tls {
            None => self.sock.try_write(bytes),
            Some(tls) => tls.try_write(&self.sock, bytes),
        }
    }

    /// After the buffer is written: whether TLS records still wait for
    /// the socket (`Some(Flush::Blocked)`) or the write failed (marked in
    /// `closing`).
    #[inline]
    fn tls_leftover(&self, closing: &mut Option<CloseReason>) -> Option<Flush> {
        let tls = self.tls.as_ref()?;
        match tls.drain(&self.sock) {
            Ok(true) => None,
            Ok(false) => Some(Flush::Blocked),
            Err(_) => {
                *closing = Some(CloseReason::WriteError);
                self.release_below(0);
                Some(Flush::Failed)
            }
        }
    }

    /// Whether this connection speaks WebSocket.
    pub fn is_websocket(&self) -> bool {
        self.websocket
    }

    /// Append a protocol line (INFO, PONG, -ERR...) for batch `mark`.
    #[inline]
    pub fn push(&self, mark: u64, write: impl FnOnce(&mut BytesMut)) -> Pushed {
        self.append(mark, None, write)
    }

    /// Append one delivered message of `size` payload bytes (counted in the
    /// connection's outbound totals).
    #[inline]
    pub fn push_message(
        &self,
        mark: u64,
        size: usize,
        write: impl FnOnce(&mut BytesMut),
    ) -> Pushed {
        self.append(mark, Some(size), write)
    }

    /// Marks the connection as a slow consumer when the append takes it
    /// past `max_pending`, and as stalled past three quarters of it; the
    /// appender itself never waits here.
    #[inline]
    fn append(
        &self,
        mark: u64,
        message_size: Option<usize>,
        write: impl FnOnce(&mut BytesMut),
    ) -> Pushed {
        let mut st = self.state.lock();
        if st.closing.is_some() {
            return Pushed::Rejected;
        }
        write(&mut st.buf);
        let len = st.buf.len();
        if len > self.stall_at {
            if len > self.cut_off_at {
                st.buf = BytesMut::new();
                st.closing = Some(CloseReason::SlowConsumerPendingBytes);
                self.release_stalled();
                drop(st);
                self.wake.notify_one();
                return Pushed::Rejected;
            }
            if !self.stalled.load(Ordering::Relaxed) {
                self.stalled.store(true, Ordering::Relaxed);
            }
        }
        if let Some(size) = message_size {
            st.out_msgs += 1;
            st.out_bytes += size as u64;
        }
        if st.flush_mark == mark {
            Pushed::Queued
        } else {
            st.flush_mark = mark;
            Pushed::FirstInBatch
        }
    }

    /// Bytes the socket has accepted so far: while this grows, the peer is
    /// reading (TCP stops taking bytes from a peer that does not).
    pub fn written(&self) -> u64 {
        self.state.lock().written
    }

    /// The local end of the socket (the address a peer reached us on).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.sock.local_addr().ok()
    }

    /// Messages and payload bytes delivered to this connection so far.
    pub fn delivered(&self) -> (u64, u64) {
        let st = self.state.lock();
        (st.out_msgs, st.out_bytes)
    }

    /// Write as much as the socket takes without blocking.
    pub fn flush(&self) -> Flush {
        let mut st = self.state.lock();
        if st.closing.is_some() {
            return Flush::Closing;
        }
        if st.ws.is_some() {
            return self.flush_websocket(&mut st);
        }
        while !st.buf.is_empty() {
            match self.write_some(&st.buf) {
                Ok(0) => {
                    st.closing = Some(CloseReason::WriteError);
                    self.release_below(0);
                    return Flush::Failed;
                }
                Ok(n) => {
                    st.buf.advance(n);
                    st.written += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.release_below(st.buf.len());
                    return Flush::Blocked;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    st.closing = Some(CloseReason::WriteError);
                    self.release_below(0);
                    return Flush::Failed;
                }
            }
        }
        self.release_below(0);
        if let Some(flush) = self.tls_leftover(&mut st.closing) {
            return flush;
        }
        if st.buf.capacity() > RETAIN_CAPACITY {
            st.buf = BytesMut::new();
        }
        Flush::Done
    }

    /// Whether publishers should wait for this connection (its pending
    /// bytes passed three quarters of `max_pending`). No lock taken.
    #[inline]
    pub fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::Relaxed)
    }

    /// Wait (at most `ttl`) for this stalled connection to drain below its
    /// stall mark or to close. Returns how long the wait took. Counts the
    /// stall on this connection.
    pub async fn stall_wait(&self, ttl: Duration) -> Duration {
        let started = tokio::time::Instant::now();
        let released = self.unstall.notified();
        tokio::pin!(released);
        // Registered before the check, so a release between the check and
        // the wait is not missed.
        released.as_mut().enable();
        if !self.is_stalled() {
            return Duration::ZERO;
        }
        self.stalls.fetch_add(1, Ordering::Relaxed);
        let _ = tokio::time::timeout(ttl, released).await;
        started.elapsed()
    }

    /// How many times publishers waited on this connection.
    pub fn stalls(&self) -> u64 {
        self.stalls.load(Ordering::Relaxed)
    }

    /// Whether the pending bytes reached `max_pending` (a receiver that is
    /// never cut off for it, a leaf link, can be there); stalls on it last
    /// longer.
    pub fn is_full(&self) -> bool {
        self.pending_bytes() >= self.max_pending
    }

    /// Release stalled publishers once `pending` bytes are below the stall
    /// mark. Called under the state lock.
    #[inline]
    fn release_below(&self, pending: usize) {
        if pending < self.stall_at && self.stalled.load(Ordering::Relaxed) {
            self.release_stalled();
        }
    }

    #[cold]
    fn release_stalled(&self) {
        self.stalled.store(false, Ordering::Relaxed);
        self.unstall.notify_waiters();
    }

    /// The WebSocket flush: frame what is pending once the wire buffer is
    /// empty, and write the wire buffer.
    #[cold]
    #[inline(never)]
    fn flush_websocket(&self, st: &mut State) -> Flush {
        let State {
            buf, ws, closing, ..
        } = st;
        let Some(ws) = ws.as_mut() else {
            return Flush::Done;
        };
        loop {
            if ws.wire.is_empty() {
                if buf.is_empty() {
                    break;
                }
                ws.frame(buf);
            }
            match self.write_some(&ws.wire) {
                Ok(0) => {
                    *closing = Some(CloseReason::WriteError);
                    self.release_below(0);
                    return Flush::Failed;
                }
                Ok(n) => ws.wire.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.release_below(buf.len());
                    return Flush::Blocked;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    *closing = Some(CloseReason::WriteError);
                    self.release_below(0);
                    return Flush::Failed;
                }
            }
        }
        self.release_below(0);
        if let Some(flush) = self.tls_leftover(closing) {
            return flush;
        }
        if ws.wire.capacity() > RETAIN_CAPACITY {
            ws.wire = BytesMut::new();
        }
        if buf.capacity() > RETAIN_CAPACITY {
            *buf = BytesMut::new();
        }
        Flush::Done
    }

    /// Queue a WebSocket control frame (a pong) ahead of data not yet
    /// framed; the caller flushes. Nothing happens on a closing or plain
    /// TCP connection.
    pub fn ws_control(&self, op: u8, payload: &[u8]) {
        let mut st = self.state.lock();
        if st.closing.is_some() {
            return;
        }
        if let Some(ws) = st.ws.as_mut() {
            if !ws.close_sent() {
                ws.control(op, payload);
            }
        }
    }

    /// Queue the WebSocket close frame after everything pending: `payload`
    /// is the status and reason (see [`frame::close_payload`]). Only the
    /// first close is sent; plain TCP ignores this.
    pub fn ws_close(&self, payload: &[u8]) {
        let mut st = self.state.lock();
        let State { buf, ws, .. } = &mut *st;
        if let Some(ws) = ws.as_mut() {
            ws.frame(buf);
            ws.close(payload);
        }
    }

    /// Queue the close frame nats-server sends when it closes a WebSocket
    /// connection for `reason`.
    pub fn ws_close_for(&self, reason: CloseReason) {
        if self.websocket {
            self.ws_close(&frame::close_payload(
                ws_close_status(reason),
                reason.as_str(),
            ));
        }
    }

    /// Flush from another task: if the socket is full, hand the rest to the
    /// owner task, which waits for writability.
    #[inline]
    pub fn flush_or_wake(&self) {
        match self.flush() {
            Flush::Done | Flush::Closing => {}
            Flush::Blocked | Flush::Failed => self.wake.notify_one(),
        }
    }

    /// Ask the owner task to close the connection.
    pub fn close(&self, reason: CloseReason) {
        {
            let mut st = self.state.lock();
            if st.closing.is_none() {
                st.closing = Some(reason);
            }
            if self.is_stalled() {
                self.release_stalled();
            }
        }
        self.wake.notify_one();
    }

    /// Mark closing but first let already-queued bytes (an `-ERR`) go out.
    /// Used by the owner task, which writes what it can before closing.
    pub fn closing(&self) -> Option<CloseReason> {
        self.state.lock().closing
    }

    pub fn pending_bytes(&self) -> usize {
        let st = self.state.lock();
        st.buf.len() + st.ws.as_ref().map_or(0, |w| w.pending())
    }

    /// Wait until another task wakes the owner.
    pub async fn woken(&self) {
        self.wake.notified().await
    }

    /// Last-chance write of whatever is pending (an `-ERR` line before a
    /// close), ignoring the closing mark. Best effort, never blocks.
    pub fn flush_final(&self) {
        let mut st = self.state.lock();
        // Nobody waits for a connection that is going away.
        self.release_below(0);
        if matches!(st.closing, Some(CloseReason::SlowConsumerPendingBytes)) {
            return;
        }
        let State { buf, ws, .. } = &mut *st;
        let out = match ws.as_mut() {
            Some(ws) => {
                ws.frame(buf);
                &mut ws.wire
            }
            None => buf,
        };
        while !out.is_empty() {
            match self.write_some(out) {
                Ok(n) if n > 0 => out.advance(n),
                _ => break,
            }
        }
        if let Some(tls) = &self.tls {
            tls.send_close();
            let _ = tls.drain(&self.sock);
        }
        *out = BytesMut::new();
        st.buf = BytesMut::new();
    }
}

/// The close status nats-server sends for each close reason.
fn ws_close_status(reason: CloseReason) -> u16 {
    use CloseReason::*;
    match reason {
        ClientClosed => frame::CLOSE_NORMAL,
        AuthenticationTimeout
        | AuthenticationViolation
        | SlowConsumerPendingBytes
        | SlowConsumerWriteDeadline
        | MaxConnectionsExceeded
        | MaxControlLineExceeded => frame::CLOSE_POLICY_VIOLATION,
        ProtocolViolation => frame::CLOSE_PROTOCOL_ERROR,
        MaxPayloadExceeded => frame::CLOSE_MESSAGE_TOO_BIG,
        WriteError | ReadError | StaleConnection | ServerShutdown => frame::CLOSE_GOING_AWAY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connected socket whose peer never reads.
    async fn stuck_socket() -> (Arc<TcpStream>, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (ours, theirs) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (Arc::new(ours.unwrap()), theirs.unwrap().0)
    }

    #[tokio::test]
    async fn a_client_is_cut_off_past_max_pending_a_link_only_stalls() {
        let chunk = vec![b'x'; 1000];
        for link in [false, true] {
            let (sock, _peer) = stuck_socket().await;
            let out = if link {
                Outbound::link(sock, 10_000, None)
            } else {
                Outbound::new(sock, 10_000)
            };
            let mut results = Vec::new();
            for mark in 0..30 {
                results.push(out.push_message(mark, chunk.len(), |b| b.extend_from_slice(&chunk)));
            }
            let rejected = results.iter().filter(|p| **p == Pushed::Rejected).count();
            if link {
                assert_eq!(rejected, 0, "a link keeps everything");
                assert!(out.is_stalled(), "stalled past 3/4");
                assert!(out.is_full() && out.pending_bytes() == 30_000);
            } else {
                assert!(rejected > 0, "a client becomes a slow consumer");
            }
        }
    }
}
