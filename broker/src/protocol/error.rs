//! Protocol errors and the exact `-ERR` text nats-server sends for each, with
//! whether the connection is closed afterwards.

/// Something a client did wrong at the protocol level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// An operation name the server does not know, or framing that is
    /// broken (payload not followed by CRLF).
    #[error("unknown protocol operation")]
    UnknownOperation,
    /// A control line longer than `max_control_line`.
    #[error("maximum control line exceeded")]
    MaxControlLine,
    /// PUB/HPUB announced more than `max_payload` bytes.
    #[error("maximum payload exceeded: {size} vs {max}")]
    MaxPayload { size: usize, max: usize },
    /// Arguments of a known operation that cannot be parsed (wrong count, bad
    /// size). nats-server logs these and closes without an `-ERR`.
    #[error("{op} parse error: {arg:?}")]
    BadArguments { op: &'static str, arg: String },
    /// CONNECT JSON that does not parse.
    #[error("malformed CONNECT: {0}")]
    BadConnect(String),
}

impl ProtocolError {
    /// The text between the quotes of `-ERR '...'`, or `None` when
    /// nats-server closes without telling the client.
    pub fn err_text(&self) -> Option<&'static str> {
        match self {
            ProtocolError::UnknownOperation => Some("Unknown Protocol Operation"),
            ProtocolError::MaxControlLine => Some("maximum control line exceeded"),
            ProtocolError::MaxPayload { .. } => Some("Maximum Payload Violation"),
            ProtocolError::BadArguments { .. } => None,
            ProtocolError::BadConnect(_) => None,
        }
    }
}
