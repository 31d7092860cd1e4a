//! # Writing Tern plugins
//!
//! A Tern plugin is a WebAssembly component built from a small Rust crate.
//! It implements one hook — a subject transform, an authorizer or a stream
//! filter — against the WIT package `tern:plugin@0.1.0` (the repository's
//! `wit/` folder), and runs inside the broker's sandbox: no filesystem, no
//! network, a memory cap, a CPU deadline per call.
//!
//! Enable the one feature of the hook you write (`subject-transform`,
//! `authorizer` or `stream-filter`), implement the trait of that module and
//! name your type in its export macro. A complete subject transform that
//! moves everything under `out.`:
//!
//! ```
//! use tern_plugin_sdk::transform::{Message, SubjectTransform, TransformResult};
//!
//! struct Prefix;
//!
//! impl SubjectTransform for Prefix {
//!     fn transform(msg: &Message) -> TransformResult {
//!         TransformResult::to(format!("out.{}", msg.subject()))
//!     }
//! }
//!
//! tern_plugin_sdk::export_transform!(Prefix);
//! ```
//!
//! The crate is a `cdylib` with `panic = "abort"`; `plugins/build.sh` (or
//! `cargo build --target wasm32-unknown-unknown` with a component linker)
//! turns it into a component. The host imports — [`transform::log`],
//! [`transform::config`], the clocks — are re-exported in every hook
//! module.
//!
//! ## Features and targets
//!
//! On `wasm32` only the enabled hook's bindings are compiled: the bindings of
//! a world end up in the component, and a component carrying two worlds
//! would have to export both. On other targets every module is compiled so
//! that documentation and tests cover all three.

/// Helpers shared by every hook module, written once and expanded into each
/// (the generated types differ per module, so the helpers must too).
#[cfg(any(feature = "subject-transform", not(target_arch = "wasm32")))]
pub use transform::export_transform;

#[cfg(any(feature = "authorizer", not(target_arch = "wasm32")))]
pub use authorizer::export_authorizer;

#[cfg(any(feature = "stream-filter", not(target_arch = "wasm32")))]
pub use filter::export_filter;

macro_rules! common_helpers {
    () => {
        pub use self::tern::plugin::host::Level;
        pub use self::tern::plugin::types::{Header, Message};

        /// Log a line in the broker's log, tagged with this plugin's name.
        pub fn log(level: Level, message: &str) {
            self::tern::plugin::host::log(level, message);
        }

        /// The plugin's own configuration, read once per instance: nested
        /// keys joined by dots (`sites.dev-1`), array elements numbered
        /// (`fields.0`), every value as text.
        pub fn config() -> &'static std::collections::BTreeMap<String, String> {
            static CONFIG: std::sync::OnceLock<std::collections::BTreeMap<String, String>> =
                std::sync::OnceLock::new();
            CONFIG.get_or_init(|| self::tern::plugin::host::config().into_iter().collect())
        }

        /// One configuration value.
        pub fn config_value(key: &str) -> Option<&'static str> {
            config().get(key).map(String::as_str)
        }

        /// Every configuration entry under `prefix.`, with the prefix removed
        /// (for maps such as `tenants { alice: acme }`).
        pub fn config_section(prefix: &str) -> Vec<(&'static str, &'static str)> {
            let start = format!("{prefix}.");
            config()
                .iter()
                .filter_map(|(k, v)| k.strip_prefix(&start).map(|k| (k, v.as_str())))
                .collect()
        }

        /// Wall-clock time, nanoseconds since the Unix epoch.
        pub fn now_unix_nanos() -> u64 {
            self::tern::plugin::host::now_unix_nanos()
        }

        /// A monotonic clock in nanoseconds.
        pub fn monotonic_nanos() -> u64 {
            self::tern::plugin::host::monotonic_nanos()
        }

        impl Header {
            pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
                Header {
                    name: name.into(),
                    value: value.into(),
                }
            }
        }
    };
}

/// Subject transforms: rewrite, drop or fan out messages on the subjects the
/// plugin is bound to (`subjects` in its config). The payload is never
/// copied into the plugin unless it calls [`Message::payload`].
///
/// Header-based routing, sending a message to the subject its `X-Route`
/// header names:
///
/// ```
/// use tern_plugin_sdk::transform::{Message, SubjectTransform, TransformResult};
///
/// struct Route;
///
/// impl SubjectTransform for Route {
///     fn transform(msg: &Message) -> TransformResult {
///         match msg.header("X-Route") {
///             Some(to) => TransformResult::to(format!("routed.{to}")),
///             None => TransformResult::Keep,
///         }
///     }
/// }
///
/// tern_plugin_sdk::export_transform!(Route);
/// ```
#[cfg(any(feature = "subject-transform", not(target_arch = "wasm32")))]
pub mod transform {
    wit_bindgen::generate!({
        path: "../wit",
        world: "subject-transform",
        pub_export_macro: true,
        export_macro_name: "export_transform",
        default_bindings_module: "tern_plugin_sdk::transform",
    });

