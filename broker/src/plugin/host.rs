//! What a plugin instance's store holds, and the host side of the WIT
//! imports: the `message` resource's accessors, `log`, `config` and the
//! clocks, plus the memory limiter.
//!
//! The deadline is CPU time, checked against the wall clock: the epoch
//! ticker raises [`HostState::on_deadline`] every half deadline of a call.
//! At the first look it notes the thread's CPU time; at each later look the
//! call is stopped if its thread ran for at least half of the time since
//! the previous look (it is spinning), and extended otherwise (the machine
//! was busy and the call was waiting for a CPU, which is no fault of the
//! plugin's). So a loop stops after about its deadline (5–6 ms for 5 ms) on
//! a machine with a core to spare, and no later than [`HARD_CAP`] deadlines
//! (10 ms) on one without.
//!
//! The message a call is about is lent to the plugin without copying it
//! into a host structure: [`HostState::lend`] records where the broker's own
//! bytes are for the duration of one call, and the accessors copy out only
//! what the plugin asks for. The plugin holds a `borrow<message>`, which the
//! component model forbids it to keep past the call.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wasmtime::component::Resource;
use wasmtime::{ResourceLimiter, UpdateDeadline};

use super::engine::{check_ticks, TICK};

use super::bindings::transform::tern::plugin::{host, types};
use super::bindings::Level;

/// The Rust type behind the `message` resource. Plugins only ever get
/// borrowed handles whose number names the call in progress; the data
/// lives in [`HostState`] for that call.
pub struct MessageRef;

/// The message a call is about: the broker's bytes, borrowed for the call.
#[derive(Clone, Copy)]
pub struct Lent<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// The raw NATS header block (`NATS/1.0\r\n...\r\n\r\n`), if any.
    pub headers: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

/// A [`Lent`] with its lifetime erased, valid only while a [`LendGuard`]
/// for it is alive.
#[derive(Clone, Copy)]
struct RawLent {
    subject: *const [u8],
    reply: Option<*const [u8]>,
    headers: Option<*const [u8]>,
    payload: *const [u8],
}

/// What the plugin is and may see; shared by all its instances.
pub struct PluginInfo {
    pub name: String,
    /// Its config table, flattened (`a.b` = `v`).
    pub config: Vec<(String, String)>,
    pub max_memory: usize,
}

/// Log lines one call may write; more are dropped (a plugin must not be
/// able to flood the broker's log).
const LOG_LINES_PER_CALL: u32 = 16;
/// Longest log line kept from a plugin.
const LOG_LINE_MAX: usize = 1024;

/// However busy the machine, a call is stopped after this many deadlines
/// (10 ms for the default 5 ms): a plugin that was only waiting for a CPU
/// gets that much slack, a spinning one no more.
pub const HARD_CAP: u32 = 2;

/// The running call's deadline bookkeeping.
struct Deadline {
    started: Instant,
    timeout: Duration,
    /// Thread CPU time and wall time at the previous look, if any.
    last_look: Option<(Duration, Instant)>,
    timed_out: bool,
}

/// CPU time this thread has used (`None` if the clock cannot be read).
fn thread_cpu() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only the timespec it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| {
        Duration::new(
            u64::try_from(ts.tv_sec).unwrap_or(0),
            u32::try_from(ts.tv_nsec).unwrap_or(0),
        )
    })
}

/// The data of one plugin instance's store.
pub struct HostState {
    pub info: Arc<PluginInfo>,
    limiter: Limiter,
    deadline: Deadline,
    lent: Option<RawLent>,
    /// The handle number of the message lent to the current call.
    lent_rep: u32,
    logged: u32,
}

// SAFETY: `RawLent` points at bytes owned by the thread that called into the
// plugin and is only dereferenced by that same thread while it is inside the
// call (see `lend`); the store is moved between threads only between calls,
// when `lent` is `None`.
unsafe impl Send for HostState {}

