//! JetStream: persistent streams behind the `$JS.API.>` request/reply API
//! (issue 5, DESIGN.md "JetStream on redb").
//!
//! ## What exists
//! - [`store`]: the message store, one per stream — the [`store::MessageStore`]
//!   trait, its file implementation on redb ([`store::RedbStore`], group
//!   commit, fsync before acknowledging, crash recovery) and its memory
//!   implementation ([`store::MemoryStore`]), plus consumer state
//!   persistence ([`store::ConsumerStateStore`]).
//! - [`service`]: the service the server starts when JetStream is enabled
//!   (`-js`, `jetstream {}`): it recovers the streams under
//!   `<store_dir>/jetstream/$G/streams/` and answers the API.
//! - [`api`]: `$JS.API.INFO`, `STREAM.CREATE|UPDATE|INFO|DELETE|PURGE|NAMES|
//!   LIST`, `STREAM.MSG.GET|DELETE`; every other API subject gets an error
//!   reply saying it is not implemented yet.
//! - [`stream`]: one stream — its persisted [`config::StreamConfig`], its
//!   store, its [`ingest`] task (internal subscriptions on the stream's
//!   subjects, checks, dedupe, in-order appends, PubAcks after commit).
//! - [`error`]: nats-server's API errors ([`error::ApiError`]) and start-up
//!   failures ([`JetStreamError`]); [`wire`]: headers, times, base64.
//!
//! - [`consumer`]: consumers, durable and ephemeral, push and pull, one
//!   task each; retention `interest` and `workqueue` release messages as
//!   their consumers acknowledge them.
//! - [`ttl`]: per-message TTL (`Nats-TTL`); [`markers`]: subject delete
//!   markers left when age or TTL empties a subject.
//!
//! - [`republish`]: `subject_transform` and `republish`.
//! - [`sourcing`]: `sources` and `mirror`, copying other streams' messages;
//!   a mirror with `mirror_direct` answers direct gets for its origin.
//! - `compression: s2`: file streams store compressed payloads (see
//!   `store/redb_store/record.rs`).
//!
//! ## Still to come
//! Sources and mirrors from other domains. Stream configs that ask for
//! those are refused with an error naming the feature.

pub mod api;
pub mod config;
pub mod consumer;
pub mod error;
pub mod ingest;
pub(crate) mod markers;
pub(crate) mod republish;
pub mod service;
pub(crate) mod sourcing;
pub mod store;
pub mod stream;
pub mod ttl;
pub mod wire;

pub use error::{ApiError, JetStreamError};
pub use service::JetStream;
