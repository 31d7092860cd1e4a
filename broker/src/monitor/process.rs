//! The process's own resource use, as `/varz` reports it: resident memory
//! (`mem`, bytes) and CPU use (`cpu`, percent of one core), read from
//! `/proc/self` like nats-server's `pse` package does on Linux.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How long a CPU reading stands before it is measured again; nats-server
/// samples once a second too.
const CPU_INTERVAL: Duration = Duration::from_secs(1);

/// Measures CPU use between readings.
pub struct CpuSampler {
    state: Mutex<CpuState>,
}

struct CpuState {
    at: Instant,
    ticks: u64,
    percent: f64,
}

impl CpuSampler {
    /// Start measuring from `since` (when the process started its work),
    /// with no CPU time counted before it.
    pub fn new(since: Instant) -> CpuSampler {
        CpuSampler {
            state: Mutex::new(CpuState {
                at: since,
                ticks: 0,
                percent: 0.0,
            }),
        }
    }

    /// Percent of one core used over the last interval (rounded to one
    /// decimal); the previous reading when asked again within a second.
    pub fn percent(&self) -> f64 {
        let mut st = self.state.lock();
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(st.at);
        if elapsed < CPU_INTERVAL && st.ticks != 0 {
            return st.percent;
        }
        let Some(ticks) = cpu_ticks() else {
            return st.percent;
        };
        let hz = clock_ticks_per_second();
        if elapsed > Duration::ZERO && hz > 0.0 {
            let used = ticks.saturating_sub(st.ticks) as f64 / hz;
            st.percent = (used / elapsed.as_secs_f64() * 1000.0).round() / 10.0;
        }
        st.at = now;
        st.ticks = ticks;
        st.percent
    }
}

/// Resident set size in bytes (0 when `/proc` cannot be read).
pub fn rss_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * page_size()
}

/// User plus system CPU time of this process, in clock ticks.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may contain spaces; fields restart after
    // its closing parenthesis, with field 3 (state) first.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15: indexes 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if v > 0 {
        v as u64
    } else {
        4096
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 {
        v as f64
    } else {
        100.0
    }
}

/// CPUs the process may use, read once: the standard library reads the
/// cgroup quota files on every call (9% of a `/varz` request's CPU), and
/// nats-server also takes the count once at start.
pub fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory_and_cpu() {
        assert!(rss_bytes() > 0);
        assert!(cpu_ticks().is_some());
        let sampler = CpuSampler::new(Instant::now() - Duration::from_secs(2));
        let p = sampler.percent();
        assert!((0.0..=100.0 * 64.0).contains(&p), "{p}");
    }
}
