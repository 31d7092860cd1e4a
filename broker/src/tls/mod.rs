//! TLS for every listener and dialer: building rustls configurations from
//! `tls {}` blocks, the handshake on either side (and the order of a
//! listener's greeting and handshake), and the established session the
//! connection tasks read and write through. This module knows nothing of
//! NATS: what the greeting says is the listener's business.

mod client_config;
mod error;
mod handshake;
pub mod listener_start;
mod server_config;
mod session;

pub use client_config::client_config;
pub use error::TlsError;
pub use handshake::{
    accept, connect, handshake, into_client_session, into_session, starts_with_tls, HandshakeError,
    TLS_HANDSHAKE_RECORD,
};
pub use server_config::{is_known_cipher_suite, is_known_curve, server_config};
pub use session::TlsSession;
