//! TLS for every listener (and, later, dialer): building rustls
//! configurations from `tls {}` blocks, the handshake, and the established
//! session the connection tasks read and write through. This module knows
//! nothing of NATS: which side speaks first and what INFO says is the
//! listener's business.

mod error;
mod handshake;
mod server_config;
mod session;

pub use error::TlsError;
pub use handshake::{
    accept, handshake, into_session, starts_with_tls, HandshakeError, TLS_HANDSHAKE_RECORD,
};
pub use server_config::{is_known_cipher_suite, is_known_curve, server_config};
pub use session::TlsSession;
