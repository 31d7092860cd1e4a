//! `/metrics`: Prometheus text exposition (format 0.0.4) of the server's
//! counters, under the names the seed's alert rules and Grafana dashboard
//! use (`nats_core_*`, `nats_jetstream_*`), plus the `gnatsd_varz_*` gauges
//! of prometheus-nats-exporter so its dashboards work too. Every family
//! has HELP and TYPE lines; the output passes `promtool check metrics`.

use std::fmt::Write;
use std::time::UNIX_EPOCH;

use crate::protocol::info::NATS_COMPAT_VERSION;
use crate::server::state::Shared;

use super::listener::MonitorState;
use super::process::rss_bytes;

/// Builds the exposition text.
struct Exposition {
    out: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        if labels.is_empty() {
            let _ = writeln!(self.out, "{name} {value}");
        } else {
            let _ = writeln!(self.out, "{name}{{{labels}}} {value}");
        }
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, kind, help);
        self.sample(name, "", value);
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A float the way Prometheus expects it (no exponent surprises).
fn float(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "NaN".into()
    }
}

pub fn metrics(shared: &Shared, state: &MonitorState) -> String {
    let cfg = shared.config();
    let stats = shared.stats();
    let mem = rss_bytes();
    let cpu = state.cpu.percent();
    let start = shared
        .started_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let uptime = shared.started.elapsed().as_secs_f64();
    let mut e = Exposition {
        out: String::with_capacity(4096),
    };

    e.family(
        "nats_core_info",
        "gauge",
        "Server identity and versions; always 1.",
    );
    e.sample(
        "nats_core_info",
        &format!(
            "server_id=\"{}\",server_name=\"{}\",version=\"{}\",tern_version=\"{}\"",
            label(&shared.server_id),
            label(&shared.server_name),
            NATS_COMPAT_VERSION,
            crate::VERSION
        ),
        1,
    );
    e.one(
        "nats_core_connections",
        "gauge",
        "Client connections currently open.",
        stats.connections,
    );
    e.one(
        "nats_core_connections_opened_total",
        "counter",
        "Client connections accepted since the server started.",
        stats.total_connections,
    );
    e.one(
        "nats_core_subscriptions",
        "gauge",
        "Subscriptions currently registered.",
        stats.subscriptions,
    );
    e.one(
        "nats_core_in_msgs_total",
        "counter",
        "Messages received from clients.",
        stats.in_msgs,
    );
    e.one(
        "nats_core_out_msgs_total",
        "counter",
        "Messages delivered to clients.",
        stats.out_msgs,
    );
    e.one(
        "nats_core_in_bytes_total",
        "counter",
        "Payload bytes received from clients.",
        stats.in_bytes,
    );
    e.one(
        "nats_core_out_bytes_total",
        "counter",
        "Payload bytes delivered to clients.",
        stats.out_bytes,
    );
    e.one(
        "nats_core_slow_consumers_total",
        "counter",
        "Clients disconnected as slow consumers.",
        stats.slow_consumers,
    );
    e.one(
        "nats_core_stalled_clients_total",
        "counter",
        "Times a client publisher waited for a receiver that was behind.",
        stats.stalled_clients,
    );
    e.one(
        "nats_core_stale_connections_total",
        "counter",
        "Clients disconnected for not answering pings.",
        stats.stale_connections,
    );
    e.one(
        "nats_core_mem_bytes",
        "gauge",
        "Resident memory of the server process.",
        mem,
    );
    e.one(
        "nats_core_cpu_percent",
        "gauge",
        "CPU use of the server process, in percent of one core.",
        float(cpu),
    );
    e.one(
        "nats_core_start_time_seconds",
        "gauge",
        "When the server started, in seconds since the Unix epoch.",
        float(start),
    );
    e.one(
        "nats_core_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        float(uptime),
    );
    e.one(
        "nats_core_max_connections",
        "gauge",
        "Configured connection limit.",
        cfg.max_connections,
    );
    e.one(
        "nats_core_max_payload_bytes",
        "gauge",
        "Configured largest message payload.",
        cfg.max_payload,
    );
    // Declared even without JetStream, so queries and alerts on them are
    // valid; samples once streams and consumers exist.
    e.family(
        "nats_jetstream_stream_messages",
        "gauge",
        "Messages stored in a JetStream stream (label stream_name).",
    );
    let streams = shared
        .jetstream()
        .map(|js| js.stream_list())
        .unwrap_or_default();
    for s in &streams {
        let labels = format!("stream_name=\"{}\"", label(&s.name));
        e.sample(
            "nats_jetstream_stream_messages",
            &labels,
            s.store.state().messages,
        );
    }
    e.family(
        "nats_jetstream_consumer_num_pending",
        "gauge",
        "Messages a JetStream consumer has yet to receive (labels stream_name, consumer_name).",
    );
    for s in &streams {
        for c in s.consumers.read().values() {
            let labels = format!(
                "stream_name=\"{}\",consumer_name=\"{}\"",
                label(&s.name),
                label(&c.name)
            );
            e.sample(
                "nats_jetstream_consumer_num_pending",
                &labels,
                c.snapshot.load().num_pending,
            );
        }
    }

    // prometheus-nats-exporter's names for the same numbers.
    let id = format!("server_id=\"{}\"", label(&shared.server_id));
    let varz: [(&str, &str, String); 12] = [
        (
            "connections",
            "Current client connections.",
            stats.connections.to_string(),
        ),
        (
            "total_connections",
            "Client connections since start.",
            stats.total_connections.to_string(),
        ),
        (
            "subscriptions",
            "Current subscriptions.",
            stats.subscriptions.to_string(),
        ),
        (
            "slow_consumers",
            "Slow consumers since start.",
            stats.slow_consumers.to_string(),
        ),
        ("in_msgs", "Messages received.", stats.in_msgs.to_string()),
        ("out_msgs", "Messages sent.", stats.out_msgs.to_string()),
        ("in_bytes", "Bytes received.", stats.in_bytes.to_string()),
        ("out_bytes", "Bytes sent.", stats.out_bytes.to_string()),
        ("mem", "Resident memory in bytes.", mem.to_string()),
        ("cpu", "CPU use in percent.", float(cpu)),
        (
            "max_connections",
            "Connection limit.",
            cfg.max_connections.to_string(),
        ),
        (
            "max_payload",
            "Largest payload.",
            cfg.max_payload.to_string(),
        ),
    ];
    for (field, help, value) in varz {
        let name = format!("gnatsd_varz_{field}");
        e.family(&name, "gauge", help);
        e.sample(&name, &id, value);
    }
    e.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(float(1.5), "1.5");
        assert_eq!(float(f64::NAN), "NaN");
    }
}
