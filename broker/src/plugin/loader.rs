//! Loading one configured plugin: read the file, get its compiled form,
//! check which `tern:plugin` version and hook it was built for, link it
//! against the host imports and fill its instance pool.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{Component, HasSelf, Linker};

use crate::config::{FailurePolicy, PluginConfig};

use super::authorizer::AuthorizerPlugin;
use super::bindings::{self, WIT_VERSION};
use super::cache;
use super::engine::engine;
use super::error::PluginError;
use super::filter::FilterPlugin;
use super::host::{HostState, PluginInfo};
use super::pool::{Pool, PoolLimits};
use super::transform::TransformPlugin;

/// Which hook a component implements, from its exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Transform,
    Authorizer,
    Filter,
}

impl HookKind {
    fn interface(self) -> &'static str {
        match self {
            HookKind::Transform => "transform",
            HookKind::Authorizer => "authorize",
            HookKind::Filter => "filter",
        }
    }

    /// The policy when the config names none: fail closed.
    fn default_policy(self) -> FailurePolicy {
        match self {
            HookKind::Authorizer => FailurePolicy::Deny,
            HookKind::Transform | HookKind::Filter => FailurePolicy::Drop,
        }
    }
}

/// A loaded plugin, ready to be called.
pub enum Loaded {
    Transform(TransformPlugin),
    Authorizer(AuthorizerPlugin),
    Filter(FilterPlugin),
}

const PACKAGE: &str = "tern:plugin/";

/// The `tern:plugin` interfaces a component imports or exports, as
/// (interface, version).
fn tern_items<'a>(names: impl Iterator<Item = &'a str>) -> Vec<(&'a str, &'a str)> {
    names
        .filter_map(|n| n.strip_prefix(PACKAGE))
        .map(|rest| rest.split_once('@').unwrap_or((rest, "")))
        .collect()
}

/// Same 0.x minor (or same major from 1.0 on) counts as compatible, as in
/// semver and as wasmtime's linker matches versions.
fn compatible(version: &str) -> bool {
    let prefix = |v: &str| {
        let mut parts = v.split('.');
        match (parts.next(), parts.next()) {
            (Some("0"), Some(minor)) => format!("0.{minor}"),
            (Some(major), _) => major.to_string(),
            _ => String::new(),
        }
    };
    !version.is_empty() && prefix(version) == prefix(WIT_VERSION)
}

