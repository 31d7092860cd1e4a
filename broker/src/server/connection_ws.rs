//! The WebSocket read path of a client connection: raw frames are read
//! into their own buffer, decoded into the NATS byte stream (control
//! frames answered on the way), and then applied like a TCP read. Kept
//! apart so the plain TCP path in [`super::connection`] stays as it was.

use std::io;

use bytes::BytesMut;
use tokio::net::TcpStream;

use crate::websocket::frame::{self, Control};
use crate::websocket::{WsError, WsReader};

use super::connection::{apply_buffer, note_read, read_transport, release_if_idle, Read};
use super::outbound::CloseReason;
use super::session::Session;

/// [`super::connection`]'s `read_batch` for a WebSocket connection: raw frames are read into
/// their own buffer and decoded into `rbuf` first. Kept apart so the plain
/// TCP path stays as it was.
#[inline(never)]
pub(super) fn read_batch_ws(
    session: &mut Session,
    sock: &TcpStream,
    rbuf: &mut BytesMut,
    read_size: &mut usize,
    w: &mut WsReader,
) -> Result<Read, CloseReason> {
    if w.raw.capacity() - w.raw.len() < *read_size {
        w.raw.reserve(*read_size);
    }
    let offered = w.raw.capacity() - w.raw.len();
    let n = match read_transport(&session.handle.out, sock, &mut w.raw) {
        Ok(0) => return Ok(Read::Eof),
        Ok(n) => n,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            release_if_idle(&mut w.raw, *read_size);
            release_if_idle(rbuf, *read_size);
            return Ok(Read::Open);
        }
        Err(_) => return Err(CloseReason::ReadError),
    };
    note_read(session, n, offered, read_size);
    let end = ws_decode(session, w, rbuf);
    release_if_idle(&mut w.raw, *read_size);

    session.begin_batch();
    let outcome = apply_buffer(session, rbuf);
    if session.pending.has_stalled() {
        outcome?;
        return Ok(Read::Stalled { then: end });
    }
    session.end_batch(false);
    session.end_read();
    outcome?;
    release_if_idle(rbuf, *read_size);
    // The data that came before a close frame or a broken frame has been
    // applied, as nats-server does; now the connection ends.
    match end {
        Some(reason) => Err(reason),
        None => Ok(Read::Open),
    }
}

/// Decode the raw WebSocket bytes into `rbuf` and answer control frames.
/// `Some(reason)` when the connection must end: the client sent a close
/// frame (answered with a close), or broke the framing (answered with a
/// close saying why).
fn ws_decode(session: &Session, w: &mut WsReader, rbuf: &mut BytesMut) -> Option<CloseReason> {
    let mut controls = Vec::new();
    let result = w.decoder.decode(&mut w.raw, rbuf, &mut controls);
    let out = &session.handle.out;
    let mut end = None;
    for control in &controls {
        match control {
            Control::Ping(payload) => out.ws_control(frame::OP_PONG, payload),
            Control::Close(payload) => {
                out.ws_close(payload);
                end = Some(CloseReason::ClientClosed);
            }
        }
    }
    if let Err(e) = result {
        tracing::error!(
            "{} - cid:{} - websocket error: {e}",
            session.handle.addr,
            session.handle.id
        );
        if let WsError::Protocol(text) = &e {
            out.ws_close(&frame::close_payload(frame::CLOSE_PROTOCOL_ERROR, text));
        }
        return Some(CloseReason::ReadError);
    }
    if end.is_none() && !controls.is_empty() {
        out.flush_or_wake();
    }
    end
}
