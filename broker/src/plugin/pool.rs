//! Ready-made instances of one plugin, and the sandboxed call.
//!
//! Each instance has its own store (its own memory, capped by the
//! limiter), so a failed call can throw its instance away without touching
//! the others: after a trap the component model forbids entering that
//! instance again anyway. Instances are created from a pre-linked
//! [`InstancePre`](wasmtime::component::InstancePre) (no import resolution
//! per instance), a few ahead of time, more on demand when calls overlap;
//! at most `keep_idle` wait between calls.
//!
//! Every call runs under an epoch deadline. Failures are counted, logged
//! (at most once a second per plugin after the first few) and, after
//! `quarantine_after` in a row, the plugin is quarantined: it is not called
//! again until the next reload, and its failure policy answers for it.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use wasmtime::component::Resource;
use wasmtime::Store;

use super::engine::engine;
use super::error::{CallError, PluginError};
use super::host::{HostState, Lent, MessageRef, PluginInfo};

/// A world's generated bindings, instantiable from its pre-linked form.
pub trait Hook: Sized + Send + 'static {
    type Pre: Send + Sync + 'static;
    fn instantiate(pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self>;
}

struct Instance<W> {
    store: Store<HostState>,
    hook: W,
}

/// Counters of one plugin, for logs and monitoring.
#[derive(Debug, Default)]
pub struct PluginStats {
    pub calls: AtomicU64,
    pub failures: AtomicU64,
    pub timeouts: AtomicU64,
    pub memory_limit: AtomicU64,
    pub traps: AtomicU64,
    pub invalid_output: AtomicU64,
    /// Calls answered by the failure policy because the plugin was
    /// quarantined.
    pub skipped: AtomicU64,
    pub quarantined: AtomicBool,
}

/// How a pool behaves; from the plugin's config.
#[derive(Debug, Clone)]
pub struct PoolLimits {
    pub timeout: Duration,
    pub keep_idle: usize,
    pub quarantine_after: u32,
}

/// Instantiation runs the component's start-up code; it gets a generous
/// deadline of its own (it is not a per-message cost).
const INSTANTIATE_TIMEOUT: Duration = Duration::from_millis(200);

/// Failures logged in full before logging is limited to one a second.
const LOUD_FAILURES: u64 = 5;

/// A call that took this long marks the plugin slow: its following calls
/// run with `block_in_place`, so the async worker's other connections move
/// to another thread instead of waiting out a plugin that spins into its
/// deadline. A fast call clears the mark (handing off costs microseconds,
/// too much for the calls a healthy plugin makes).
const SLOW_CALL: Duration = Duration::from_millis(1);

pub struct Pool<W: Hook> {
    pre: W::Pre,
    info: Arc<PluginInfo>,
    limits: PoolLimits,
    idle: Mutex<Vec<Instance<W>>>,
    consecutive_failures: AtomicU32,
    /// The last call took [`SLOW_CALL`] or more.
    slow: AtomicBool,
    last_logged_ms: AtomicU64,
    started: Instant,
    pub stats: Arc<PluginStats>,
}

impl<W: Hook> Pool<W> {
    /// A pool with `keep_idle` instances ready (at least one, which also
    /// proves the plugin instantiates before it is put to work).
    pub fn new(
        pre: W::Pre,
        info: Arc<PluginInfo>,
        limits: PoolLimits,
    ) -> Result<Self, PluginError> {
        let pool = Pool {
            pre,
            info,
            idle: Mutex::new(Vec::new()),
            consecutive_failures: AtomicU32::new(0),
            slow: AtomicBool::new(false),
            last_logged_ms: AtomicU64::new(0),
            started: Instant::now(),
            stats: Arc::new(PluginStats::default()),
            limits,
        };
        let mut ready = Vec::new();
        for _ in 0..pool.limits.keep_idle.max(1) {
            let instance = pool.instantiate().map_err(|e| PluginError::Instantiate {
                name: pool.info.name.clone(),
                reason: format!("{e:#}"),
            })?;
            ready.push(instance);
        }
        *pool.idle.lock() = ready;
        Ok(pool)
    }

    pub fn name(&self) -> &str {
        &self.info.name
    }

    fn instantiate(&self) -> wasmtime::Result<Instance<W>> {
        let engine = engine().map_err(wasmtime::Error::msg)?;
        let mut store = Store::new(engine, HostState::new(self.info.clone()));
        store.limiter(HostState::limiter);
        store.epoch_deadline_callback(|mut ctx| Ok(ctx.data_mut().on_deadline()));
        let ticks = store
            .data_mut()
            .begin_call(Instant::now(), INSTANTIATE_TIMEOUT);
        store.set_epoch_deadline(ticks);
        let hook = W::instantiate(&self.pre, &mut store)?;
        Ok(Instance { store, hook })
    }

