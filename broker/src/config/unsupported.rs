//! The top-level keys of nats-server features Tern does not implement yet,
//! the feature each belongs to, and when a key's value counts as using it
//! (`https_port: 0` or `syslog: false` leave the feature
//! off and so are no obstacle to starting).

use super::apply::Field;
use super::error::ConfigError;
use super::value::Kind;

/// When a key of an unimplemented feature counts as using it.
#[derive(Clone, Copy)]
pub(super) enum Gate {
    /// Any value.
    Always,
    /// `true` (a boolean is required).
    IfTrue,
    /// A non-zero integer.
    IfNonZero,
    /// A non-empty string.
    IfNonEmpty,
    /// Anything but `false`.
    UnlessFalse,
}

/// Every top-level key of nats-server that Tern does not implement, with the
/// feature it belongs to.
const UNSUPPORTED: &[(&[&str], &str, Gate)] = &[
    (&["default_js_domain"], "jetstream domains", Gate::Always),
    (&["cluster"], "cluster", Gate::Always),
    (&["gateway"], "gateway", Gate::Always),
    (&["mqtt"], "mqtt", Gate::Always),
    (&["ocsp", "ocsp_cache"], "ocsp", Gate::UnlessFalse),
    (
        &[
            "operator",
            "operators",
            "roots",
            "root",
            "root_operators",
            "root_operator",
        ],
        "operator",
        Gate::Always,
    ),
    (&["default_sentinel"], "operator", Gate::IfNonEmpty),
    (
        &[
            "resolver",
            "account_resolver",
            "accounts_resolver",
            "resolver_tls",
            "resolver_preload",
            "resolver_pinned_accounts",
        ],
        "resolver",
        Gate::Always,
    ),
    (&["trusted", "trusted_keys"], "trusted_keys", Gate::Always),
    (&["syslog"], "syslog", Gate::IfTrue),
    (&["remote_syslog"], "syslog", Gate::IfNonEmpty),
    (
        &["logfile_size_limit", "log_size_limit"],
        "log rotation",
        Gate::IfNonZero,
    ),
    (
        &["logfile_max_num", "log_max_num"],
        "log rotation",
        Gate::IfNonZero,
    ),
    (
        &["prof_port", "prof_block_rate"],
        "profiling",
        Gate::IfNonZero,
    ),
    (&["proxy_protocol"], "proxy_protocol", Gate::IfTrue),
    (&["proxies"], "proxies", Gate::Always),
    (&["feature_flags"], "feature_flags", Gate::Always),
];

/// The feature a top-level key belongs to, if it is one Tern lacks.
pub(super) fn feature_of(key: &str) -> Option<(&'static str, Gate)> {
    UNSUPPORTED
        .iter()
        .find(|(names, _, _)| names.contains(&key))
        .map(|&(_, feature, gate)| (feature, gate))
}

impl Gate {
    /// Whether `f` turns the feature on (type-checking it on the way).
    pub(super) fn is_open(self, f: &Field<'_>) -> Result<bool, ConfigError> {
        Ok(match self {
            Gate::Always => true,
            Gate::IfTrue => f.bool()?,
            Gate::IfNonZero => f.int()? != 0,
            Gate::IfNonEmpty => !f.string()?.is_empty(),
            Gate::UnlessFalse => !matches!(f.value.kind, Kind::Bool(false)),
        })
    }
}
