//! The scenario list: what each one measures, its unit, its target, and
//! how much work it does in full and quick mode.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

use super::footprint::{idle, timed_start};
use super::jetstream::{self, JsWork};
use super::latency::{pin_process, request_reply};
use super::report::median;
use super::throughput::{flow, publish_only, take_flow_waits};
use crate::burst::{self, Pattern};
use crate::{Broker, Kind};

#[derive(Clone, Copy)]
pub enum Scenario {
    /// A publisher blasting, no subscribers; done at the PONG after the last PUB.
    Publish {
        payload: usize,
    },
    /// One publisher, `subs` subscribers (a queue group when `queue`).
    Flow {
        payload: usize,
        subs: usize,
        queue: bool,
    },
    /// Pub/sub 1→1 on a broker started with monitoring, while a scraper
    /// fetches `/varz` and `/connz?subs=1` (and Tern's `/metrics`; for
    /// nats-server that is an exporter's job) every 10 ms: compare with the
    /// plain pub/sub row to see what monitoring costs.
    Scraped {
        payload: usize,
    },
    /// Sequential requests; with `one_cpu`, the broker and both clients
    /// share one CPU, which takes the VM's cross-CPU wake-up cost (tens of
    /// µs, and bimodal) out of the figure and leaves the software path.
    RequestReply {
        one_cpu: bool,
    },
    /// Idle RSS, then RSS per idle connection.
    Idle,
    Startup,
    /// Pub/sub 1→1 through a leaf link: publisher on the leaf, subscriber
    /// on the hub.
    Leaf {
        payload: usize,
    },
    /// Pub/sub 1→1 with both clients on the websocket port.
    WebSocket {
        payload: usize,
    },
    /// Pub/sub 1→1 through a subject mapping (`bench.in` → `bench.flow`):
    /// compare with the plain pub/sub row to see what mapping costs.
    Mapped {
        payload: usize,
    },
    /// A burst with async-nats on both sides (see [`crate::burst`]), on a
    /// broker with default limits: deliveries per second and the share of
    /// the burst delivered.
    Burst {
        payload: usize,
        pattern: Pattern,
    },
    /// [`Scenario::Burst`] 1→1 with both clients over TLS.
    TlsBurst {
        payload: usize,
    },
    /// Sequential TLS handshakes on the client port: `(quick, full)`
    /// counts.
    TlsHandshakes {
        counts: (usize, usize),
    },
    /// A JetStream measurement: `(quick, full)` operation counts.
    JetStream {
        work: JsWork,
        counts: (u64, u64),
    },
}

pub struct Metric {
    pub label: &'static str,
    pub unit: &'static str,
    pub higher_is_better: bool,
    /// Tern/nats-server ratio Tern is judged against.
    pub target: Option<f64>,
}

pub const fn metric(
    label: &'static str,
    unit: &'static str,
    higher_is_better: bool,
    target: Option<f64>,
) -> Metric {
    Metric {
        label,
        unit,
        higher_is_better,
        target,
    }
}

