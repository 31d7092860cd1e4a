//! The monitoring port's HTTP request reader
//! (`tern::monitor::http::read_request`) with its query string decoding
//! (`tern::monitor::query`): requests one after another on a keep-alive
//! connection, read in pieces of a chosen size, and the parameter
//! decoders the endpoints call on what was read.
//!
//! Input: a byte choosing the read size, then the bytes a client sends.
//!
//! The reader only waits on its stream; the stream here is in memory and
//! always ready, so one poll finishes each request (no runtime needed).
//! Checked beyond "no panic": the buffer of unread bytes shrinks or the
//! reading stops, and never holds more than a head and a body.

#![no_main]

use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use tern::monitor::http::{read_request, Request, MAX_BODY, MAX_HEAD};
use tokio::io::{AsyncRead, ReadBuf};

/// The reader's own read size (bytes past one request stay buffered).
const READ_CHUNK: usize = 4096;

/// A client that sends `data` in reads of at most `size` bytes.
struct Pieces<'a> {
    data: &'a [u8],
    size: usize,
}

impl AsyncRead for Pieces<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.size.min(self.data.len()).min(buf.remaining());
        let (head, rest) = self.data.split_at(n);
        buf.put_slice(head);
        self.data = rest;
        Poll::Ready(Ok(()))
    }
}

/// Runs a future that never waits (its stream is always ready).
fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the request reader waited on an in-memory stream"),
    }
}

/// The parameters the endpoints decode (connz, subsz, healthz, ...).
fn decode_query(request: &Request) {
    let q = &request.query;
    for key in ["subs", "auth", "js-enabled-only", "accounts", "consumers"] {
        let _ = q.bool(key);
    }
    for key in ["offset", "limit", "cid", "mqtt_client"] {
        let _ = q.int(key);
    }
    let _ = q.uint64("cid");
    let _ = q.subs();
    let _ = q.get("sort");
    let _ = q.get("state");
}

fuzz_target!(|data: &[u8]| {
    let Some((&size, data)) = data.split_first() else {
        return;
    };
    let mut stream = Pieces {
        data,
        size: usize::from(size) * 64 + 1,
    };
    let mut buf = Vec::new();
    loop {
        let before = stream.data.len() + buf.len();
        match run_ready(read_request(&mut stream, &mut buf)) {
            Ok(Some(request)) => {
                decode_query(&request);
                assert!(
                    stream.data.len() + buf.len() < before,
                    "a request used no bytes"
                );
            }
            Ok(None) | Err(_) => break,
        }
        assert!(buf.len() <= MAX_HEAD + MAX_BODY + 2 * READ_CHUNK);
    }
});
