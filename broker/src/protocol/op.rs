//! One operation a client sent, borrowing its bytes from the read buffer.

/// A complete client operation. Every slice points into the connection's
/// read buffer, so parsing allocates nothing; the connection consumes the op
/// before it advances the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientOp<'a> {
    /// `CONNECT {json}`
    Connect(&'a [u8]),
    /// `PUB subject [reply] size` / `HPUB subject [reply] hdr_size total_size`
    /// followed by the payload. `headers` is `Some` only for HPUB.
    Pub {
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        headers: Option<&'a [u8]>,
        payload: &'a [u8],
    },
    /// `SUB subject [queue] sid`
    Sub {
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
        sid: &'a [u8],
    },
    /// `UNSUB sid [max_msgs]`
    Unsub {
        sid: &'a [u8],
        max: Option<u64>,
    },
    Ping,
    Pong,
    /// `+OK` / `-ERR` sent by a client: accepted and ignored, as nats-server does.
    Ok,
    Err(&'a [u8]),
    /// `INFO {json}` from a client: ignored.
    Info,
}