pub const SCENARIOS: &[(&str, Scenario, &[Metric])] = &[
    (
        "pub-16b",
        Scenario::Publish { payload: 16 },
        &[metric("publish only, 16 B", "msgs/s", true, None)],
    ),
    (
        "pub-1k",
        Scenario::Publish { payload: 1024 },
        &[metric("publish only, 1 KiB", "msgs/s", true, None)],
    ),
    (
        "pubsub-16b",
        Scenario::Flow {
            payload: 16,
            subs: 1,
            queue: false,
        },
        &[metric("pub/sub 1→1, 16 B", "msgs/s", true, Some(1.2))],
    ),
    (
        "pubsub-1k",
        Scenario::Flow {
            payload: 1024,
            subs: 1,
            queue: false,
        },
        &[metric("pub/sub 1→1, 1 KiB", "msgs/s", true, Some(1.2))],
    ),
    (
        "mapped-16b",
        Scenario::Mapped { payload: 16 },
        &[metric(
            "pub/sub 1→1, 16 B, through a mapping",
            "msgs/s",
            true,
            Some(1.2),
        )],
    ),
    (
        "mapped-1k",
        Scenario::Mapped { payload: 1024 },
        &[metric(
            "pub/sub 1→1, 1 KiB, through a mapping",
            "msgs/s",
            true,
            Some(1.2),
        )],
    ),
    (
        "scraped-16b",
        Scenario::Scraped { payload: 16 },
        &[metric(
            "pub/sub 1→1, 16 B, scraped every 10 ms",
            "msgs/s",
            true,
            None,
        )],
    ),
    (
        "fanout-16b",
        Scenario::Flow {
            payload: 16,
            subs: 4,
            queue: false,
        },
        &[metric("fan-out 1→4, 16 B", "msgs/s", true, Some(1.2))],
    ),
    (
        "fanout-1k",
        Scenario::Flow {
            payload: 1024,
            subs: 4,
            queue: false,
        },
        &[metric("fan-out 1→4, 1 KiB", "msgs/s", true, Some(1.2))],
    ),
    (
        "queue-16b",
        Scenario::Flow {
            payload: 16,
            subs: 4,
            queue: true,
        },
        &[metric("queue group of 4, 16 B", "msgs/s", true, Some(1.2))],
    ),
    (
        "queue-1k",
        Scenario::Flow {
            payload: 1024,
            subs: 4,
            queue: true,
        },
        &[metric("queue group of 4, 1 KiB", "msgs/s", true, Some(1.2))],
    ),
    (
        "burst-16b",
        Scenario::Burst {
            payload: 16,
            pattern: Pattern::FanOut(1),
        },
        &[
            metric("async-nats pub/sub 1→1, 16 B", "msgs/s", true, Some(1.2)),
            metric(
                "async-nats pub/sub 1→1, 16 B, delivered",
                "%",
                true,
                Some(1.0),
            ),
        ],
    ),
    (
        "burst-1k",
        Scenario::Burst {
            payload: 1024,
            pattern: Pattern::FanOut(1),
        },
        &[
            metric("async-nats pub/sub 1→1, 1 KiB", "msgs/s", true, Some(1.2)),
            metric(
                "async-nats pub/sub 1→1, 1 KiB, delivered",
                "%",
                true,
                Some(1.0),
            ),
        ],
    ),
    (
        "burst-fanout-16b",
        Scenario::Burst {
            payload: 16,
            pattern: Pattern::FanOut(4),
        },
        &[
            metric("async-nats fan-out 1→4, 16 B", "msgs/s", true, Some(1.2)),
            metric(
                "async-nats fan-out 1→4, 16 B, delivered",
                "%",
                true,
                Some(1.0),
            ),
        ],
    ),
    (
        "burst-fanout-1k",
        Scenario::Burst {
            payload: 1024,
            pattern: Pattern::FanOut(4),
        },
        &[
            metric("async-nats fan-out 1→4, 1 KiB", "msgs/s", true, Some(1.2)),
            metric(
                "async-nats fan-out 1→4, 1 KiB, delivered",
                "%",
                true,
                Some(1.0),
            ),
        ],
    ),
    (
        "burst-queue-16b",
        Scenario::Burst {
            payload: 16,
            pattern: Pattern::Queue(4),
        },
        &[
            metric(
                "async-nats queue group of 4, 16 B",
                "msgs/s",
                true,
                Some(1.2),
            ),
            metric(
                "async-nats queue group of 4, 16 B, delivered",
                "%",
                true,
                Some(1.0),
            ),
        ],
    ),
    (
        "burst-queue-1k",
        Scenario::Burst {
            payload: 1024,
            pattern: Pattern::Queue(4),
        },
        &[
            metric(
                "async-nats queue group of 4, 1 KiB",
                "msgs/s",
                true,
                Some(1.2),
            ),
            metric(
                "async-nats queue group of 4, 1 KiB, delivered",
                "%",
                true,
                Some(1.0),
            ),
        ],
    ),
    (
        "tls-burst-16b",
        Scenario::TlsBurst { payload: 16 },
        &[
            metric("async-nats over TLS 1→1, 16 B", "msgs/s", true, Some(1.0)),
            metric(
                "async-nats over TLS 1→1, 16 B, delivered",
                "%",
                true,
                Some(1.0),
            ),
        ],
    ),
    (
        "tls-burst-1k",
        Scenario::TlsBurst { payload: 1024 },
        &[
            metric("async-nats over TLS 1→1, 1 KiB", "msgs/s", true, Some(1.0)),
            metric(
                "async-nats over TLS 1→1, 1 KiB, delivered",
                "%",
                true,
                Some(1.0),
            ),
        ],
    ),
    (
        "tls-handshakes",
        Scenario::TlsHandshakes { counts: (20, 1000) },
        &[metric(
            "TLS handshakes, one after another",
            "ops/s",
            true,
            Some(1.0),
        )],
    ),
    (
        "leaf-16b",
        Scenario::Leaf { payload: 16 },
        &[metric("leaf → hub 1→1, 16 B", "msgs/s", true, Some(1.0))],
    ),
    (
        "leaf-1k",
        Scenario::Leaf { payload: 1024 },
        &[metric("leaf → hub 1→1, 1 KiB", "msgs/s", true, Some(1.0))],
    ),
    (
        "ws-16b",
        Scenario::WebSocket { payload: 16 },
        &[metric(
            "websocket pub/sub 1→1, 16 B",
            "msgs/s",
            true,
            Some(1.0),
        )],
    ),
    (
        "ws-1k",
        Scenario::WebSocket { payload: 1024 },
        &[metric(
            "websocket pub/sub 1→1, 1 KiB",
            "msgs/s",
            true,
            Some(1.0),
        )],
    ),
    (
        "reqrep",
        Scenario::RequestReply { one_cpu: false },
        &[
            metric("request/reply p50", "µs", false, Some(0.6)),
            metric("request/reply p99", "µs", false, Some(0.6)),
        ],
    ),
    (
        "reqrep-1cpu",
        Scenario::RequestReply { one_cpu: true },
        &[
            metric("request/reply p50, 1 CPU", "µs", false, Some(0.6)),
            metric("request/reply p99, 1 CPU", "µs", false, Some(0.6)),
        ],
    ),
    (
        "idle",
        Scenario::Idle,
        &[
            metric("idle RSS", "KiB", false, Some(0.2)),
            metric("RSS per idle connection", "KiB", false, Some(0.25)),
        ],
    ),
    (
        "startup",
        Scenario::Startup,
        &[metric("start-up to first INFO", "ms", false, Some(0.5))],
    ),
    (
        "js-pub-seq",
        Scenario::JetStream {
            work: JsWork::Publish { window: 1 },
            counts: (200, 5_000),
        },
        &[metric(
            "JetStream publish + ack, one at a time",
            "msgs/s",
            true,
            None,
        )],
    ),
    (
        "js-pub-pipelined",
        Scenario::JetStream {
            work: JsWork::Publish { window: 256 },
            counts: (2_000, 200_000),
        },
        &[metric(
            "JetStream publish + ack, 256 in flight",
            "msgs/s",
            true,
            Some(1.0),
        )],
    ),
    (
        "js-fetch-ack",
        Scenario::JetStream {
            work: JsWork::FetchAck,
            counts: (2_000, 200_000),
        },
        &[metric(
            "JetStream pull fetch (256) + ack",
            "msgs/s",
            true,
            Some(1.0),
        )],
    ),
    (
        "kv-put",
        Scenario::JetStream {
            work: JsWork::KvPut,
            counts: (200, 5_000),
        },
        &[metric("KV put", "ops/s", true, Some(1.0))],
    ),
    (
        "kv-get",
        Scenario::JetStream {
            work: JsWork::KvGet,
            counts: (500, 20_000),
        },
        &[metric("KV get", "ops/s", true, Some(1.0))],
    ),
    (
        "js-stream-create",
        Scenario::JetStream {
            work: JsWork::StreamCreate,
            counts: (20, 200),
        },
        &[metric("stream create", "ops/s", true, None)],
    ),
    (
        "js-startup",
        Scenario::JetStream {
            work: JsWork::Startup,
            counts: (20_000, 1_000_000),
        },
        &[metric(
            "start-up with a stream of 1 M msgs (quick: 20 k)",
            "ms",
            false,
            None,
        )],
    ),
];

