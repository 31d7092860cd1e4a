//! `bench`: Tern against the official nats-server, same client code, same
//! machine, same run. Reports medians across rounds and the Tern/nats-server
//! ratio; never a lone absolute figure (see DESIGN.md, "Measuring").
//!
//! ```text
//! cargo build --release -p tern -p tern-tests
//! cargo run --release -p tern-tests --bin bench -- [--quick] [--rounds N] [--only NAME]... [--markdown]
//! ```
//!
//! The clients (`tern_tests::bench`) speak the NATS text protocol on raw
//! blocking TCP, one OS thread each: publishers write pre-encoded frames in
//! 128 KiB chunks, subscribers count `MSG` frames with a byte-skipping
//! parser, and a publisher stays within 8 MiB of its slowest subscriber so
//! neither broker's slow-consumer policy decides the figure. Each round
//! starts fresh brokers and runs every scenario against both, back to back,
//! flipping which goes first from one round to the next so machine noise
//! hits both; request/reply and start-up go further and interleave the two
//! brokers inside one run. `--quick` (what CI runs) only proves that
//! everything works: it fails (exit 1) on lost messages, errors or
//! timeouts, never on performance ratios.
//!
//! `--plugins` measures what plugins cost instead: Tern with a
//! subject-transform plugin on every subject against Tern without, and
//! plugin load times (see `tern_tests::bench::plugins`).
//!
//! Profiling aids: `--broker tern|nats-server` runs one side only;
//! `BENCH_DEBUG=1` prints the request/reply latency distribution. The
//! per-run lines show each broker's CPU time next to its figure.

use std::process::ExitCode;
use std::thread;

use anyhow::{bail, Context, Result};
use tern_tests::bench::report::{fmt_value, print_tables, Row};
use tern_tests::bench::scenarios::{run_round, Outcome, Sizes, SCENARIOS};
use tern_tests::Kind;

struct Args {
    quick: bool,
    rounds: Option<usize>,
    only: Vec<String>,
    /// Profiling aid: run one broker only (no ratios).
    broker: Option<Kind>,
    /// Measure what plugins cost instead (Tern with and without).
    plugins: bool,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        quick: false,
        rounds: None,
        only: Vec::new(),
        broker: None,
        plugins: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => args.quick = true,
            "--plugins" => args.plugins = true,
            "--rounds" => {
                args.rounds = Some(
                    it.next()
                        .context("--rounds N")?
                        .parse()
                        .context("--rounds N")?,
                )
            }
            "--only" => args.only.extend(
                it.next()
                    .context("--only NAME")?
                    .split(',')
                    .map(String::from),
            ),
            "--broker" => {
                args.broker = Some(match it.next().as_deref() {
                    Some("tern") => Kind::Tern,
                    Some("nats-server") => Kind::NatsServer,
                    _ => bail!("--broker tern|nats-server"),
                })
            }
            // The markdown table is always printed; the flag is accepted for scripts.
            "--markdown" => {}
            "-h" | "--help" => {
                let names: Vec<&str> = SCENARIOS.iter().map(|s| s.0).collect();
                println!("usage: bench [--quick] [--rounds N] [--only NAME[,NAME]]... [--markdown] [--broker tern|nats-server]");
                println!("scenarios (NAME matches by prefix): {}", names.join(", "));
                println!(
                    "--quick: tiny counts, one round; proves every scenario works, judges no ratio"
                );
                println!("--broker: run against one broker only (for profiling; no ratios)");
                println!("--plugins: what a subject-transform plugin costs (Tern with vs without), and plugin load times");
                println!("env: TERN_BIN, NATS_SERVER_BIN override the broker binaries");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    Ok(args)
}

/// Whether `bin` is older than the newest file under this workspace's
/// broker/src (cargo does not rebuild `tern` for `cargo run -p tern-tests`).
fn stale(bin: &std::path::Path) -> bool {
    fn newest(dir: &std::path::Path) -> Option<std::time::SystemTime> {
        let mut best = None;
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            let t = if path.is_dir() {
                newest(&path)
            } else {
                entry.metadata().and_then(|m| m.modified()).ok()
            };
            best = best.max(t);
        }
        best
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../broker/src");
    let built = std::fs::metadata(bin).and_then(|m| m.modified()).ok();
    matches!((built, newest(&src)), (Some(b), Some(s)) if s > b)
}

fn raise_fd_limit(need: libc::rlim_t) -> Result<()> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        bail!("getrlimit: {}", std::io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            bail!("setrlimit: {}", std::io::Error::last_os_error());
        }
    }
    if lim.rlim_cur < need {
        bail!(
            "open-file limit {} is below the {need} the idle-connection scenario needs",
            lim.rlim_cur
        );
    }
    Ok(())
}

