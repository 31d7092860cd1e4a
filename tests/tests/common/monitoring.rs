//! Helpers for the monitoring tests: brokers started with an HTTP monitor,
//! a known client workload, and field-by-field comparison of JSON shapes.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use tern_tests::{free_port, http_get, Broker, BrokerOptions, Kind, RawClient};

use super::{raw, sync, WAIT};

/// nats-server's system account adds its own subscriptions and account;
/// without it both brokers start from the same empty state.
pub const NO_SYSTEM_ACCOUNT: &str = "no_system_account: true\n";

/// A broker with monitoring on a free port.
pub struct Monitored {
    pub broker: Broker,
    pub http: u16,
}

impl Monitored {
    pub fn start(kind: Kind) -> Result<Monitored> {
        Monitored::start_with(kind, &[])
    }

    pub fn start_with(kind: Kind, extra: &[&str]) -> Result<Monitored> {
        let http = free_port();
        let mut args = vec!["-m".to_string(), http.to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let broker = Broker::start_with(
            kind,
            BrokerOptions {
                config: Some(NO_SYSTEM_ACCOUNT.to_string()),
                args,
                ..Default::default()
            },
        )
        .with_context(|| format!("start {} with -m {http}", kind.name()))?;
        Ok(Monitored { broker, http })
    }

    /// GET `path`, requiring status 200 and a JSON body.
    pub fn json(&self, path: &str) -> Result<Value> {
        let r = http_get(self.http, path)?;
        if r.status != 200 {
            bail!("GET {path}: status {} body {:?}", r.status, r.body);
        }
        r.json().with_context(|| format!("GET {path}"))
    }

    /// Poll `path` until `done` holds for its JSON (or fail after WAIT).
    pub fn wait_for(&self, path: &str, done: impl Fn(&Value) -> bool) -> Result<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.json(path)?;
            if done(&v) {
                return Ok(v);
            }
            if Instant::now() > deadline {
                bail!("GET {path}: condition not met within {WAIT:?}; last: {v:#}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn connect_json(name: &str) -> String {
    format!(r#"{{"verbose":false,"pedantic":false,"name":"{name}","lang":"raw","version":"1.0"}}"#)
}

/// The known workload: `sub-a` subscribes to `foo`, `bar.*` (queue `q1`)
/// and `baz` (auto-unsubscribe after 5); `pub-b` publishes 3 messages
/// (10 payload bytes) that `sub-a` receives; `closer` subscribes to `x`,
/// publishes one byte to `foo` and disconnects. Returns the two clients
/// that stay open. Afterwards: 2 open connections, 3 in total, 4 messages
/// and 11 bytes in and out, 3 subscriptions.
pub fn workload(addr: &str) -> Result<(RawClient, RawClient)> {
    let mut a = raw(addr, &connect_json("sub-a"))?;
    a.send(b"SUB foo 1\r\nSUB bar.* q1 2\r\nSUB baz 3\r\nUNSUB 3 5\r\n")?;
    sync(&mut a)?;
    let mut b = raw(addr, &connect_json("pub-b"))?;
    b.send(b"PUB foo 5\r\nhello\r\nPUB foo 3\r\nabc\r\nPUB bar.x 2\r\nhi\r\n")?;
    sync(&mut b)?;
    let mut c = raw(addr, &connect_json("closer"))?;
    c.send(b"SUB x 9\r\nPUB foo 1\r\nz\r\n")?;
    sync(&mut c)?;
    drop(c);
    // sub-a has received all four.
    let got = a.read_until_suffix(b"z\r\n", WAIT)?;
    let text = String::from_utf8_lossy(&got);
    if text.matches("MSG ").count() != 4 {
        bail!("sub-a expected 4 messages, got {text:?}");
    }
    Ok((a, b))
}

/// JSON type name, with every number one type.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// [`shape_diff`] over two lists of named documents taken in the same
/// order (Tern's, then nats-server's): fails listing every difference,
/// each prefixed by its document's name.
#[allow(dead_code)]
pub fn same_shapes<N: std::fmt::Display>(
    ours: &[(N, Value)],
    theirs: &[(N, Value)],
    allowed: &[&str],
    maps: &[&str],
) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for ((name, a), (_, b)) in ours.iter().zip(theirs.iter()) {
        for d in shape_diff(a, b, allowed, maps) {
            problems.push(format!("{name}: {d}"));
        }
    }
    anyhow::ensure!(
        problems.is_empty(),
        "shape differences:\n{}",
        problems.join("\n")
    );
    Ok(())
}

/// Differences in field names and JSON types between `ours` (Tern) and
/// `theirs` (nats-server), recursively. Keys in `allowed` may be present
/// on one side only; objects under keys in `maps` are free-form maps whose
/// keys are not compared. Array elements are compared pairwise.
pub fn shape_diff(ours: &Value, theirs: &Value, allowed: &[&str], maps: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    diff_at("", ours, theirs, allowed, maps, &mut out);
    out
}

fn diff_at(
    path: &str,
    ours: &Value,
    theirs: &Value,
    allowed: &[&str],
    maps: &[&str],
    out: &mut Vec<String>,
) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let leaf = path.rsplit('.').next().unwrap_or(path);
            if maps.contains(&leaf) {
                return;
            }
            let ka: BTreeSet<&String> = a.keys().collect();
            let kb: BTreeSet<&String> = b.keys().collect();
            for k in kb.difference(&ka) {
                if !allowed.contains(&k.as_str()) {
                    out.push(format!("missing {path}.{k}"));
                }
            }
            for k in ka.difference(&kb) {
                if !allowed.contains(&k.as_str()) {
                    out.push(format!("extra {path}.{k}"));
                }
            }
            for k in ka.intersection(&kb) {
                diff_at(&format!("{path}.{k}"), &a[*k], &b[*k], allowed, maps, out);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            // Lists of connections or subscriptions may come in another
            // order: pair elements by name or subject when they have one.
            for (i, x) in a.iter().enumerate() {
                let key = ["name", "subject"]
                    .into_iter()
                    .find_map(|k| x.get(k).map(|v| (k, v)));
                let y = match key {
                    Some((k, v)) => b.iter().find(|y| y.get(k) == Some(v)),
                    None => b.get(i),
                };
                if let Some(y) = y {
                    diff_at(&format!("{path}[{i}]"), x, y, allowed, maps, out);
                }
            }
        }
        (a, b) if kind_of(a) != kind_of(b) => out.push(format!(
            "type of {path}: tern {} vs nats-server {}",
            kind_of(a),
            kind_of(b)
        )),
        _ => {}
    }
}
