//! # Tern
//!
//! A compact, NATS-compatible message broker for the edge. Any NATS client
//! (nats-py, async-nats, nats.js, the `nats` CLI) connects to it unchanged.
//!
//! ## How a message travels
//!
//! 1. [`server`] accepts a TCP connection and runs one task per connection
//!    ([`server::connection`]). The task reads into a buffer and hands it to
//!    the incremental parser in [`protocol`], which yields operations that
//!    borrow the buffer's bytes (no per-message allocation).
//! 2. A `PUB`/`HPUB` is matched against the subscription index of the
//!    client's account ([`account`]) in [`subject::sublist`] — a token trie
//!    with a per-connection result cache invalidated by a generation
//!    counter. Imports between accounts are subscriptions that deliver
//!    again in the other account.
//! 3. Delivery ([`server::delivery`]) encodes `MSG`/`HMSG` straight into each
//!    receiver's outbound buffer ([`server::outbound`]). At the end of each
//!    read batch the publisher flushes every receiver it touched with one
//!    non-blocking write (a publisher whose reads keep filling its buffer
//!    defers that over a few batches, for larger writes); whatever the
//!    socket does not take is left for the receiver's own task, which waits
//!    for the socket to become writable.
//!    A receiver whose pending bytes pass `max_pending` is cut off as a slow
//!    consumer; nobody else slows down.
//!
//! ## Where things live
//!
//! - [`config`]: the [`config::Config`] struct and its loaders (TOML,
//!   nats-server `.conf`, nats-server flags).
//! - [`protocol`]: client-protocol parser and encoder, INFO/CONNECT JSON, the
//!   `-ERR` texts.
//! - [`subject`]: subject validation, wildcard matching, the sublist.
//! - [`auth`]: users, passwords (plain or bcrypt), tokens.
//! - [`account`]: accounts, their stream and service imports and exports,
//!   the system account.
//! - [`jetstream`]: persistence, started when JetStream is enabled: the
//!   message store (redb file store with its journal, memory store),
//!   streams and their ingest, consumers (one task each), and the
//!   `$JS.API` handlers.
//! - [`server`]: listener, shared state, the connection task, signals,
//!   lame-duck mode.
//! - [`leaf`]: leaf-node links to hubs and from leaves, in nats-server's
//!   leafnode protocol. A link's interest is a subscription whose receiver
//!   is the link, so messages reach it through the same delivery path.
//! - [`websocket`]: the WebSocket listener, upgrade handshake, frames and
//!   permessage-deflate; WebSocket clients run in the same connection task
//!   as TCP ones.
//! - [`monitor`]: HTTP monitoring (`/varz`, `/connz`, ... and Prometheus
//!   `/metrics`), started only when a monitoring port is configured.
//! - [`plugin`]: sandboxed WebAssembly plugins (wasmtime components):
//!   subject transforms on inbound publishes, an authorizer at CONNECT,
//!   stream filters on JetStream ingest.
//! - [`logging`]: nats-server-style log lines through `tracing`.
//!
//! ## Embedding
//!
//! ```no_run
//! # async fn run() -> Result<(), tern::server::ServerError> {
//! let mut config = tern::config::Config::default();
//! config.port = 0; // any free port
//! let server = tern::server::Server::start(config).await?;
//! println!("listening on {}", server.local_addr());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod account;
pub mod auth;
pub mod config;
pub mod jetstream;
pub mod leaf;
pub mod logging;
pub mod monitor;
pub mod plugin;
pub mod protocol;
pub mod server;
pub mod subject;
pub mod tls;
pub mod websocket;

/// Tern's version, reported in INFO as the server version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