/// Time taken, CPU used, flow-control waits: what helps read a figure.
fn diagnostics(o: &Outcome) -> String {
    let mut parts = vec![format!("{:.1} s", o.took.as_secs_f64())];
    if let Some(b) = o.broker_cpu {
        parts.push(format!("broker cpu {b:.2} s"));
    }
    if let Some(c) = o.client_cpu {
        parts.push(format!("clients cpu {c:.2} s"));
    }
    if o.flow_waits > 0 {
        parts.push(format!("publisher held back {}×", o.flow_waits));
    }
    parts.join(", ")
}

fn main() -> ExitCode {
    match real_main() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<bool> {
    let args = parse_args()?;
    let sizes = Sizes::new(args.quick);
    let rounds = args.rounds.unwrap_or(if args.quick { 1 } else { 5 }).max(1);
    if args.plugins {
        tern_tests::bench::plugins::run(args.quick, rounds)?;
        return Ok(true);
    }
    let selected: Vec<_> = SCENARIOS
        .iter()
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| s.0.starts_with(o.as_str())))
        .collect();
    if selected.is_empty() {
        bail!("--only matches no scenario (try --help)");
    }
    raise_fd_limit((sizes.idle_conns * 2 + 256) as libc::rlim_t)?;
    let nats = tern_tests::nats_server_binary()?;
    // Edition 2021, single-threaded here: the harness reads this when it spawns.
    std::env::set_var("NATS_SERVER_BIN", &nats);
    let tern = tern_tests::tern_binary()?;
    if tern.components().any(|c| c.as_os_str() == "debug") {
        eprintln!(
            "warning: {} looks like a debug build; build with --release",
            tern.display()
        );
    }
    if std::env::var_os("TERN_BIN").is_none() && stale(&tern) {
        eprintln!(
            "warning: {} is older than broker/src; `cargo build --release -p tern` first",
            tern.display()
        );
    }
    println!("tern:        {}", tern.display());
    println!("nats-server: {}", nats.display());
    println!(
        "mode: {}, {rounds} round(s), {} core(s); {} small / {} 1 KiB msgs, {} requests, {} idle conns, {} starts",
        if args.quick { "quick" } else { "full" },
        thread::available_parallelism().map_or(0, |n| n.get()),
        sizes.small_msgs,
        sizes.large_msgs,
        sizes.requests,
        sizes.idle_conns,
        sizes.starts,
    );

    let mut rows: Vec<Row> = selected
        .iter()
        .flat_map(|s| s.2.iter())
        .map(|metric| Row {
            metric,
            tern: Vec::new(),
            nats: Vec::new(),
            failed: false,
        })
        .collect();
    let mut failures = 0;
    for round in 0..rounds {
        // Alternate which broker goes first, so drifting noise hits both.
        let mut order = vec![Kind::Tern, Kind::NatsServer];
        if round % 2 == 1 {
            order.reverse();
        }
        order.retain(|k| args.broker.is_none_or(|b| b == *k));
        let mut row = 0;
        for (name, scenario, metrics) in &selected {
            for (kind, result) in run_round(*scenario, &order, &sizes) {
                match result {
                    Ok(outcome) => {
                        let shown: Vec<String> = outcome
                            .values
                            .iter()
                            .zip(metrics.iter())
                            .map(|(v, m)| format!("{} {}", fmt_value(*v, m.unit), m.unit))
                            .collect();
                        println!(
                            "round {}/{rounds} {name:<11} {:<11} {} ({})",
                            round + 1,
                            kind.name(),
                            shown.join(", "),
                            diagnostics(&outcome)
                        );
                        for (i, v) in outcome.values.into_iter().enumerate() {
                            let r = &mut rows[row + i];
                            if kind == Kind::Tern {
                                r.tern.push(v)
                            } else {
                                r.nats.push(v)
                            }
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        eprintln!(
                            "round {}/{rounds} {name} {}: FAILED: {e:#}",
                            round + 1,
                            kind.name()
                        );
                        for r in &mut rows[row..row + metrics.len()] {
                            r.failed = true;
                        }
                    }
                }
            }
            row += metrics.len();
        }
    }
    print_tables(&rows, rounds);
    if args.quick {
        println!("\n(quick mode: counts too small for the figures to mean anything; only completion is checked)");
    }
    if failures > 0 {
        eprintln!("\nbench: {failures} scenario run(s) failed");
    }
    Ok(failures == 0)
}