    common_helpers!();

    pub use self::exports::tern::plugin::transform::Guest as SubjectTransform;
    pub use self::tern::plugin::types::{Output, TransformResult};

    impl TransformResult {
        /// Send the message on under another subject, headers unchanged.
        pub fn to(subject: impl Into<String>) -> Self {
            TransformResult::Rewrite(vec![Output::to(subject)])
        }
    }

    impl Output {
        /// An output on `subject` with the input's headers.
        pub fn to(subject: impl Into<String>) -> Self {
            Output {
                subject: subject.into(),
                headers: None,
            }
        }

        /// An output on `subject` with these headers instead of the input's.
        pub fn with_headers(subject: impl Into<String>, headers: Vec<Header>) -> Self {
            Output {
                subject: subject.into(),
                headers: Some(headers),
            }
        }
    }
}

/// Authorizers: decide at CONNECT whether a client may connect and with
/// which permissions; the broker enforces them natively afterwards.
///
/// ```
/// use tern_plugin_sdk::authorizer::{Authorizer, ConnectInfo, Decision, Permissions};
///
/// struct OnlyAlice;
///
/// impl Authorizer for OnlyAlice {
///     fn authorize(info: ConnectInfo) -> Decision {
///         match info.user.as_deref() {
///             Some("alice") => Decision::allow(Permissions::prefixed("alice")),
///             _ => Decision::Deny("only alice".into()),
///         }
///     }
/// }
///
/// tern_plugin_sdk::export_authorizer!(OnlyAlice);
/// ```
#[cfg(any(feature = "authorizer", not(target_arch = "wasm32")))]
pub mod authorizer {
    wit_bindgen::generate!({
        path: "../wit",
        world: "authorizer",
        pub_export_macro: true,
        export_macro_name: "export_authorizer",
        default_bindings_module: "tern_plugin_sdk::authorizer",
    });

    common_helpers!();

    pub use self::exports::tern::plugin::authorize::Guest as Authorizer;
    pub use self::tern::plugin::types::{
        ConnectInfo, Decision, Grant, Permissions, SubjectPermission,
    };

    impl Decision {
        /// Allow the connection with these permissions.
        pub fn allow(permissions: Permissions) -> Self {
            Decision::Allow(Grant {
                permissions: Some(permissions),
                account: None,
            })
        }

        /// Allow the connection without restrictions of the plugin's own.
        pub fn allow_all() -> Self {
            Decision::Allow(Grant {
                permissions: None,
                account: None,
            })
        }
    }

    impl SubjectPermission {
        /// Only these subjects (wildcards allowed).
        pub fn only<S: Into<String>>(subjects: impl IntoIterator<Item = S>) -> Self {
            SubjectPermission {
                allow: Some(subjects.into_iter().map(Into::into).collect()),
                deny: Vec::new(),
            }
        }
    }

    impl Permissions {
        /// Publish and subscribe only under `prefix.>`, plus `_INBOX.>` so
        /// request/reply keeps working.
        pub fn prefixed(prefix: &str) -> Self {
            let subjects = [format!("{prefix}.>"), "_INBOX.>".to_string()];
            Permissions {
                publish: SubjectPermission::only(subjects.clone()),
                subscribe: SubjectPermission::only(subjects),
            }
        }
    }
}

/// Stream filters: keep, drop or replace a message on its way into a
/// JetStream stream (the streams named in the plugin's config).
///
/// ```
/// use tern_plugin_sdk::filter::{FilterResult, Message, StreamFilter};
///
/// struct NoEmpty;
///
/// impl StreamFilter for NoEmpty {
///     fn filter(_stream: String, msg: &Message) -> FilterResult {
///         if msg.payload_len() == 0 {
///             FilterResult::Drop
///         } else {
///             FilterResult::Keep
///         }
///     }
/// }
///
/// tern_plugin_sdk::export_filter!(NoEmpty);
/// ```
#[cfg(any(feature = "stream-filter", not(target_arch = "wasm32")))]
pub mod filter {
    wit_bindgen::generate!({
        path: "../wit",
        world: "stream-filter",
        pub_export_macro: true,
        export_macro_name: "export_filter",
        default_bindings_module: "tern_plugin_sdk::filter",
    });

    common_helpers!();

    pub use self::exports::tern::plugin::filter::Guest as StreamFilter;
    pub use self::tern::plugin::types::{FilterResult, Replacement};

    impl FilterResult {
        /// Store `payload` instead, headers unchanged.
        pub fn replace_payload(payload: Vec<u8>) -> Self {
            FilterResult::Replace(Replacement {
                headers: None,
                payload,
            })
        }
    }
}
