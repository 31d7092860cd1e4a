//! Just enough HTTP/1.1 for monitoring: read one request (request line,
//! headers, and any small body, which is skipped), and write a complete
//! response with `Content-Length`. Keep-alive and pipelining work because
//! bytes after one request stay in the caller's buffer for the next.

use std::time::SystemTime;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::error::RequestError;
use super::format::http_date;
use super::query::{unescape_path, Query};

/// Largest request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest request body accepted (and skipped): monitoring takes none.
pub const MAX_BODY: usize = 64 * 1024;

/// One parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Percent-decoded path.
    pub path: String,
    pub query: Query,
    /// The client wants the connection kept open after the response.
    pub keep_alive: bool,
}

impl Request {
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// Read the next request. `buf` holds bytes already read (and keeps those
/// past this request). `Ok(None)` when the peer closed before sending one.
pub async fn read_request<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut Vec<u8>,
) -> Result<Option<Request>, RequestError> {
    let mut scan = HeadScan::default();
    let head_len = loop {
        if let Some(n) = head_end(buf, &mut scan) {
            break n;
        }
        if buf.len() > MAX_HEAD {
            return Err(RequestError::HeadersTooLarge);
        }
        if read_more(stream, buf).await? == 0 {
            if buf.iter().all(|b| b.is_ascii_whitespace()) {
                return Ok(None);
            }
            return Err(RequestError::Malformed("connection closed mid-request"));
        }
    };
    if head_len > MAX_HEAD {
        return Err(RequestError::HeadersTooLarge);
    }
    let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
    let (request, body_len) = parse_head(&head)?;
    let total = head_len + body_len;
    while buf.len() < total {
        if read_more(stream, buf).await? == 0 {
            return Err(RequestError::Malformed("connection closed mid-body"));
        }
    }
    buf.drain(..total);
    Ok(Some(request))
}

async fn read_more<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut Vec<u8>,
) -> Result<usize, RequestError> {
    let mut chunk = [0u8; 4096];
    let n = stream
        .read(&mut chunk)
        .await
        .map_err(|_| RequestError::Malformed("read error"))?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// How far [`head_end`] got in a buffer that only grows, so that each
/// read scans only the new bytes. Rescanning from the start made a client
/// that sends its head a byte at a time cost quadratic time (found by the
/// `monitor_request` fuzz target, whose runs slowed to a few thousand
/// requests a second).
#[derive(Debug, Default)]
struct HeadScan {
    /// Where to go on looking.
    from: usize,
    /// The leading blank lines are behind us.
    started: bool,
}

/// Length of the head including the blank line that ends it (a bare LF
/// ends lines too, as Go accepts).
fn head_end(buf: &[u8], scan: &mut HeadScan) -> Option<usize> {
    if !scan.started {
        // Leading blank lines before the request line are ignored (RFC 9112).
        match buf[scan.from..]
            .iter()
            .position(|b| *b != b'\r' && *b != b'\n')
        {
            Some(p) => {
                scan.from += p;
                scan.started = true;
            }
            None => {
                scan.from = buf.len();
                return None;
            }
        }
    }
    let mut i = scan.from;
    while let Some(off) = memchr::memchr(b'\n', &buf[i..]) {
        let nl = i + off;
        let next = nl + 1;
        match (buf.get(next), buf.get(next + 1)) {
            (Some(b'\n'), _) => return Some(next + 1),
            (Some(b'\r'), Some(b'\n')) => return Some(next + 2),
            // What follows this line end has not all arrived: look at it
            // again next time.
            (None, _) | (Some(b'\r'), None) => {
                scan.from = nl;
                return None;
            }
            (Some(_), _) => i = next,
        }
    }
    // No line end in what is new: the next one can only come later.
    scan.from = buf.len();
    None
}

/// Parse the request line and headers; returns the request and the body
/// length to skip.
fn parse_head(head: &str) -> Result<(Request, usize), RequestError> {
    let mut lines = head
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .skip_while(|l| l.is_empty());
    let request_line = lines
        .next()
        .ok_or(RequestError::Malformed("missing request line"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::Malformed("bad request line"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(RequestError::Malformed("bad method"));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        v if v.starts_with("HTTP/") => return Err(RequestError::Version),
        _ => return Err(RequestError::Malformed("bad HTTP version")),
    };
    let mut keep_alive = !http10;
    let mut body_len = 0usize;
    for line in lines {
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(RequestError::Malformed("bad header line"))?;
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(RequestError::Malformed("bad header name"));
        }
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            body_len = value
                .parse::<usize>()
                .map_err(|_| RequestError::Malformed("bad Content-Length"))?;
            if body_len > MAX_BODY {
                return Err(RequestError::Body("too large"));
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(RequestError::Body("transfer codings"));
        }
    }
    let (path, query) = split_target(target)?;
    Ok((
        Request {
            method: method.to_string(),
            path,
            query,
            keep_alive,
        },
        body_len,
    ))
}

/// Origin form (`/varz?x=1`) or absolute form (`http://host/varz`).
fn split_target(target: &str) -> Result<(String, Query), RequestError> {
    let target = match target.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => {
            match rest.find(['/', '?']) {
                Some(i) if rest[i..].starts_with('/') => &rest[i..],
                Some(i) => return Ok(("/".to_string(), Query::parse(&rest[i + 1..]))),
                None => "/",
            }
        }
        _ => target,
    };
    if !target.starts_with('/') {
        return Err(RequestError::Malformed("bad request target"));
    }
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let path = unescape_path(raw_path).ok_or(RequestError::Malformed("bad path escape"))?;
    Ok((path, Query::parse(raw_query)))
}

/// A complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// `Access-Control-Allow-Origin: *`, as nats-server sends with JSON.
    pub cors: bool,
    /// `X-Content-Type-Options: nosniff`, as Go sends with its 404.
    pub nosniff: bool,
}