/// How much work one run does.
pub struct Sizes {
    pub quick: bool,
    pub small_msgs: u64,
    pub large_msgs: u64,
    pub requests: usize,
    pub warmup: usize,
    pub idle_conns: usize,
    pub starts: usize,
    pub settle: Duration,
}

impl Sizes {
    pub fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                quick,
                small_msgs: 20_000,
                large_msgs: 20_000,
                requests: 500,
                warmup: 50,
                idle_conns: 50,
                starts: 2,
                settle: Duration::from_millis(100),
            }
        } else {
            Sizes {
                quick,
                small_msgs: 2_000_000,
                large_msgs: 500_000,
                requests: 20_000,
                warmup: 1_000,
                idle_conns: 1_000,
                starts: 5,
                settle: Duration::from_millis(500),
            }
        }
    }

    pub fn msgs(&self, payload: usize) -> u64 {
        if payload <= 64 {
            self.small_msgs
        } else {
            self.large_msgs
        }
    }
}

/// What one run of a scenario against one broker measured.
pub struct Outcome {
    /// One value per metric.
    pub values: Vec<f64>,
    /// CPU seconds the broker used during the run (after start-up).
    pub broker_cpu: Option<f64>,
    /// CPU seconds the bench's clients used (when not shared between brokers).
    pub client_cpu: Option<f64>,
    /// Times the publisher waited for its subscribers (flow control).
    pub flow_waits: u64,
    pub took: Duration,
}

