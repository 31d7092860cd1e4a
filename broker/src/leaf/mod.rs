//! Leaf nodes: links between this server and a hub (or its leaves), in
//! nats-server's leafnode protocol, so Tern and nats-server mix freely.
//!
//! - [`listener`] accepts links on the leafnode port; [`remote`] dials the
//!   configured `remotes` and redials with backoff and jitter.
//! - [`link`] runs one link either way: the INFO/CONNECT handshake, then
//!   [`inbound`] turns the remote's `LS+`/`LS-` into subscriptions and
//!   routes its `LMSG`s.
//! - [`interest`] tells every link (`LS+`/`LS-`) what this server wants,
//!   following nats-server's rules on who hears whose interest, and
//!   detects loops.
//! - Outbound messages leave through the ordinary delivery path:
//!   a link's interest is a subscription whose receiver is the link, and
//!   [`encode`] writes the `LMSG`.
//!
//! Links run over TCP or in WebSocket frames (`ws://` remotes, and leaves
//! reaching the websocket port on `/leafnode`), through [`ws_dial`] and
//! the `websocket` module, in the clear or over TLS ([`dial`] on the
//! soliciting side, [`listener`] and the websocket listener on the
//! accepting one). Only the global account exists; S2 compression of links
//! is not implemented.

pub mod dial;
pub mod encode;
pub mod handle;
pub mod handshake;
pub mod inbound;
pub mod interest;
pub mod link;
pub mod listener;
pub mod parser;
pub mod remote;
pub mod ws_dial;

pub use handle::LeafHandle;
pub use interest::LeafRegistry;

/// nats-server's default account, the only one a link binds to here.
pub use crate::config::GLOBAL_ACCOUNT;