    /// Call into the plugin under its deadline and memory cap. `msg`, when
    /// given, is lent to the call and its handle passed to `f`.
    pub fn call<R>(
        &self,
        msg: Option<&Lent<'_>>,
        f: impl FnOnce(&W, &mut Store<HostState>, Option<Resource<MessageRef>>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        if self.stats.quarantined.load(Ordering::Relaxed) {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            return Err(CallError::Quarantined);
        }
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let taken = self.idle.lock().pop();
        let mut instance = match taken {
            Some(i) => i,
            None => match self.instantiate() {
                Ok(i) => i,
                Err(e) => return Err(self.fail(CallError::Trap(format!("instantiate: {e:#}")))),
            },
        };
        let store = &mut instance.store;
        let started = Instant::now();
        let ticks = store.data_mut().begin_call(started, self.limits.timeout);
        store.set_epoch_deadline(ticks);
        let handle = msg.map(|m| store.data_mut().lend(m));
        let hook = &instance.hook;
        let result = if self.slow.load(Ordering::Relaxed) {
            off_the_workers(|| f(hook, store, handle))
        } else {
            f(hook, store, handle)
        };
        self.slow
            .store(started.elapsed() >= SLOW_CALL, Ordering::Relaxed);
        store.data_mut().end_lend();
        match result {
            Ok(r) => {
                self.consecutive_failures.store(0, Ordering::Relaxed);
                let mut idle = self.idle.lock();
                if idle.len() < self.limits.keep_idle.max(1) {
                    idle.push(instance);
                }
                Ok(r)
            }
            Err(e) => {
                let err = if instance.store.data().hit_memory_limit() {
                    CallError::MemoryLimit(self.info.max_memory)
                } else if instance.store.data().timed_out()
                    || e.downcast_ref::<wasmtime::Trap>()
                        .is_some_and(|t| *t == wasmtime::Trap::Interrupt)
                {
                    CallError::Timeout {
                        deadline: self.limits.timeout,
                        elapsed: started.elapsed(),
                    }
                } else {
                    CallError::Trap(describe(&e))
                };
                // The instance may be mid-way through anything: never reuse it.
                drop(instance);
                Err(self.fail(err))
            }
        }
    }

    /// Count and log a failed call (also one whose result was refused),
    /// quarantining the plugin after too many in a row.
    pub fn fail(&self, err: CallError) -> CallError {
        let s = &self.stats;
        let total = s.failures.fetch_add(1, Ordering::Relaxed) + 1;
        match &err {
            CallError::Timeout { .. } => &s.timeouts,
            CallError::MemoryLimit(_) => &s.memory_limit,
            CallError::Trap(_) => &s.traps,
            CallError::InvalidOutput(_) => &s.invalid_output,
            CallError::Quarantined => &s.skipped,
        }
        .fetch_add(1, Ordering::Relaxed);
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_logged_ms.load(Ordering::Relaxed);
        if total <= LOUD_FAILURES || now_ms.saturating_sub(last) >= 1000 {
            self.last_logged_ms.store(now_ms, Ordering::Relaxed);
            tracing::error!(
                "plugin {}: call failed ({total} failures so far): {err}",
                self.info.name
            );
        }
        let in_a_row = self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if in_a_row >= self.limits.quarantine_after && !s.quarantined.swap(true, Ordering::Relaxed)
        {
            self.idle.lock().clear();
            tracing::error!(
                "plugin {} quarantined after {in_a_row} failed calls in a row; its failure policy answers for it until the next reload",
                self.info.name
            );
        }
        err
    }
}

/// Run `f` with `block_in_place` on tokio's multi-threaded runtime (the
/// binary's); inline anywhere else (a current-thread runtime, no runtime).
fn off_the_workers<R>(f: impl FnOnce() -> R) -> R {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

/// Longest error text kept from a failed call.
const ERROR_TEXT_MAX: usize = 300;

/// A failed call's error in one short line: the trap when there is one
/// (`call stack exhausted`, `unreachable` for a guest panic, ...), else the
/// error chain, cut at [`ERROR_TEXT_MAX`].
fn describe(e: &wasmtime::Error) -> String {
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        return trap.to_string();
    }
    let text = format!("{e:#}").replace('\n', " ");
    match text.char_indices().nth(ERROR_TEXT_MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