/// CPU time of every live thread of `pid`, in seconds (from schedstat, ns).
fn process_cpu(pid: u32) -> f64 {
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
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
    }
    ns as f64 / 1e9
}

/// CPU time of this process (all threads, live and finished), in seconds.
fn own_cpu() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

/// The last lines of the broker's log, to show with a failure.
fn log_tail(broker: &Broker) -> String {
    let log = broker.stderr();
    let tail: Vec<&str> = log.lines().rev().take(10).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!(
        "\n  {} log tail:\n    {}",
        broker.kind.name(),
        tail.join("\n    ")
    )
}

/// Run one scenario against each broker in `order`. Most scenarios run
/// the brokers one after the other; request/reply and start-up interleave
/// them (their figures are the most sensitive to drifting noise).
pub fn run_round(
    scenario: Scenario,
    order: &[Kind],
    sizes: &Sizes,
) -> Vec<(Kind, Result<Outcome>)> {
    match scenario {
        Scenario::Startup => startups(order, sizes),
        Scenario::RequestReply { one_cpu } => {
            let t0 = Instant::now();
            match request_reply_round(order, sizes, one_cpu) {
                Ok(outcomes) => outcomes
                    .into_iter()
                    .map(|(k, o)| {
                        (
                            k,
                            Ok(Outcome {
                                took: t0.elapsed(),
                                ..o
                            }),
                        )
                    })
                    .collect(),
                Err(e) => order.iter().map(|&k| (k, Err(anyhow!("{e:#}")))).collect(),
            }
        }
        _ => order
            .iter()
            .map(|&k| (k, run_one(scenario, k, sizes)))
            .collect(),
    }
}

fn startups(order: &[Kind], sizes: &Sizes) -> Vec<(Kind, Result<Outcome>)> {
    let t0 = Instant::now();
    let mut times: Vec<Result<Vec<f64>>> = order.iter().map(|_| Ok(Vec::new())).collect();
    for _ in 0..sizes.starts {
        for (i, &kind) in order.iter().enumerate() {
            if let Ok(v) = &mut times[i] {
                match timed_start(kind) {
                    Ok(d) => v.push(d.as_secs_f64() * 1e3),
                    Err(e) => times[i] = Err(e),
                }
            }
        }
    }
    order
        .iter()
        .zip(times)
        .map(|(&kind, t)| {
            let outcome = t.map(|mut v| Outcome {
                values: vec![median(&mut v)],
                broker_cpu: None,
                client_cpu: None,
                flow_waits: 0,
                took: t0.elapsed(),
            });
            (kind, outcome)
        })
        .collect()
}

