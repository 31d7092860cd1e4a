//! JetStream: persistent streams and consumers behind the `$JS.API.>`
//! request/reply API (issue 5, DESIGN.md "JetStream on redb").
//!
//! **Being built.** What exists so far is the foundation, the message store
//! ([`store`]): the [`store::MessageStore`] trait one stream's storage
//! implements, its file implementation on redb ([`store::RedbStore`], group
//! commit, fsync before acknowledging, crash recovery) and its memory
//! implementation ([`store::MemoryStore`]), plus per-consumer state
//! persistence ([`store::ConsumerStateStore`]).
//!
//! Still to come, on top of the store: streams (config, retention, dedupe,
//! the `Nats-*` headers), consumers (push/pull, acks, redelivery), and the
//! `$JS.API` handlers served through the server's internal subscriptions
//! (`server::internal`). Nothing here is wired into the server yet.

pub mod store;
