//! A connection's pending output.
//!
//! Any task may append to it (delivery from publishers, the owner's own
//! PONG/+OK/-ERR) and any task may flush it with a non-blocking write: the
//! publisher that appended flushes at the end of its read batch, so the
//! common case needs no task wake-up at all. When the socket does not take
//! everything, the owner task is woken and waits for writability. When the
//! pending bytes pass `max_pending`, the connection is marked as a slow
//! consumer and closed; the appender is never slowed down.

use std::io;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::sync::Notify;

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
    closing: Option<CloseReason>,
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
}

impl Outbound {
    pub fn new(sock: Arc<TcpStream>, max_pending: usize) -> Self {
        Outbound {
            state: Mutex::new(State {
                buf: BytesMut::new(),
                closing: None,
            }),
            wake: Notify::new(),
            sock,
            max_pending,
        }
    }

    /// Append with `write`. Returns false (and appends nothing) when the
    /// connection is closing; marks it as a slow consumer when the append
    /// takes it past `max_pending`.
    #[inline]
    pub fn push(&self, write: impl FnOnce(&mut BytesMut)) -> bool {
        let mut st = self.state.lock();
        if st.closing.is_some() {
            return false;
        }
        write(&mut st.buf);
        if st.buf.len() > self.max_pending {
            st.buf = BytesMut::new();
            st.closing = Some(CloseReason::SlowConsumerPendingBytes);
            drop(st);
            self.wake.notify_one();
            return false;
        }
        true
    }

    /// Write as much as the socket takes without blocking.
    pub fn flush(&self) -> Flush {
        let mut st = self.state.lock();
        if st.closing.is_some() {
            return Flush::Closing;
        }
        while !st.buf.is_empty() {
            match self.sock.try_write(&st.buf) {
                Ok(0) => {
                    st.closing = Some(CloseReason::WriteError);
                    return Flush::Failed;
                }
                Ok(n) => st.buf.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Flush::Blocked,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    st.closing = Some(CloseReason::WriteError);
                    return Flush::Failed;
                }
            }
        }
        if st.buf.capacity() > RETAIN_CAPACITY {
            st.buf = BytesMut::new();
        }
        Flush::Done
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
        }
        self.wake.notify_one();
    }

    /// Mark closing but first let already-queued bytes (an `-ERR`) go out.
    /// Used by the owner task, which writes what it can before closing.
    pub fn closing(&self) -> Option<CloseReason> {
        self.state.lock().closing
    }

    pub fn pending_bytes(&self) -> usize {
        self.state.lock().buf.len()
    }

    /// Wait until another task wakes the owner.
    pub async fn woken(&self) {
        self.wake.notified().await
    }

    /// Last-chance write of whatever is pending (an `-ERR` line before a
    /// close), ignoring the closing mark. Best effort, never blocks.
    pub fn flush_final(&self) {
        let mut st = self.state.lock();
        if matches!(st.closing, Some(CloseReason::SlowConsumerPendingBytes)) {
            return;
        }
        while !st.buf.is_empty() {
            match self.sock.try_write(&st.buf) {
                Ok(n) if n > 0 => st.buf.advance(n),
                _ => break,
            }
        }
        st.buf = BytesMut::new();
    }
}
