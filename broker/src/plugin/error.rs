//! What can go wrong loading a plugin or calling it.

use std::path::PathBuf;

/// A plugin that could not be loaded. Required plugins turn this into a
/// start-up (or reload) failure; optional ones are skipped with a warning.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("plugin {name:?}: cannot read {path}: {source}")]
    Read {
        name: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plugin {name:?}: {path} is not a valid WebAssembly component: {reason}")]
    Compile {
        name: String,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "plugin {name:?}: built against {found}, but this broker implements tern:plugin@{expected}; rebuild the plugin with a matching plugin-sdk"
    )]
    WitVersion {
        name: String,
        found: String,
        expected: &'static str,
    },
    #[error(
        "plugin {name:?}: exports no Tern hook (tern:plugin/transform, /authorize or /filter); exports: {exports}"
    )]
    NoHook { name: String, exports: String },
    #[error("plugin {name:?}: exports more than one Tern hook ({hooks}); a plugin implements one")]
    SeveralHooks { name: String, hooks: String },
    #[error("plugin {name:?}: {reason}")]
    Config { name: String, reason: String },
    #[error("plugin {name:?}: cannot instantiate: {reason}")]
    Instantiate { name: String, reason: String },
    #[error("plugin runtime: {0}")]
    Engine(String),
}

/// Why one call into a plugin failed. The call's failure policy decides
/// what happens to the message or connection; the broker carries on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("ran past its {deadline:?} deadline (stopped after {elapsed:.2?})")]
    Timeout {
        deadline: std::time::Duration,
        elapsed: std::time::Duration,
    },
    #[error("hit its memory limit of {0} bytes")]
    MemoryLimit(usize),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("returned an invalid result: {0}")]
    InvalidOutput(String),
    #[error("is quarantined after repeated failures")]
    Quarantined,
}