impl HostState {
    pub fn new(info: Arc<PluginInfo>) -> Self {
        let max_memory = info.max_memory;
        HostState {
            info,
            limiter: Limiter {
                max_memory,
                hit: false,
            },
            deadline: Deadline {
                started: Instant::now(),
                timeout: Duration::ZERO,
                last_look: None,
                timed_out: false,
            },
            lent: None,
            lent_rep: 0,
            logged: 0,
        }
    }

    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limiter
    }

    /// Whether the memory cap refused a growth since the last call began.
    pub fn hit_memory_limit(&self) -> bool {
        self.limiter.hit
    }

    /// Reset per-call state before a call that started at `started` and may
    /// use `timeout` of CPU; returns the ticks to the first look at it.
    pub fn begin_call(&mut self, started: Instant, timeout: Duration) -> u64 {
        self.limiter.hit = false;
        self.logged = 0;
        self.deadline = Deadline {
            started,
            timeout,
            last_look: None,
            timed_out: false,
        };
        check_ticks(timeout)
    }

    /// Whether the last call was stopped at its deadline.
    pub fn timed_out(&self) -> bool {
        self.deadline.timed_out
    }

    /// The epoch deadline passed: stop the call, or give it more time (see
    /// the module docs).
    pub fn on_deadline(&mut self) -> UpdateDeadline {
        let d = &mut self.deadline;
        let now = Instant::now();
        let left = d
            .timeout
            .saturating_mul(HARD_CAP)
            .saturating_sub(now.duration_since(d.started));
        // Whole ticks before the hard cap: the next look may not come later.
        let ticks_left = u64::try_from(left.as_nanos() / TICK.as_nanos()).unwrap_or(u64::MAX);
        let spinning = match (d.last_look, thread_cpu()) {
            _ if ticks_left == 0 => true,
            (Some((cpu0, wall0)), Some(cpu)) => {
                cpu.saturating_sub(cpu0) * 2 >= now.duration_since(wall0)
            }
            // Without a CPU clock the wall clock decides.
            (Some(_), None) => true,
            (None, _) => false,
        };
        if spinning {
            d.timed_out = true;
            return UpdateDeadline::Interrupt;
        }
        d.last_look = thread_cpu().map(|cpu| (cpu, now));
        UpdateDeadline::Continue(check_ticks(d.timeout).min(ticks_left))
    }

    /// Lend `msg` to the plugin for one call; the returned handle is what
    /// the call passes as `borrow<message>`. The guest can read the message
    /// only until `end_lend` (called by [`super::pool`] right after the call,
    /// also when it fails).
    pub fn lend(&mut self, msg: &Lent<'_>) -> Resource<MessageRef> {
        self.lent_rep = self.lent_rep.wrapping_add(1);
        self.lent = Some(RawLent {
            subject: msg.subject,
            reply: msg.reply.map(|r| r as *const [u8]),
            headers: msg.headers.map(|h| h as *const [u8]),
            payload: msg.payload,
        });
        Resource::new_borrow(self.lent_rep)
    }

    pub fn end_lend(&mut self) {
        self.lent = None;
    }

    fn message(&self, handle: &Resource<MessageRef>) -> wasmtime::Result<Lent<'_>> {
        match self.lent {
            Some(raw) if handle.rep() == self.lent_rep => {
                // SAFETY: `lent` is only set between `lend` and `end_lend`,
                // which the pool calls around one synchronous call into the
                // plugin; the caller's `Lent` borrows outlive that call, and
                // the result borrows `self`, so it cannot outlive it either.
                unsafe {
                    Ok(Lent {
                        subject: &*raw.subject,
                        reply: raw.reply.map(|r| &*r),
                        headers: raw.headers.map(|h| &*h),
                        payload: &*raw.payload,
                    })
                }
            }
            _ => Err(wasmtime::Error::msg(
                "message handle used outside of its call",
            )),
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl types::HostMessage for HostState {
    fn subject(&mut self, msg: Resource<MessageRef>) -> wasmtime::Result<String> {
        Ok(text(self.message(&msg)?.subject))
    }

    fn reply(&mut self, msg: Resource<MessageRef>) -> wasmtime::Result<Option<String>> {
        Ok(self.message(&msg)?.reply.map(text))
    }

    fn headers(&mut self, msg: Resource<MessageRef>) -> wasmtime::Result<Vec<types::Header>> {
        let block = self.message(&msg)?.headers;
        Ok(super::headers::parse(block.unwrap_or_default())
            .map(|(name, value)| types::Header {
                name: text(name),
                value: text(value),
            })
            .collect())
    }

    fn header(
        &mut self,
        msg: Resource<MessageRef>,
        name: String,
    ) -> wasmtime::Result<Option<String>> {
        let block = self.message(&msg)?.headers;
        Ok(super::headers::parse(block.unwrap_or_default())
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| text(v)))
    }

    fn payload_len(&mut self, msg: Resource<MessageRef>) -> wasmtime::Result<u32> {
        Ok(u32::try_from(self.message(&msg)?.payload.len()).unwrap_or(u32::MAX))
    }

    fn payload(&mut self, msg: Resource<MessageRef>) -> wasmtime::Result<Vec<u8>> {
        Ok(self.message(&msg)?.payload.to_vec())
    }

    fn drop(&mut self, _msg: Resource<MessageRef>) -> wasmtime::Result<()> {
        // Plugins only get borrows; the message belongs to the broker.
        Ok(())
    }
}

impl types::Host for HostState {}

fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

impl host::Host for HostState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.logged += 1;
        if self.logged > LOG_LINES_PER_CALL {
            return Ok(());
        }
        let mut line = message;
        if line.len() > LOG_LINE_MAX {
            let mut cut = LOG_LINE_MAX;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
        }
        let name = &self.info.name;
        match level {
            Level::Error => tracing::error!("plugin {name}: {line}"),
            Level::Warn => tracing::warn!("plugin {name}: {line}"),
            Level::Info => tracing::info!("plugin {name}: {line}"),
            Level::Debug => tracing::debug!("plugin {name}: {line}"),
            Level::Trace => tracing::trace!("plugin {name}: {line}"),
        }
        Ok(())
    }

    fn config(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self.info.config.clone())
    }

    fn now_unix_nanos(&mut self) -> wasmtime::Result<u64> {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Ok(u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
    }

    fn monotonic_nanos(&mut self) -> wasmtime::Result<u64> {
        Ok(u64::try_from(process_start().elapsed().as_nanos()).unwrap_or(u64::MAX))
    }
}

/// Caps an instance's linear memory. A refused growth makes the guest's
/// allocator fail (a Rust guest then aborts, which traps); `hit` lets the
/// pool report it as the memory limit rather than a bare trap.
struct Limiter {
    max_memory: usize,
    hit: bool,
}

/// Tables hold function references; no plugin needs more.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
