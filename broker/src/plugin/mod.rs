//! Sandboxed WebAssembly plugins: subject transforms, an authorizer and
//! stream filters, written against the WIT package `tern:plugin@0.1.0`
//! (the repository's `wit/`, also used by `plugin-sdk`) and run with
//! wasmtime's component model.
//!
//! | file           | owns                                                        |
//! |----------------|-------------------------------------------------------------|
//! | `bindings`     | host bindings generated from `wit/` (`bindgen!`)            |
//! | `engine`       | the shared engine and the epoch ticker (call deadlines)    |
//! | `host`         | store data: the lent message, host imports, memory limiter |
//! | `headers`      | NATS header blocks ⇄ the plugin's header lists             |
//! | `cache`        | compiled code in memory and on disk                         |
//! | `pool`         | ready instances and the sandboxed call, failure accounting |
//! | `loader`       | one plugin from its config: version and hook checks        |
//! | `transform`    | the subject-transform hook (inbound PUB/HPUB)               |
//! | `authorizer`   | the authorizer hook (CONNECT)                               |
//! | `filter`       | the stream-filter hook (JetStream ingest)                   |
//! | `set`          | the plugins in force, swapped whole on reload               |
//! | `watch`        | reload when a plugin file changes                           |
//! | `error`        | [`PluginError`] (loading) and [`CallError`] (one call)      |
//!
//! The sandbox: a plugin sees only what `wit/` declares (log, its own
//! config, clocks; no WASI, no files, no network). Each instance's memory is
//! capped (default 16 MiB), each call has a CPU deadline (default 5 ms,
//! enforced by epoch interruption) and the wasm stack is bounded. A trap,
//! timeout, memory blow-up or invalid result fails that one call with the
//! plugin's failure policy (drop, pass, deny), is counted and logged; after
//! repeated failures the plugin is quarantined until the next reload.
//!
//! Plugins reload on SIGHUP (with the rest of the config) and when one of
//! their files changes; connections keep their place and pick up the new
//! set at their next read batch.

mod authorizer;
mod bindings;
mod cache;
mod engine;
mod error;
mod filter;
mod headers;
mod host;
mod loader;
mod pool;
mod set;
mod transform;
mod watch;

pub use authorizer::{AuthorizerPlugin, ConnectDetails, Verdict};
pub use bindings::WIT_VERSION;
pub use cache::clear_memory as clear_compiled_cache;
pub use error::{CallError, PluginError};
pub use filter::{filter_for_ingest, Filtered, Filters};
pub use host::Lent;
pub use pool::PluginStats;
pub use set::{PluginCounters, PluginSummary, Plugins};
pub use transform::{OutHeaders, Outgoing, Routed, Transforms};
pub use watch::watch_files;
