//! What plugins cost (`bench --plugins`): pub/sub throughput through Tern
//! with a subject-transform plugin bound to every subject (`>`) against the
//! same Tern without plugins, the per-message cost that difference implies
//! (in wall time and in broker CPU), and plugin load time with a cold
//! compile cache and with a warm one.
//!
//! The plugin is `plugins/probe` (built by `plugins/build.sh`) in three
//! modes: `keep` (enters Wasm, reads nothing), `subject` (reads the subject
//! only) and `payload` (copies the payload into the plugin). Rounds
//! alternate the order of the variants so drifting noise hits all of them.

use std::time::Instant;

use anyhow::{anyhow, Result};

use super::report::median;
use super::throughput::flow;
use crate::{plugin_component, Broker, BrokerOptions, Kind};

/// One broker set-up measured.
struct Variant {
    label: &'static str,
    /// The probe's mode, or none for the plain broker.
    mode: Option<&'static str>,
}

const VARIANTS: &[Variant] = &[
    Variant {
        label: "no plugin",
        mode: None,
    },
    Variant {
        label: "no-op plugin on every subject",
        mode: Some("keep"),
    },
    Variant {
        label: "subject-reading plugin",
        mode: Some("subject"),
    },
    Variant {
        label: "payload-reading plugin",
        mode: Some("payload"),
    },
];

fn config(mode: &str, cache: &std::path::Path) -> Result<String> {
    Ok(format!(
        "plugin_cache_dir: \"{}\"\nplugins: [ {{ path: \"{}\", subjects: [\">\"], config: {{ mode: {mode} }} }} ]\n",
        cache.display(),
        plugin_component("probe")?.display()
    ))
}

fn start(mode: Option<&str>, cache: &std::path::Path) -> Result<Broker> {
    let config = mode.map(|m| config(m, cache)).transpose()?;
    Broker::start_with(
        Kind::Tern,
        BrokerOptions {
            config,
            ..Default::default()
        },
    )
}

/// CPU seconds of every live thread of `pid` (schedstat: nanoseconds,
/// where /proc/PID/stat would give 10 ms ticks).
fn cpu_seconds(pid: u32) -> f64 {
    let mut ns = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        ns += stat
            .split(' ')
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    ns as f64 / 1e9
}

/// The `ready in X ms` of the plugin load line in a broker's log.
fn load_ms(log: &str) -> Option<f64> {
    let rest = log.split("ready in ").nth(1)?;
    rest.split(" ms").next()?.parse().ok()
}

/// Run the plugin benchmark; prints a markdown table. Quick mode only
/// checks that everything works.
pub fn run(quick: bool, rounds: usize) -> Result<()> {
    let cache = tempfile::Builder::new()
        .prefix("tern-bench-plugin-cache-")
        .tempdir()?;
    let (msgs_16, msgs_1k) = if quick {
        (20_000, 5_000)
    } else {
        (2_000_000, 500_000)
    };
    let payloads = [(16usize, msgs_16), (1024usize, msgs_1k)];
    // rates[variant][payload] and cpu ns per message, per round.
    let mut rates = vec![vec![Vec::new(); payloads.len()]; VARIANTS.len()];
    let mut cpu_ns = vec![vec![Vec::new(); payloads.len()]; VARIANTS.len()];
    // Warm the compile cache so throughput rounds do not include compiling.
    drop(start(Some("keep"), cache.path())?);
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..VARIANTS.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for &v in &order {
            for (p, &(payload, count)) in payloads.iter().enumerate() {
                let broker = start(VARIANTS[v].mode, cache.path())?;
                let cpu0 = cpu_seconds(broker.pid());
                let rate = flow(&broker.addr(), payload, 1, false, count).map_err(|e| {
                    let log = broker.stderr();
                    let tail: Vec<&str> = log.lines().rev().take(5).collect();
                    anyhow!(
                        "{} {payload} B: {e:#}; broker log ends:\n{}",
                        VARIANTS[v].label,
                        tail.join("\n")
                    )
                })?;
                let cpu = cpu_seconds(broker.pid()) - cpu0;
                let failed = broker.stderr().matches("call failed").count();
                if failed > 0 {
                    println!("  ({failed} plugin call failures logged)");
                }
                println!(
                    "round {}/{rounds} {:<30} {payload:>5} B: {:>10.0} msgs/s, broker cpu {:.0} ns/msg",
                    round + 1,
                    VARIANTS[v].label,
                    rate,
                    cpu * 1e9 / count as f64
                );
                rates[v][p].push(rate);
                cpu_ns[v][p].push(cpu * 1e9 / count as f64);
            }
        }
    }

    println!("\n| set-up | payload | msgs/s | × no plugin | cost/msg (wall) | broker CPU/msg | CPU cost/msg |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (p, &(payload, _)) in payloads.iter().enumerate() {
        let base = median(&mut rates[0][p]);
        let base_cpu = median(&mut cpu_ns[0][p]);
        for (v, variant) in VARIANTS.iter().enumerate() {
            let rate = median(&mut rates[v][p]);
            let cpu = median(&mut cpu_ns[v][p]);
            let (ratio, wall, extra) = if v == 0 {
                ("1.00".to_string(), "—".to_string(), "—".to_string())
            } else {
                (
                    format!("{:.2}", rate / base),
                    format!("{:.0} ns", (1.0 / rate - 1.0 / base) * 1e9),
                    format!("{:.0} ns", cpu - base_cpu),
                )
            };
            println!(
                "| {} | {payload} B | {rate:.0} | {ratio} | {wall} | {cpu:.0} ns | {extra} |",
                variant.label
            );
        }
    }

    // Load time: a fresh cache (compile), then the same component again in
    // a new process (deserialize from disk).
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..rounds.max(1) {
        for name in ["probe", "json-filter"] {
            let dir = tempfile::Builder::new()
                .prefix("tern-bench-plugin-load-")
                .tempdir()?;
            let text = format!(
                "plugin_cache_dir: \"{}\"\nplugins: [ {{ path: \"{}\", subjects: [\">\"] }} ]\n",
                dir.path().display(),
                plugin_component(name)?.display()
            );
            for out in [&mut cold, &mut warm] {
                let t0 = Instant::now();
                let broker = Broker::start_with(
                    Kind::Tern,
                    BrokerOptions {
                        config: Some(text.clone()),
                        ..Default::default()
                    },
                )?;
                let start_ms = t0.elapsed().as_secs_f64() * 1e3;
                let load = load_ms(&broker.stderr())
                    .ok_or_else(|| anyhow!("no plugin load line in the log"))?;
                out.push((name, load, start_ms));
            }
        }
    }
    println!("\n| plugin | size | load, cold (compile) | load, cached on disk | start-up to INFO, cold / cached |");
    println!("|---|---:|---:|---:|---:|");
    for name in ["probe", "json-filter"] {
        let size = std::fs::metadata(plugin_component(name)?)?.len();
        let pick = |v: &[(&str, f64, f64)], f: fn(&(&str, f64, f64)) -> f64| {
            let mut xs: Vec<f64> = v.iter().filter(|x| x.0 == name).map(f).collect();
            median(&mut xs)
        };
        println!(
            "| {name} | {} KiB | {:.1} ms | {:.2} ms | {:.0} ms / {:.0} ms |",
            size / 1024,
            pick(&cold, |x| x.1),
            pick(&warm, |x| x.1),
            pick(&cold, |x| x.2),
            pick(&warm, |x| x.2),
        );
    }
    if quick {
        println!("\n(quick mode: counts too small for the figures to mean anything; only completion is checked)");
    }
    Ok(())
}
