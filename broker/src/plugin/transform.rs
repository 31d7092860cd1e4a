//! The subject-transform hook: on an inbound PUB/HPUB whose subject matches
//! a transform's declared subjects, the plugin rewrites the subject and/or
//! headers, drops the message, or fans it out. Transforms apply in config
//! order; each output of one is offered to the next whose subjects it
//! matches. Messages on other subjects never enter Wasm.

use wasmtime::component::Resource;
use wasmtime::Store;

use crate::config::{FailurePolicy, PluginConfig};
use crate::subject::{is_valid_publish_subject, subject_matches};

use super::bindings::transform::{SubjectTransform, SubjectTransformPre};
use super::bindings::types::TransformResult;
use super::error::CallError;
use super::headers;
use super::host::{HostState, Lent, MessageRef};
use super::pool::{Hook, Pool};

/// Messages one input may turn into, across all transforms; more is an
/// invalid result (a fan-out this wide is a bug, not a routing rule).
pub const MAX_OUTPUTS: usize = 64;
/// Longest subject a transform may produce.
pub const MAX_SUBJECT: usize = 4096;

impl Hook for SubjectTransform {
    type Pre = SubjectTransformPre<HostState>;
    fn instantiate(pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self> {
        pre.instantiate(store)
    }
}

/// The headers of an output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutHeaders {
    /// The input's headers, as published.
    Same,
    /// These instead (`None`: no headers at all).
    Replaced(Option<Vec<u8>>),
}

/// One message to deliver in place of the input (same payload and reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub subject: Vec<u8>,
    pub headers: OutHeaders,
}

/// What the transforms made of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// Deliver it as published.
    Unchanged,
    /// Deliver these instead (none: dropped).
    Replaced(Vec<Outgoing>),
}

pub struct TransformPlugin {
    filters: Vec<Vec<u8>>,
    policy: FailurePolicy,
    pub(crate) pool: Pool<SubjectTransform>,
}

enum Step {
    Keep,
    Replace(Vec<Outgoing>),
}

impl TransformPlugin {
    pub fn new(cfg: &PluginConfig, policy: FailurePolicy, pool: Pool<SubjectTransform>) -> Self {
        TransformPlugin {
            filters: cfg.subjects.iter().map(|s| s.as_bytes().to_vec()).collect(),
            policy,
            pool,
        }
    }

    #[inline]
    fn applies_to(&self, subject: &[u8]) -> bool {
        self.filters.iter().any(|f| subject_matches(f, subject))
    }

    /// One call, with the failure policy applied to a failed one.
    fn step(&self, msg: &Lent<'_>) -> Step {
        let result = self
            .pool
            .call(Some(msg), |hook, store, handle| {
                let handle: Resource<MessageRef> = handle
                    .ok_or_else(|| wasmtime::Error::msg("transform called without a message"))?;
                hook.tern_plugin_transform().call_transform(store, handle)
            })
            .and_then(|r| self.check(r));
        match result {
            Ok(step) => step,
            Err(_) if self.policy == FailurePolicy::Pass => Step::Keep,
            Err(_) => Step::Replace(Vec::new()),
        }
    }

    /// Validate what the plugin returned before any of it reaches the wire.
    fn check(&self, result: TransformResult) -> Result<Step, CallError> {
        let outputs = match result {
            TransformResult::Keep => return Ok(Step::Keep),
            TransformResult::Drop => return Ok(Step::Replace(Vec::new())),
            TransformResult::Rewrite(outputs) => outputs,
        };
        let invalid = |reason: String| self.pool.fail(CallError::InvalidOutput(reason));
        if outputs.len() > MAX_OUTPUTS {
            return Err(invalid(format!(
                "{} outputs (at most {MAX_OUTPUTS})",
                outputs.len()
            )));
        }
        let mut out = Vec::with_capacity(outputs.len());
        for o in outputs {
            let subject = o.subject.into_bytes();
            if subject.len() > MAX_SUBJECT || !is_valid_publish_subject(&subject) {
                let shown: String = String::from_utf8_lossy(&subject).chars().take(80).collect();
                return Err(invalid(format!("invalid subject {shown:?}")));
            }
            let headers = match o.headers {
                None => OutHeaders::Same,
                Some(list) => OutHeaders::Replaced(headers::encode(&list).map_err(invalid)?),
            };
            out.push(Outgoing { subject, headers });
        }
        Ok(Step::Replace(out))
    }
}

/// The configured transforms, in order.
pub struct Transforms {
    plugins: Vec<TransformPlugin>,
}

impl Transforms {
    pub fn new(plugins: Vec<TransformPlugin>) -> Option<Self> {
        (!plugins.is_empty()).then_some(Transforms { plugins })
    }

    pub fn plugins(&self) -> &[TransformPlugin] {
        &self.plugins
    }

    /// Whether any transform is bound to `subject` (the one check a message
    /// on an unbound subject pays).
    #[inline]
    pub fn applies_to(&self, subject: &[u8]) -> bool {
        self.plugins.iter().any(|p| p.applies_to(subject))
    }

    /// Run the transforms over one published message.
    pub fn run(&self, msg: &Lent<'_>) -> Routed {
        let mut current: Option<Vec<Outgoing>> = None;
        for plugin in &self.plugins {
            current = match current {
                None if plugin.applies_to(msg.subject) => match plugin.step(msg) {
                    Step::Keep => None,
                    Step::Replace(outs) => Some(outs),
                },
                None => None,
                Some(list) => Some(self.chain(plugin, msg, list)),
            };
        }
        match current {
            None => Routed::Unchanged,
            Some(list) => Routed::Replaced(list),
        }
    }

    /// Offer each output of the previous transforms to `plugin`.
    fn chain(
        &self,
        plugin: &TransformPlugin,
        msg: &Lent<'_>,
        list: Vec<Outgoing>,
    ) -> Vec<Outgoing> {
        let mut next = Vec::with_capacity(list.len());
        for item in list {
            if !plugin.applies_to(&item.subject) {
                next.push(item);
                continue;
            }
            let lent = Lent {
                subject: &item.subject,
                reply: msg.reply,
                headers: match &item.headers {
                    OutHeaders::Same => msg.headers,
                    OutHeaders::Replaced(h) => h.as_deref(),
                },
                payload: msg.payload,
            };
            match plugin.step(&lent) {
                Step::Keep => next.push(item),
                Step::Replace(outs) => {
                    for mut o in outs {
                        // An output keeping "the input's headers" keeps
                        // this item's, which may already be replaced.
                        if o.headers == OutHeaders::Same {
                            o.headers = item.headers.clone();
                        }
                        next.push(o);
                    }
                }
            }
            if next.len() > MAX_OUTPUTS {
                plugin.pool.fail(CallError::InvalidOutput(format!(
                    "the transforms together produced more than {MAX_OUTPUTS} messages"
                )));
                next.truncate(MAX_OUTPUTS);
                break;
            }
        }
        next
    }
}