/// Check the component's `tern:plugin` version and find its hook.
fn hook_kind(name: &str, component: &Component) -> Result<HookKind, PluginError> {
    let engine = engine()?;
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    let all = imports.iter().chain(exports.iter()).map(String::as_str);
    if let Some((_, found)) = tern_items(all).into_iter().find(|(_, v)| !compatible(v)) {
        return Err(PluginError::WitVersion {
            name: name.to_string(),
            found: format!("tern:plugin@{found}"),
            expected: WIT_VERSION,
        });
    }
    let kinds: Vec<HookKind> = tern_items(exports.iter().map(String::as_str))
        .into_iter()
        .filter_map(|(iface, _)| {
            [HookKind::Transform, HookKind::Authorizer, HookKind::Filter]
                .into_iter()
                .find(|k| k.interface() == iface)
        })
        .collect();
    match kinds.as_slice() {
        [one] => Ok(*one),
        [] => Err(PluginError::NoHook {
            name: name.to_string(),
            exports: if exports.is_empty() {
                "none".into()
            } else {
                exports.join(", ")
            },
        }),
        many => Err(PluginError::SeveralHooks {
            name: name.to_string(),
            hooks: many
                .iter()
                .map(|k| k.interface())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn linker() -> Result<Linker<HostState>, PluginError> {
    let mut linker = Linker::new(engine()?);
    // The imports are the same for every world: `types` and `host`.
    bindings::transform::SubjectTransform::add_to_linker::<_, HasSelf<HostState>>(
        &mut linker,
        |s| s,
    )
    .map_err(|e| PluginError::Engine(format!("{e:#}")))?;
    Ok(linker)
}

/// Load one plugin as its config describes.
pub fn load(
    cfg: &PluginConfig,
    cache_dir: Option<&std::path::Path>,
) -> Result<Loaded, PluginError> {
    let started = Instant::now();
    let name = cfg.name.clone();
    let wasm = std::fs::read(&cfg.path).map_err(|source| PluginError::Read {
        name: name.clone(),
        path: cfg.path.clone(),
        source,
    })?;
    let engine = engine()?;
    let (component, source) =
        cache::component(engine, &wasm, cache_dir).map_err(|e| PluginError::Compile {
            name: name.clone(),
            path: cfg.path.clone(),
            reason: format!("{e:#}"),
        })?;
    let kind = hook_kind(&name, &component)?;
    let policy = cfg.on_failure.unwrap_or(kind.default_policy());
    let config_error = |reason: String| PluginError::Config {
        name: name.clone(),
        reason,
    };
    match (kind, policy) {
        (HookKind::Authorizer, FailurePolicy::Drop) => {
            return Err(config_error(
                "on_failure drop is for transforms and filters; an authorizer denies or passes"
                    .into(),
            ))
        }
        (HookKind::Transform | HookKind::Filter, FailurePolicy::Deny) => {
            return Err(config_error(
                "on_failure deny is for authorizers; transforms and filters drop or pass".into(),
            ))
        }
        _ => {}
    }
    if kind == HookKind::Transform && cfg.subjects.is_empty() {
        return Err(config_error(
            "a subject transform needs `subjects` (the subjects it applies to; \">\" for all)"
                .into(),
        ));
    }
    let info = Arc::new(PluginInfo {
        name: name.clone(),
        config: cfg.config.clone(),
        max_memory: cfg.max_memory,
    });
    let limits = PoolLimits {
        timeout: cfg.timeout,
        keep_idle: cfg.pool_size,
        quarantine_after: cfg.quarantine_after,
    };
    let linker = linker()?;
    let instantiate_error = |e: wasmtime::Error| PluginError::Instantiate {
        name: name.clone(),
        reason: format!("{e:#}"),
    };
    let pre = linker
        .instantiate_pre(&component)
        .map_err(instantiate_error)?;
    let loaded = match kind {
        HookKind::Transform => {
            let pre =
                bindings::transform::SubjectTransformPre::new(pre).map_err(instantiate_error)?;
            Loaded::Transform(TransformPlugin::new(
                cfg,
                policy,
                Pool::new(pre, info, limits)?,
            ))
        }
        HookKind::Authorizer => {
            let pre = bindings::authorizer::AuthorizerPre::new(pre).map_err(instantiate_error)?;
            Loaded::Authorizer(AuthorizerPlugin::new(policy, Pool::new(pre, info, limits)?))
        }
        HookKind::Filter => {
            let pre = bindings::filter::StreamFilterPre::new(pre).map_err(instantiate_error)?;
            Loaded::Filter(FilterPlugin::new(
                cfg,
                policy,
                Pool::new(pre, info, limits)?,
            ))
        }
    };
    tracing::info!(
        "Plugin {name}: {} {} ({source}, ready in {:.1} ms)",
        kind.interface(),
        cfg.path.display(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_like_semver() {
        assert!(compatible("0.1.0"));
        assert!(compatible("0.1.7"));
        assert!(!compatible("0.2.0"));
        assert!(!compatible("1.0.0"));
        assert!(!compatible(""));
    }

    #[test]
    fn tern_items_split_interface_and_version() {
        let names = [
            "tern:plugin/types@0.1.0",
            "wasi:io/streams@0.2.0",
            "tern:plugin/host",
        ];
        assert_eq!(
            tern_items(names.into_iter()),
            [("types", "0.1.0"), ("host", "")]
        );
    }
}
