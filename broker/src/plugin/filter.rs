//! The stream-filter hook: on its way into a JetStream stream a message is
//! kept, dropped or replaced (new payload, and new headers or the same).
//! Filters apply in config order to the streams they name (all streams when
//! they name none); each sees what the previous one left.

use wasmtime::Store;

use crate::config::{FailurePolicy, PluginConfig};

use super::bindings::filter::{StreamFilter, StreamFilterPre};
use super::bindings::types::FilterResult;
use super::error::CallError;
use super::headers;
use super::host::{HostState, Lent};
use super::pool::{Hook, Pool};

impl Hook for StreamFilter {
    type Pre = StreamFilterPre<HostState>;
    fn instantiate(pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self> {
        pre.instantiate(store)
    }
}

/// Largest payload a filter may put in place of the original.
pub const MAX_REPLACEMENT: usize = 8 * 1024 * 1024;

/// What the filters made of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filtered {
    Keep,
    /// Dropped by the named plugin.
    Drop(String),
    Replace {
        /// `None`: the original headers; `Some(None)`: no headers.
        headers: Option<Option<Vec<u8>>>,
        payload: Vec<u8>,
    },
}

pub struct FilterPlugin {
    streams: Vec<String>,
    policy: FailurePolicy,
    pub(crate) pool: Pool<StreamFilter>,
}

impl FilterPlugin {
    pub fn new(cfg: &PluginConfig, policy: FailurePolicy, pool: Pool<StreamFilter>) -> Self {
        FilterPlugin {
            streams: cfg.streams.clone(),
            policy,
            pool,
        }
    }

    fn applies_to(&self, stream: &str) -> bool {
        self.streams.is_empty() || self.streams.iter().any(|s| s == stream)
    }

    fn step(&self, stream: &str, msg: &Lent<'_>) -> Filtered {
        let result = self
            .pool
            .call(Some(msg), |hook, store, handle| {
                let handle = handle
                    .ok_or_else(|| wasmtime::Error::msg("filter called without a message"))?;
                hook.tern_plugin_filter().call_filter(store, stream, handle)
            })
            .and_then(|r| self.check(r));
        match result {
            Ok(f) => f,
            Err(_) if self.policy == FailurePolicy::Pass => Filtered::Keep,
            Err(e) => Filtered::Drop(format!("{} failed: {e}", self.pool.name())),
        }
    }

    fn check(&self, result: FilterResult) -> Result<Filtered, CallError> {
        let invalid = |reason: String| self.pool.fail(CallError::InvalidOutput(reason));
        Ok(match result {
            FilterResult::Keep => Filtered::Keep,
            FilterResult::Drop => Filtered::Drop(self.pool.name().to_string()),
            FilterResult::Replace(r) => {
                if r.payload.len() > MAX_REPLACEMENT {
                    return Err(invalid(format!(
                        "replacement payload of {} bytes (at most {MAX_REPLACEMENT})",
                        r.payload.len()
                    )));
                }
                let headers = match r.headers {
                    None => None,
                    Some(list) => Some(headers::encode(&list).map_err(invalid)?),
                };
                Filtered::Replace {
                    headers,
                    payload: r.payload,
                }
            }
        })
    }
}

/// The configured stream filters, in order.
pub struct Filters {
    plugins: Vec<FilterPlugin>,
}

impl Filters {
    pub fn new(plugins: Vec<FilterPlugin>) -> Option<Self> {
        (!plugins.is_empty()).then_some(Filters { plugins })
    }

    pub fn plugins(&self) -> &[FilterPlugin] {
        &self.plugins
    }

    /// Whether any filter applies to `stream`.
    pub fn applies_to(&self, stream: &str) -> bool {
        self.plugins.iter().any(|p| p.applies_to(stream))
    }

    /// Run the filters that apply to `stream` over one message.
    pub fn run(&self, stream: &str, msg: &Lent<'_>) -> Filtered {
        let mut current = Filtered::Keep;
        for plugin in self.plugins.iter().filter(|p| p.applies_to(stream)) {
            let step = match &current {
                Filtered::Keep => plugin.step(stream, msg),
                Filtered::Drop(_) => return current,
                Filtered::Replace { headers, payload } => {
                    let lent = Lent {
                        subject: msg.subject,
                        reply: msg.reply,
                        headers: match headers {
                            None => msg.headers,
                            Some(h) => h.as_deref(),
                        },
                        payload,
                    };
                    plugin.step(stream, &lent)
                }
            };
            current = match (current, step) {
                (prev, Filtered::Keep) => prev,
                (_, Filtered::Drop(by)) => return Filtered::Drop(by),
                (
                    Filtered::Replace { headers: prev, .. },
                    Filtered::Replace {
                        headers: None,
                        payload,
                    },
                ) => Filtered::Replace {
                    headers: prev,
                    payload,
                },
                (_, replace) => replace,
            };
        }
        current
    }
}

/// The hook JetStream ingest calls for every message a stream receives:
/// the message to store (unchanged without applicable filters), or why it
/// was dropped.
pub fn filter_for_ingest(
    shared: &crate::server::state::Shared,
    stream: &str,
    msg: crate::server::internal::InternalMessage,
) -> Result<crate::server::internal::InternalMessage, String> {
    let Some(filters) = shared.plugins().filters.clone() else {
        return Ok(msg);
    };
    if !filters.applies_to(stream) {
        return Ok(msg);
    }
    let lent = Lent {
        subject: &msg.subject,
        reply: msg.reply.as_deref(),
        headers: msg.headers.as_deref(),
        payload: &msg.payload,
    };
    match filters.run(stream, &lent) {
        Filtered::Keep => Ok(msg),
        Filtered::Drop(by) => Err(format!("message dropped by stream filter plugin {by}")),
        Filtered::Replace { headers, payload } => Ok(crate::server::internal::InternalMessage {
            headers: match headers {
                None => msg.headers,
                Some(h) => h.map(bytes::Bytes::from),
            },
            payload: bytes::Bytes::from(payload),
            ..msg
        }),
    }
}
