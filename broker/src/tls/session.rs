//! One established TLS connection, shared by the task that reads it and
//! whoever writes to it. rustls holds the state of both directions in one
//! value, so both sides take the same short lock: the reader to decrypt
//! what the socket has, a writer to encrypt what it appends. Nothing
//! blocks under it; the socket is driven with non-blocking reads and
//! writes, as the plain TCP path is.

use std::io::{self, Read, Write};

use bytes::BytesMut;
use parking_lot::Mutex;
use rustls::Connection;
use tokio::net::TcpStream;

/// Plaintext handed to rustls per write: bounds what waits inside rustls
/// (and so outside the outbound's pending count) to about one read's worth.
const MAX_CHUNK: usize = 64 * 1024;

pub struct TlsSession {
    conn: Mutex<Connection>,
    /// "1.3" / "1.2", as `/connz` shows it.
    version: &'static str,
    /// The negotiated suite's IANA name.
    cipher: String,
}

/// A non-blocking socket as rustls's `Read`/`Write`.
struct SockIo<'a>(&'a TcpStream);

impl Read for SockIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl Write for SockIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TlsSession {
    /// Wrap a connection whose handshake is complete.
    pub fn new(conn: impl Into<Connection>) -> Self {
        let conn = conn.into();
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_2) => "1.2",
            _ => "1.3",
        };
        let cipher = conn
            .negotiated_cipher_suite()
            .map(|s| {
                let name = format!("{:?}", s.suite());
                // Go (and so /connz) names TLS 1.3 suites without the "13".
                name.replacen("TLS13_", "TLS_", 1)
            })
            .unwrap_or_default();
        TlsSession {
            conn: Mutex::new(conn),
            version,
            cipher,
        }
    }

    pub fn version(&self) -> &'static str {
        self.version
    }

    pub fn cipher(&self) -> &str {
        &self.cipher
    }

    /// Decrypt what the socket has into `plain`: `Ok(n)` plaintext bytes
    /// (some may have been buffered since the handshake), `Ok(0)` at the end
    /// of the stream, `WouldBlock` when nothing is there yet, `InvalidData`
    /// for a TLS error (rustls has queued the alert for the peer).
    pub fn read(&self, sock: &TcpStream, plain: &mut BytesMut) -> io::Result<usize> {
        let mut conn = self.conn.lock();
        let mut total = drain_plaintext(&mut conn, plain)?;
        loop {
            match conn.read_tls(&mut SockIo(sock)) {
                Ok(0) => return Ok(total),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && total > 0 => return Ok(total),
                Err(e) => return Err(e),
            }
            let state = conn
                .process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            total += drain_plaintext(&mut conn, plain)?;
            if total > 0 || state.peer_has_closed() {
                return Ok(total);
            }
        }
    }

    /// Like a socket's `try_write`: encrypt up to [`MAX_CHUNK`] of `plain`
    /// and return how much was taken. Records made earlier go out first; if
    /// they cannot, nothing is taken (`WouldBlock`).
    pub fn try_write(&self, sock: &TcpStream, plain: &[u8]) -> io::Result<usize> {
        let mut conn = self.conn.lock();
        write_records(&mut conn, sock)?;
        let take = plain.len().min(MAX_CHUNK);
        let n = conn.writer().write(&plain[..take])?;
        match write_records(&mut conn, sock) {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }

    /// Write the records rustls holds: `Ok(true)` once none is left,
    /// `Ok(false)` while the socket is full.
    pub fn drain(&self, sock: &TcpStream) -> io::Result<bool> {
        match write_records(&mut self.conn.lock(), sock) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Records (an alert, a key update answer, data) wait to be written.
    pub fn wants_write(&self) -> bool {
        self.conn.lock().wants_write()
    }

    /// Queue a close_notify; the next write sends it.
    pub fn send_close(&self) {
        self.conn.lock().send_close_notify();
    }
}

/// Everything rustls has decrypted, appended to `plain`. A peer that
/// closed without close_notify ends the stream like one that sent it.
fn drain_plaintext(conn: &mut Connection, plain: &mut BytesMut) -> io::Result<usize> {
    let mut chunk = [0u8; 16 * 1024];
    let mut total = 0;
    loop {
        match conn.reader().read(&mut chunk) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                plain.extend_from_slice(&chunk[..n]);
                total += n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(total),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(total),
            Err(e) => return Err(e),
        }
    }
}

/// Write rustls's pending records until none is left (or `WouldBlock`).
fn write_records(conn: &mut Connection, sock: &TcpStream) -> io::Result<()> {
    while conn.wants_write() {
        if conn.write_tls(&mut SockIo(sock))? == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
    }
    Ok(())
}
