//! What can go wrong on a WebSocket connection.

/// A handshake refusal or a broken frame stream. Frame errors carry
/// nats-server's wording: it is sent to the client in the close frame.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WsError {
    /// The upgrade request is refused with this HTTP status.
    #[error("websocket handshake error: {reason}")]
    Handshake { status: u16, reason: String },

    /// The peer broke RFC 6455 (answered with close status 1002).
    #[error("{0}")]
    Protocol(String),

    /// A (compressed) message is larger than the connection allows.
    #[error("maximum message payload exceeded")]
    MaxPayload,

    /// permessage-deflate data that does not inflate.
    #[error("invalid compressed data: {0}")]
    Deflate(String),
}

impl WsError {
    pub(crate) fn handshake(status: u16, reason: impl Into<String>) -> Self {
        WsError::Handshake {
            status,
            reason: reason.into(),
        }
    }

    pub(crate) fn protocol(reason: impl Into<String>) -> Self {
        WsError::Protocol(reason.into())
    }
}