fn request_reply_round(
    order: &[Kind],
    sizes: &Sizes,
    one_cpu: bool,
) -> Result<Vec<(Kind, Outcome)>> {
    let brokers = order
        .iter()
        .map(|&k| Broker::start(k))
        .collect::<Result<Vec<_>>>()?;
    let mut cpu = None;
    if one_cpu {
        for b in &brokers {
            cpu = Some(pin_process(b.pid())?);
        }
    }
    let addrs: Vec<String> = brokers.iter().map(Broker::addr).collect();
    let cpu0: Vec<f64> = brokers.iter().map(|b| process_cpu(b.pid())).collect();
    let blocks = (sizes.requests / 1000).clamp(2, 20);
    let result = request_reply(&addrs, sizes.warmup, sizes.requests, blocks, cpu);
    let per_broker = match result {
        Ok(v) => v,
        Err(e) => {
            let logs: Vec<String> = brokers.iter().map(log_tail).collect();
            return Err(anyhow!("{e:#}{}", logs.join("")));
        }
    };
    Ok(brokers
        .iter()
        .zip(per_broker)
        .zip(cpu0)
        .map(|((b, values), c0)| {
            let outcome = Outcome {
                values,
                broker_cpu: Some(process_cpu(b.pid()) - c0),
                client_cpu: None,
                flow_waits: 0,
                took: Duration::ZERO,
            };
            (b.kind, outcome)
        })
        .collect())
}

/// One scenario against one freshly started broker.
fn run_one(scenario: Scenario, kind: Kind, sizes: &Sizes) -> Result<Outcome> {
    let t0 = Instant::now();
    if let Scenario::JetStream { work, counts } = scenario {
        let count = if sizes.quick { counts.0 } else { counts.1 };
        let (value, broker) = jetstream::run(kind, work, count)?;
        return Ok(Outcome {
            values: vec![value],
            broker_cpu: Some(process_cpu(broker.pid())),
            client_cpu: None,
            flow_waits: 0,
            took: t0.elapsed(),
        });
    }
    if let Scenario::Leaf { payload } = scenario {
        let cpu0 = own_cpu();
        take_flow_waits();
        let (value, hub) = super::leaf::through_link(kind, payload, sizes.msgs(payload))?;
        return Ok(Outcome {
            values: vec![value],
            broker_cpu: Some(process_cpu(hub.pid())),
            client_cpu: Some(own_cpu() - cpu0),
            flow_waits: take_flow_waits(),
            took: t0.elapsed(),
        });
    }
    if let Scenario::TlsBurst { .. } | Scenario::TlsHandshakes { .. } = scenario {
        let (broker, pki, _dir) = super::tls::start(kind)?;
        let cpu0 = (process_cpu(broker.pid()), own_cpu());
        let values = match scenario {
            Scenario::TlsBurst { payload } => {
                super::tls::burst(&broker, &pki, payload, sizes.msgs(payload))
            }
            Scenario::TlsHandshakes { counts } => {
                let count = if sizes.quick { counts.0 } else { counts.1 };
                super::tls::handshakes(&broker, &pki, count).map(|v| vec![v])
            }
            _ => unreachable!("matched above"),
        }
        .map_err(|e| anyhow!("{e:#}{}", log_tail(&broker)))?;
        return Ok(Outcome {
            values,
            broker_cpu: Some(process_cpu(broker.pid()) - cpu0.0),
            client_cpu: Some(own_cpu() - cpu0.1),
            flow_waits: 0,
            took: t0.elapsed(),
        });
    }
    if let Scenario::Burst { payload, pattern } = scenario {
        let broker = Broker::start(kind)?;
        let cpu0 = (process_cpu(broker.pid()), own_cpu());
        let values = async_burst(&broker.url(), pattern, payload, sizes.msgs(payload))
            .map_err(|e| anyhow!("{e:#}{}", log_tail(&broker)))?;
        return Ok(Outcome {
            values,
            broker_cpu: Some(process_cpu(broker.pid()) - cpu0.0),
            client_cpu: Some(own_cpu() - cpu0.1),
            flow_waits: 0,
            took: t0.elapsed(),
        });
    }
    let monitor_port = crate::free_port();
    let ws_port = crate::free_port();
    let broker = match scenario {
        Scenario::WebSocket { .. } => Broker::start_with(
            kind,
            crate::BrokerOptions {
                config: Some(format!(
                    "websocket {{\n  listen: \"127.0.0.1:{ws_port}\"\n  no_tls: true\n}}\n"
                )),
                ..Default::default()
            },
        )?,
        Scenario::Mapped { .. } => Broker::start_with(
            kind,
            crate::BrokerOptions {
                config: Some("mappings { \"bench.in\": \"bench.flow\" }\n".into()),
                ..Default::default()
            },
        )?,
        Scenario::Scraped { .. } => Broker::start_with(
            kind,
            crate::BrokerOptions {
                args: vec!["-m".into(), monitor_port.to_string()],
                ..Default::default()
            },
        )?,
        _ => Broker::start(kind)?,
    };
    let addr = broker.addr();
    let cpu0 = (process_cpu(broker.pid()), own_cpu());
    take_flow_waits();
    let result = match scenario {
        Scenario::Publish { payload } => {
            publish_only(&addr, payload, sizes.msgs(payload)).map(|r| vec![r])
        }
        Scenario::Flow {
            payload,
            subs,
            queue,
        } => flow(&addr, payload, subs, queue, sizes.msgs(payload)).map(|r| vec![r]),
        Scenario::Mapped { payload } => super::throughput::flow_mapped(
            &addr,
            &addr,
            "bench.in",
            payload,
            1,
            false,
            sizes.msgs(payload),
            || Ok(()),
        )
        .map(|r| vec![r]),
        Scenario::WebSocket { payload } => {
            let ws = format!("ws://127.0.0.1:{ws_port}");
            flow(&ws, payload, 1, false, sizes.msgs(payload)).map(|r| vec![r])
        }
        Scenario::Scraped { payload } => scraped(kind, monitor_port, || {
            flow(&addr, payload, 1, false, sizes.msgs(payload))
        })
        .map(|r| vec![r]),
        Scenario::Idle => idle(&broker, sizes.idle_conns, sizes.settle),
        Scenario::RequestReply { .. }
        | Scenario::Startup
        | Scenario::JetStream { .. }
        | Scenario::Burst { .. }
        | Scenario::TlsBurst { .. }
        | Scenario::TlsHandshakes { .. }
        | Scenario::Leaf { .. } => {
            unreachable!("scenarios run elsewhere")
        }
    };
    let values = result.map_err(|e| anyhow!("{e:#}{}", log_tail(&broker)))?;
    Ok(Outcome {
        values,
        broker_cpu: Some(process_cpu(broker.pid()) - cpu0.0),
        client_cpu: Some(own_cpu() - cpu0.1),
        flow_waits: take_flow_waits(),
        took: t0.elapsed(),
    })
}

