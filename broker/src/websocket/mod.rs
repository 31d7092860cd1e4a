//! WebSocket transport for client connections, as nats-server speaks it
//! (nats.ws, nats.js in browsers, any RFC 6455 client sending the NATS
//! protocol in binary frames).
//!
//! A WebSocket connection is accepted by [`listener`], upgraded by
//! [`handshake`] (origin checks in [`origin`]), and then runs in the same
//! connection task as a TCP client (`server::connection`): on the read side
//! the [`frame::Decoder`] turns frames into the NATS byte stream before the
//! parser sees it; on the write side the outbound buffer hands its pending
//! bytes to a [`writer::WsWriter`], which wraps them into one binary frame
//! per flush (compressed with [`deflate`] when negotiated).
//!
//! Tern has no TLS yet: only `ws://` with `no_tls: true`.

pub mod deflate;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod listener;
pub mod origin;
pub mod writer;

use std::time::Duration;

pub use error::WsError;
pub use handshake::{Cookies, Upgrade};
pub use writer::WsWriter;

/// nats-server's handshake has no time limit unless `handshake_timeout` is
/// set; Tern bounds it anyway, so a client that opens the port and says
/// nothing does not hold a task and a socket forever.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// The read side of one WebSocket connection, owned by its connection task.
pub struct WsReader {
    /// Raw bytes from the socket not yet decoded (a partial frame header
    /// or control frame).
    pub raw: bytes::BytesMut,
    pub decoder: frame::Decoder,
    /// `websocket { ping_interval }`, overriding the server's.
    pub ping_interval: Option<Duration>,
}

impl WsReader {
    /// Decode what [`WsReader::raw`] holds into `rbuf` (the NATS byte
    /// stream) and answer the control frames through `out`: a ping with a
    /// pong, a close with a close. `Ok(true)` when the peer closed; a
    /// broken frame is answered with a close saying why and returned.
    pub fn decode_into(
        &mut self,
        out: &crate::server::outbound::Outbound,
        rbuf: &mut bytes::BytesMut,
    ) -> Result<bool, WsError> {
        let mut controls = Vec::new();
        let result = self.decoder.decode(&mut self.raw, rbuf, &mut controls);
        let mut closed = false;
        for control in &controls {
            match control {
                frame::Control::Ping(payload) => out.ws_control(frame::OP_PONG, payload),
                frame::Control::Close(payload) => {
                    out.ws_close(payload);
                    closed = true;
                }
            }
        }
        if let Err(WsError::Protocol(text)) = &result {
            out.ws_close(&frame::close_payload(frame::CLOSE_PROTOCOL_ERROR, text));
        }
        if !controls.is_empty() || result.is_err() {
            out.flush_or_wake();
        }
        result.map(|()| closed)
    }
}
