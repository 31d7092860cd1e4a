//! The benchmark client: the NATS text protocol on raw blocking TCP. Payloads
//! are skipped in place, never copied out; PINGs are answered.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::ws::Deframer;

/// No progress for this long fails a scenario.
pub const STALL: Duration = Duration::from_secs(15);
pub const CONNECT: &[u8] =
    b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"name\":\"bench\"}\r\n";

/// A client connection: blocking socket plus an incremental reader.
pub struct Conn {
    pub sock: TcpStream,
    rd: Reader,
    /// A `ws://` connection: frames both ways.
    ws: Option<Box<WsConn>>,
}

struct WsConn {
    deframer: Deframer,
    scratch: Vec<u8>,
}

impl Conn {
    /// Connect, read INFO, send CONNECT (no PING: call [`Conn::sync`]).
    /// `ws://host:port` connects to a websocket port.
    pub fn connect(addr: &str) -> Result<Conn> {
        let (addr, websocket) = match addr.strip_prefix("ws://") {
            Some(a) => (a, true),
            None => (addr, false),
        };
        let mut sock = TcpStream::connect(addr).with_context(|| format!("connect to {addr}"))?;
        sock.set_nodelay(true)?;
        sock.set_read_timeout(Some(Duration::from_secs(10)))?;
        sock.set_write_timeout(Some(STALL))?;
        let ws = match websocket {
            true => Some(Box::new(WsConn {
                deframer: Deframer::new(super::ws::upgrade(&mut sock, addr)?),
                scratch: Vec::new(),
            })),
            false => None,
        };
        let mut conn = Conn {
            sock,
            rd: Reader::new(),
            ws,
        };
        let mut info = false;
        while !info {
            if conn.fill()? == 0 {
                bail!("connection closed before INFO");
            }
            conn.drain(|ev| match ev {
                Event::Info => {
                    info = true;
                    Ok(())
                }
                other => other.unexpected(),
            })?;
        }
        conn.send(CONNECT)?;
        Ok(conn)
    }

    pub fn send(&mut self, bytes: &[u8]) -> Result<()> {
        match &mut self.ws {
            None => self.sock.write_all(bytes).context("write"),
            Some(ws) => super::ws::write_frame(&mut self.sock, bytes, &mut ws.scratch),
        }
    }

    pub fn fill(&mut self) -> std::io::Result<usize> {
        let Some(ws) = &mut self.ws else {
            return self.rd.fill(&mut self.sock);
        };
        // Decode what is already buffered first (bytes that came with the
        // upgrade response), then read.
        loop {
            let before = self.rd.buffered();
            let mut decoded = std::mem::take(&mut self.rd.pending);
            ws.deframer
                .decode(&mut decoded)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
            self.rd.append(&decoded);
            self.rd.pending = decoded;
            self.rd.pending.clear();
            if self.rd.buffered() > before {
                return Ok(self.rd.buffered() - before);
            }
            let mut chunk = [0u8; 64 * 1024];
            let n = self.sock.read(&mut chunk)?;
            if n == 0 {
                return Ok(0);
            }
            ws.deframer.raw.extend_from_slice(&chunk[..n]);
        }
    }

    /// Read more for a loop that also watches a stop flag: `Ok(false)` when
    /// the read timeout passed with nothing new, an error when the server
    /// closed the connection (`what` names it) or the read failed.
    pub fn fill_or_idle(&mut self, what: &str) -> Result<bool> {
        match self.fill() {
            Ok(0) => bail!("server closed the {what} connection"),
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e).with_context(|| format!("{what} read")),
        }
    }

    /// PING, then read until PONG: the server has processed everything sent
    /// before. Fails on `-ERR` or an unexpected message.
    pub fn sync(&mut self) -> Result<()> {
        self.send(b"PING\r\n")?;
        let mut pong = false;
        while !pong {
            if self.fill().context("waiting for PONG")? == 0 {
                bail!("connection closed while waiting for PONG");
            }
            self.drain(|ev| match ev {
                Event::Pong => {
                    pong = true;
                    Ok(())
                }
                other => other.unexpected(),
            })?;
        }
        Ok(())
    }

    /// Hand every complete item read so far to `f`; answer the server's
    /// PINGs (nats-server pings new clients to measure RTT).
    #[inline]
    pub fn drain(&mut self, f: impl FnMut(Event<'_>) -> Result<()>) -> Result<()> {
        self.rd.drain(f)?;
        for _ in 0..std::mem::take(&mut self.rd.pings) {
            self.send(b"PONG\r\n")?;
        }
        Ok(())
    }
}

