//! The server: listener, shared state, and one task per client connection.
//!
//! - [`Server`] starts the listener and owns shutdown and lame-duck mode.
//! - [`state::Shared`] is what every connection task sees: the config, the
//!   sublist, the client registry and the counters.
//! - [`connection`] runs one client: handshake, read loop, ping timer, and
//!   flushing its outbound buffer when the socket was full.
//! - [`session`] is the per-connection state; [`ops`] applies each parsed
//!   operation, one file per operation; [`delivery`] routes a
//!   published message to subscribers.
//! - [`outbound`] is a connection's pending-output buffer that other
//!   connections append to.
//! - [`stall`] makes a client publisher wait for a receiver that is
//!   behind, instead of cutting the receiver off.
//! - [`internal`] lets services inside the broker subscribe and publish
//!   like clients do, without a socket.

pub mod client;
pub mod connection;
mod connection_ws;
pub mod delivery;
pub mod error;
pub mod internal;
pub mod lifecycle;
pub mod listener;
pub mod ops;
pub mod outbound;
pub mod reply_permits;
pub mod session;
pub mod signals;
pub mod stall;
pub mod state;
pub mod subscription;
pub(crate) mod trace;
pub mod write_deadline;

pub use error::ServerError;
pub use lifecycle::Server;