/// One async-nats burst on a two-worker runtime (an ordinary client
/// application): deliveries per second and the percentage delivered.
fn async_burst(url: &str, pattern: Pattern, payload: usize, count: u64) -> Result<Vec<f64>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let got = rt.block_on(burst::run(url, pattern, payload, count))?;
    let share = 100.0 * got.delivered() as f64 / pattern.expected(count) as f64;
    Ok(vec![got.rate(), share])
}

/// Run `work` while another thread scrapes the monitoring endpoints every
/// 10 ms over one kept-alive connection (as collectors do); a failed
/// scrape fails the scenario.
fn scraped(kind: Kind, port: u16, work: impl FnOnce() -> Result<f64>) -> Result<f64> {
    let paths: &[&str] = match kind {
        Kind::Tern => &["/varz", "/connz?subs=1", "/metrics"],
        Kind::NatsServer => &["/varz", "/connz?subs=1"],
    };
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let scraper = scope.spawn(|| -> Result<u64> {
            let mut scrapes = 0u64;
            let mut http = super::scraper::Scraper::connect(port)?;
            while !stop.load(Relaxed) {
                for path in paths {
                    http.get(path)?;
                    scrapes += 1;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(scrapes)
        });
        let result = work();
        stop.store(true, Relaxed);
        let scrapes = scraper
            .join()
            .map_err(|_| anyhow!("scraper thread panicked"))??;
        if scrapes == 0 {
            return Err(anyhow!("no scrape completed during the run"));
        }
        result
    })
}
