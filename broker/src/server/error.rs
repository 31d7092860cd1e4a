//! Errors that stop the server from starting or running.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// nats-server: `Error listening on port: HOST:PORT, "..."`.
    #[error("Error listening on port: {addr}, \"{source}\"")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("not supported yet: {0}")]
    Unsupported(String),
    #[error("cannot write pid file {path}: {source}")]
    PidFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write ports file {path}: {source}")]
    PortsFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// nats-server: `Can't start monitoring: ...`.
    #[error("Can't start monitoring: {0}")]
    Monitor(#[from] crate::monitor::MonitorError),
    #[error("Could not start JetStream: {0}")]
    JetStream(#[from] crate::jetstream::JetStreamError),
    #[error("{0}")]
    Plugin(#[from] crate::plugin::PluginError),
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("invalid listen address {0}")]
    BadAddress(String),
    #[error("I/O error on {addr}: {source}")]
    Io {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}