pub const JSON: &str = "application/json";
pub const TEXT: &str = "text/plain; charset=utf-8";
pub const HTML: &str = "text/html; charset=utf-8";
pub const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Response {
    pub fn json(status: u16, body: Vec<u8>) -> Response {
        Response {
            status,
            content_type: JSON,
            body,
            cors: true,
            nosniff: false,
        }
    }

    pub fn text(status: u16, text: impl Into<String>) -> Response {
        Response {
            status,
            content_type: TEXT,
            body: text.into().into_bytes(),
            cors: false,
            nosniff: false,
        }
    }

    pub fn html(body: String) -> Response {
        Response {
            content_type: HTML,
            ..Response::text(200, body)
        }
    }

    pub fn prometheus(body: String) -> Response {
        Response {
            content_type: PROMETHEUS,
            ..Response::text(200, body)
        }
    }

    /// Go's `http.NotFound`.
    pub fn not_found() -> Response {
        Response {
            nosniff: true,
            ..Response::text(404, "404 page not found\n")
        }
    }

    /// The response to a request that could not be read.
    pub fn for_error(e: &RequestError) -> Response {
        match e {
            RequestError::Malformed(_) => Response::text(400, "400 Bad Request"),
            RequestError::Version => Response::text(505, "505 HTTP Version Not Supported"),
            RequestError::HeadersTooLarge => {
                Response::text(431, "431 Request Header Fields Too Large")
            }
            RequestError::Body("too large") => Response::text(413, "413 Request Entity Too Large"),
            RequestError::Body(_) => Response::text(501, "501 Not Implemented"),
            RequestError::BadQuery(text) => Response::text(400, text.clone()),
        }
    }

    /// The bytes on the wire. `head_only` for HEAD requests.
    pub fn encode(&self, head_only: bool, keep_alive: bool, now: SystemTime) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 192);
        out.extend_from_slice(
            format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).as_bytes(),
        );
        if self.cors {
            out.extend_from_slice(b"Access-Control-Allow-Origin: *\r\n");
        }
        out.extend_from_slice(format!("Content-Type: {}\r\n", self.content_type).as_bytes());
        if self.nosniff {
            out.extend_from_slice(b"X-Content-Type-Options: nosniff\r\n");
        }
        out.extend_from_slice(format!("Date: {}\r\n", http_date(now)).as_bytes());
        out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        if !keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        413 => "Request Entity Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(bytes: &[u8]) -> (Result<Option<Request>, RequestError>, Vec<u8>) {
        let mut stream = bytes;
        let mut buf = Vec::new();
        let r = read_request(&mut stream, &mut buf).await;
        (r, buf)
    }

    #[tokio::test]
    async fn request_line_query_and_keep_alive() {
        let (r, rest) = read(b"GET /connz?subs=1&sort=cid HTTP/1.1\r\nHost: x\r\n\r\nGET /v").await;
        let r = r.unwrap().unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/connz"));
        assert_eq!(r.query.get("sort"), "cid");
        assert!(r.keep_alive);
        assert_eq!(rest, b"GET /v");
        let (r, _) = read(b"GET /varz HTTP/1.0\n\n").await;
        assert!(!r.unwrap().unwrap().keep_alive);
        let (r, _) =
            read(b"GET http://h:8222/subsz?subs=1 HTTP/1.1\r\nConnection: close\r\n\r\n").await;
        let r = r.unwrap().unwrap();
        assert_eq!(r.path, "/subsz");
        assert!(!r.keep_alive);
    }

    #[tokio::test]
    async fn bodies_are_skipped_and_bad_requests_refused() {
        let (r, rest) = read(b"POST /varz HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET").await;
        assert_eq!(r.unwrap().unwrap().method, "POST");
        assert_eq!(rest, b"GET");
        for bad in [
            &b"GARBAGE\r\n\r\n"[..],
            b"GET /varz\r\n\r\n",
            b"GET varz HTTP/1.1\r\n\r\n",
            b"GET /varz XTTP/1.1\r\n\r\n",
            b"GET /varz HTTP/1.1\r\nNoColon\r\n\r\n",
            b"GET /varz HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            b"GET /varz HTTP/1.1\r\n",
        ] {
            let (r, _) = read(bad).await;
            assert!(
                matches!(r, Err(RequestError::Malformed(_))),
                "{:?} -> {r:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let (r, _) = read(b"").await;
        assert_eq!(r, Ok(None));
        let (r, _) = read(b"GET /varz HTTP/2.0\r\n\r\n").await;
        assert_eq!(r, Err(RequestError::Version));
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        let (r, _) = read(&big).await;
        assert_eq!(r, Err(RequestError::HeadersTooLarge));
        let (r, _) = read(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").await;
        assert!(matches!(r, Err(RequestError::Body(_))));
    }

    /// A reader that hands out one byte per read.
    struct Trickle<'a>(&'a [u8]);

    impl tokio::io::AsyncRead for Trickle<'_> {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if let Some((first, rest)) = self.0.split_first() {
                buf.put_slice(&[*first]);
                self.0 = rest;
            }
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_head_read_a_byte_at_a_time_reads_the_same() {
        // The head scan resumes where it stopped (it used to start over
        // on every read: quadratic in the head's size, found by the
        // monitor_request fuzz target); line ends split across reads
        // must still be seen.
        for wire in [
            &b"GET /varz HTTP/1.1\r\nHost: x\r\n\r\nrest"[..],
            b"\r\n\n\r\nGET /connz?subs=1 HTTP/1.0\n\nrest",
            b"GET / HTTP/1.1\r\nA: b\n\r\nrest",
            b"GET / HTTP/1.1\r\nA: \r\r\nB: c\r\n\r\nrest",
        ] {
            let (whole, whole_rest) = read(wire).await;
            let mut stream = Trickle(wire);
            let mut buf = Vec::new();
            let trickled = read_request(&mut stream, &mut buf).await;
            assert_eq!(trickled, whole, "{:?}", String::from_utf8_lossy(wire));
            assert!(whole.unwrap().is_some());
            // What the whole read left over, the trickle has yet to read.
            assert_eq!(
                [&buf[..], stream.0].concat(),
                whole_rest,
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
    }

    #[test]
    fn responses_carry_length_and_type() {
        let r = Response::json(200, b"{}".to_vec());
        let wire = String::from_utf8(r.encode(false, false, SystemTime::UNIX_EPOCH)).unwrap();
        assert!(wire.starts_with("HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: application/json\r\n"));
        assert!(wire.contains("Content-Length: 2\r\n"));
        assert!(wire.contains("Connection: close\r\n"));
        assert!(wire.ends_with("\r\n\r\n{}"));
        let head = Response::not_found().encode(true, true, SystemTime::UNIX_EPOCH);
        assert!(head.ends_with(b"\r\n\r\n"));
    }
}