pub enum Event<'a> {
    /// A `MSG`/`HMSG` control line (without CRLF); its payload is skipped.
    Msg(&'a [u8]),
    Pong,
    Info,
    Ok,
    Err(&'a [u8]),
}

impl Event<'_> {
    pub fn unexpected(&self) -> Result<()> {
        match self {
            Event::Err(line) => bail!("server error: {}", String::from_utf8_lossy(line)),
            Event::Msg(line) => bail!("unexpected message: {}", String::from_utf8_lossy(line)),
            Event::Pong => bail!("unexpected PONG"),
            Event::Info => Ok(()),
            Event::Ok => Ok(()),
        }
    }
}

/// Incremental protocol reader over a reusable buffer. Payloads are skipped,
/// never copied out, even when they span reads. PINGs are counted, not
/// handed out.
struct Reader {
    /// Scratch for decoded websocket payloads.
    pending: Vec<u8>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Payload bytes (plus CRLF) still to skip.
    skip: usize,
    /// PINGs seen and not answered yet.
    pings: usize,
}

impl Reader {
    fn new() -> Reader {
        Reader {
            pending: Vec::new(),
            buf: vec![0; 256 * 1024],
            start: 0,
            end: 0,
            skip: 0,
            pings: 0,
        }
    }

    fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Append bytes decoded from websocket frames.
    fn append(&mut self, bytes: &[u8]) {
        self.make_room();
        if self.buf.len() - self.end < bytes.len() {
            self.buf.resize(self.end + bytes.len(), 0);
        }
        self.buf[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }

    fn make_room(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.buf.len() - self.end < 8192 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() - self.end < 8192 {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
    }

    fn fill(&mut self, sock: &mut TcpStream) -> std::io::Result<usize> {
        self.make_room();
        let n = sock.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// Hand every complete item in the buffer to `f`.
    #[inline]
    fn drain(&mut self, mut f: impl FnMut(Event<'_>) -> Result<()>) -> Result<()> {
        loop {
            if self.skip > 0 {
                let take = self.skip.min(self.end - self.start);
                self.start += take;
                self.skip -= take;
                if self.skip > 0 {
                    return Ok(());
                }
            }
            let Some(nl) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) else {
                return Ok(());
            };
            let (ls, next) = (self.start, self.start + nl + 1);
            let le = if nl > 0 && self.buf[ls + nl - 1] == b'\r' {
                ls + nl - 1
            } else {
                ls + nl
            };
            self.start = next;
            let line = &self.buf[ls..le];
            let event = match line.first() {
                Some(b'M') if line.starts_with(b"MSG ") => {
                    self.skip = last_number(line)? + 2;
                    Event::Msg(line)
                }
                Some(b'H') if line.starts_with(b"HMSG ") => {
                    self.skip = last_number(line)? + 2;
                    Event::Msg(line)
                }
                Some(b'P') if line == b"PING" => {
                    self.pings += 1;
                    continue;
                }
                Some(b'P') if line == b"PONG" => Event::Pong,
                Some(b'+') if line == b"+OK" => Event::Ok,
                Some(b'-') if line.starts_with(b"-ERR") => Event::Err(line),
                Some(b'I') if line.starts_with(b"INFO ") => Event::Info,
                _ => bail!(
                    "unparsable line from server: {:?}",
                    String::from_utf8_lossy(line)
                ),
            };
            f(event)?;
        }
    }
}

/// The size at the end of a `MSG` line.
#[inline]
fn last_number(line: &[u8]) -> Result<usize> {
    let digits = line.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 12 {
        bail!("bad size in {:?}", String::from_utf8_lossy(line));
    }
    Ok(line[line.len() - digits..]
        .iter()
        .fold(0usize, |n, &d| n * 10 + (d - b'0') as usize))
}

/// Runs its closure when dropped (stops helper threads on every exit path).
pub struct Defer<F: FnMut()>(pub F);

impl<F: FnMut()> Drop for Defer<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// Read from a raw socket until `needle` has arrived; fails on `-ERR`.
pub fn read_until(sock: &mut TcpStream, needle: &[u8]) -> Result<()> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(needle.len()).any(|w| w == needle) {
        let n = sock.read(&mut buf)?;
        if n == 0 {
            bail!("connection closed");
        }
        got.extend_from_slice(&buf[..n]);
        if got.starts_with(b"-ERR") {
            bail!("server said {}", String::from_utf8_lossy(&got).trim_end());
        }
    }
    Ok(())
}
