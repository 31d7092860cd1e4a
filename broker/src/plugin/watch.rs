//! Reload plugins when their files change, without a SIGHUP: the files of
//! the configured plugins are polled every [`POLL`]; when one changes
//! (modification time or size), the whole set is loaded again from the
//! configuration in force and swapped in, exactly as a reload would. A
//! set that fails to load leaves the plugins in force, and says why.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::server::state::{RunState, Shared};

use super::set::Plugins;

/// How often plugin files are checked.
pub const POLL: Duration = Duration::from_secs(1);

type Stamp = Vec<(PathBuf, Option<(SystemTime, u64)>)>;

/// The modification time and size of every configured plugin file.
fn stamp(paths: &[PathBuf]) -> Stamp {
    paths
        .iter()
        .map(|p| {
            let meta = std::fs::metadata(p).ok();
            let seen = meta.and_then(|m| Some((m.modified().ok()?, m.len())));
            (p.clone(), seen)
        })
        .collect()
}

/// Run until the server shuts down.
pub async fn watch_files(shared: Arc<Shared>) {
    let mut run_state = shared.watch_run_state();
    let files = |config: &crate::config::Config| -> Vec<PathBuf> {
        config.plugins.iter().map(|p| p.path.clone()).collect()
    };
    // The files as they were at start: a change before the first poll
    // counts too.
    let first = shared.config();
    let mut last = (first.clone(), stamp(&files(&first)));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            changed = run_state.changed() => {
                if changed.is_err() || *run_state.borrow() == RunState::ShuttingDown {
                    return;
                }
            }
        }
        let config = shared.config();
        let now = stamp(&files(&config));
        // After a reload swapped the config, its files are watched afresh
        // (the reload has just loaded them).
        let changed = Arc::ptr_eq(&last.0, &config) && last.1 != now;
        last = (config.clone(), now);
        if !changed {
            continue;
        }
        tracing::info!("Plugin files changed; reloading plugins");
        let cfg = config.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let cache = cfg.plugin_cache();
            Plugins::load(&cfg.plugins, Some(&cache))
        })
        .await;
        match loaded {
            Ok(Ok(plugins)) => {
                if shared.replace_plugins_if_config(&config, plugins) {
                    tracing::info!("Reloaded plugins");
                }
            }
            Ok(Err(e)) => {
                tracing::error!("Plugin reload failed, keeping the plugins in force: {e}")
            }
            Err(e) => tracing::error!("Plugin reload failed, keeping the plugins in force: {e}"),
        }
    }
}
