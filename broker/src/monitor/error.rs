//! Errors of the monitoring server: failing to start, and requests that
//! cannot be answered (each mapped to nats-server's status and text).

use std::io;

/// Why the monitoring listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// nats-server: `can't listen to the monitor port: ...`.
    #[error("can't listen to the monitor port: listen tcp {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: io::Error,
    },
    #[error("can't specify both HTTP ({http}) and HTTPs ({https}) ports")]
    BothPorts { http: u16, https: u16 },
    #[error("TLS cert and key required for HTTPS")]
    HttpsWithoutTls,
}

/// Why a request gets an error response instead of its document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The request could not be parsed (400, plain text).
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    /// An HTTP version other than 1.0 or 1.1 (505).
    #[error("unsupported HTTP version")]
    Version,
    /// Headers over the size limit (431).
    #[error("request headers too large")]
    HeadersTooLarge,
    /// A body or transfer coding this server does not take (413/501).
    #[error("request body not supported: {0}")]
    Body(&'static str),
    /// A query parameter or option nats-server rejects; the text is
    /// nats-server's (400, plain text).
    #[error("{0}")]
    BadQuery(String),
}
