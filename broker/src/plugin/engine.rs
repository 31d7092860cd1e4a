//! The one wasmtime [`Engine`] every plugin shares, and the epoch ticker
//! that bounds each call's CPU time.
//!
//! Engine settings are fixed here so compiled code cached on disk stays
//! valid between runs: epoch interruption on (a deadline per call), a
//! bounded wasm stack, the component model. The ticker thread advances the
//! engine's epoch every [`TICK`]; a store whose deadline (in ticks) passes
//! traps at the next loop back-edge or function entry. The engine and its
//! ticker start with the first plugin and live as long as the process, so
//! a broker without plugins never pays for either.

use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::{Config, Engine};

use super::error::PluginError;

/// How often the epoch advances: the resolution of call deadlines.
pub const TICK: Duration = Duration::from_millis(1);

/// Wasm stack a call may use (the host's own stack is separate).
pub const MAX_WASM_STACK: usize = 512 * 1024;

static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();

/// The shared engine, created (with its ticker) on first use.
pub fn engine() -> Result<&'static Engine, PluginError> {
    ENGINE
        .get_or_init(|| {
            let mut config = Config::new();
            config.wasm_component_model(true);
            config.epoch_interruption(true);
            config.max_wasm_stack(MAX_WASM_STACK);
            // No wasm backtraces on errors: a failed call is logged in one
            // line, whatever depth the plugin failed at.
            config.wasm_backtrace_max_frames(None);
            let engine = Engine::new(&config).map_err(|e| e.to_string())?;
            start_ticker(engine.clone()).map_err(|e| format!("epoch ticker: {e}"))?;
            Ok(engine)
        })
        .as_ref()
        .map_err(|e| PluginError::Engine(e.clone()))
}

/// Ticks between two looks at a running call with deadline `timeout`: half
/// of it, rounded up (see [`super::host`] for why a call is looked at twice
/// before it is stopped).
pub fn check_ticks(timeout: Duration) -> u64 {
    let ticks = timeout.as_nanos().div_ceil(2 * TICK.as_nanos());
    u64::try_from(ticks).unwrap_or(u64::MAX / 2).max(1)
}

/// Advance the epoch once per [`TICK`] of real time. A late wake-up (a busy
/// machine) catches up on the ticks it missed, so deadlines follow the clock
/// rather than the ticker's luck with the scheduler.
fn start_ticker(engine: Engine) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("tern-plugin-epoch".into())
        .spawn(move || {
            let start = std::time::Instant::now();
            let mut ticks: u128 = 0;
            loop {
                std::thread::sleep(TICK);
                let due = start.elapsed().as_nanos() / TICK.as_nanos();
                while ticks < due {
                    engine.increment_epoch();
                    ticks += 1;
                }
            }
        })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_come_every_half_deadline() {
        assert_eq!(check_ticks(Duration::from_millis(5)), 3);
        assert_eq!(check_ticks(Duration::from_millis(4)), 2);
        assert_eq!(check_ticks(Duration::ZERO), 1);
    }
}
