//! The plugins in force: built from the config at start, rebuilt whole on
//! reload and swapped in, so a connection always sees one consistent set.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::PluginConfig;

use super::authorizer::AuthorizerPlugin;
use super::error::PluginError;
use super::filter::{FilterPlugin, Filters};
use super::loader::{load, Loaded};
use super::pool::PluginStats;
use super::transform::{TransformPlugin, Transforms};

/// Every loaded plugin, by hook.
#[derive(Default)]
pub struct Plugins {
    pub transforms: Option<Arc<Transforms>>,
    pub authorizer: Option<Arc<AuthorizerPlugin>>,
    pub filters: Option<Arc<Filters>>,
}

/// One plugin's name, hook and counters, for monitoring.
pub struct PluginSummary {
    pub name: String,
    pub hook: &'static str,
    pub stats: Arc<PluginStats>,
}

impl Plugins {
    /// Load every configured plugin. A required plugin that fails to load
    /// fails the whole set; an optional one is skipped with a warning.
    pub fn load(
        configs: &[PluginConfig],
        cache_dir: Option<&PathBuf>,
    ) -> Result<Plugins, PluginError> {
        let mut transforms: Vec<TransformPlugin> = Vec::new();
        let mut filters: Vec<FilterPlugin> = Vec::new();
        let mut authorizer: Option<AuthorizerPlugin> = None;
        for cfg in configs {
            let loaded = match load(cfg, cache_dir.map(PathBuf::as_path)) {
                Ok(l) => l,
                Err(e) if cfg.required => return Err(e),
                Err(e) => {
                    tracing::warn!("{e}; the plugin is optional, continuing without it");
                    continue;
                }
            };
            match loaded {
                Loaded::Transform(t) => transforms.push(t),
                Loaded::Filter(f) => filters.push(f),
                Loaded::Authorizer(a) => {
                    if let Some(first) = &authorizer {
                        return Err(PluginError::Config {
                            name: cfg.name.clone(),
                            reason: format!(
                                "only one authorizer can be configured, and {:?} already is",
                                first.name()
                            ),
                        });
                    }
                    authorizer = Some(a);
                }
            }
        }
        Ok(Plugins {
            transforms: Transforms::new(transforms).map(Arc::new),
            authorizer: authorizer.map(Arc::new),
            filters: Filters::new(filters).map(Arc::new),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.transforms.is_none() && self.authorizer.is_none() && self.filters.is_none()
    }

    /// Name, hook and counters of every loaded plugin.
    pub fn summaries(&self) -> Vec<PluginSummary> {
        let mut out = Vec::new();
        for t in self.transforms.iter().flat_map(|t| t.plugins()) {
            out.push(summary(t.pool.name(), "subject-transform", &t.pool.stats));
        }
        if let Some(a) = &self.authorizer {
            out.push(summary(a.pool.name(), "authorizer", &a.pool.stats));
        }
        for f in self.filters.iter().flat_map(|f| f.plugins()) {
            out.push(summary(f.pool.name(), "stream-filter", &f.pool.stats));
        }
        out
    }
}

/// One plugin's counters at one moment, as `/varz` shows them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PluginCounters {
    pub name: String,
    pub hook: &'static str,
    pub calls: u64,
    pub failures: u64,
    pub timeouts: u64,
    pub memory_limit: u64,
    pub traps: u64,
    pub invalid_output: u64,
    /// Calls answered by the failure policy while quarantined.
    pub skipped: u64,
    pub quarantined: bool,
}

impl PluginSummary {
    pub fn counters(&self) -> PluginCounters {
        use std::sync::atomic::Ordering::Relaxed;
        let s = &self.stats;
        PluginCounters {
            name: self.name.clone(),
            hook: self.hook,
            calls: s.calls.load(Relaxed),
            failures: s.failures.load(Relaxed),
            timeouts: s.timeouts.load(Relaxed),
            memory_limit: s.memory_limit.load(Relaxed),
            traps: s.traps.load(Relaxed),
            invalid_output: s.invalid_output.load(Relaxed),
            skipped: s.skipped.load(Relaxed),
            quarantined: s.quarantined.load(Relaxed),
        }
    }
}

fn summary(name: &str, hook: &'static str, stats: &Arc<PluginStats>) -> PluginSummary {
    PluginSummary {
        name: name.to_string(),
        hook,
        stats: stats.clone(),
    }
}
