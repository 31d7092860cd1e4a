//! The NATS client protocol: an incremental, zero-copy parser for what
//! clients send ([`parser`]), the encoder for what the server sends
//! ([`encode`]), the INFO and CONNECT JSON bodies, and the `-ERR` texts.

pub mod connect;
pub mod encode;
pub mod error;
pub mod info;
pub mod op;
pub mod parser;

pub use connect::ConnectOptions;
pub use error::ProtocolError;
pub use info::ServerInfo;
pub use op::ClientOp;
pub use parser::{parse_op, Limits, Parsed};
