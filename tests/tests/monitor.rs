//! HTTP monitoring, compared with nats-server: every endpoint's JSON has
//! the same field names and types after the same workload, the values that
//! must agree do, `/connz` pages and sorts alike, bad query parameters get
//! the same errors, `/healthz` honours its options, and the endpoints stay
//! fast while a publisher blasts messages.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use common::monitoring::{same_shapes, workload, Monitored};
use common::{each_target_blocking, raw, sync};
use serde_json::{json, Value};
use tern_tests::{http_get, http_request, Kind, RawClient};

/// Keys one side may have alone: nats-server's build and feature details,
/// and Tern's own version.
const ALLOWED: &[&str] = &[
    "git_commit",
    "feature_flags",
    "system_account",
    "tern_version",
];
/// Free-form maps whose keys are not compared.
const MAPS: &[&str] = &["http_req_stats", "outbound_gateways", "inbound_gateways"];

/// The endpoints compared after the workload.
const PATHS: &[&str] = &[
    "/varz",
    "/connz",
    "/connz?subs=1",
    "/connz?subs=detail",
    "/connz?auth=1",
    "/connz?state=closed&subs=detail",
    "/connz?state=all",
    "/subsz",
    "/subsz?subs=1",
    "/subsz?subs=1&test=bar.x",
    "/subscriptionsz",
    "/routez",
    "/leafz",
    "/gatewayz",
    "/accountz",
    "/accountz?acc=%24G",
    "/accstatz",
    "/jsz",
    "/jsz?accounts=1",
    "/healthz",
];

fn num(v: &Value, key: &str) -> Result<u64> {
    v[key]
        .as_u64()
        .with_context(|| format!("{key} is not a number in {v:#}"))
}

fn names(connz: &Value) -> Vec<String> {
    connz["connections"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| c["name"].as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn conn<'v>(connz: &'v Value, name: &str) -> Result<&'v Value> {
    connz["connections"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .with_context(|| format!("no connection named {name} in {connz:#}"))
}

/// What the broker had seen before the workload: the harness's readiness
/// probes are connections too (and show up among the closed ones a little
/// later, so closed connections are found by name).
struct Baseline {
    total_connections: u64,
}

fn baseline(m: &Monitored) -> Result<Baseline> {
    m.wait_for("/varz", |v| v["connections"] == 0)?;
    Ok(Baseline {
        total_connections: num(&m.json("/varz")?, "total_connections")?,
    })
}

/// Whether the `/connz` document lists every one of `wanted` by name.
fn lists(connz: &Value, wanted: &[&str]) -> bool {
    let have = names(connz);
    wanted.iter().all(|w| have.iter().any(|h| h == w))
}

/// After the workload: check the values both brokers must report.
fn check_values(m: &Monitored, base: &Baseline) -> Result<()> {
    let varz = m.json("/varz")?;
    for (key, want) in [
        ("connections", 2),
        ("total_connections", base.total_connections + 3),
        ("in_msgs", 4),
        ("in_bytes", 11),
        ("out_msgs", 4),
        ("out_bytes", 11),
        ("in_client_msgs", 4),
        ("out_client_msgs", 4),
        ("subscriptions", 3),
        ("slow_consumers", 0),
        ("routes", 0),
        ("leafnodes", 0),
        ("max_payload", 1024 * 1024),
    ] {
        ensure!(
            num(&varz, key)? == want,
            "varz {key}: {} != {want}",
            varz[key]
        );
    }
    ensure!(num(&varz, "port")? == u64::from(m.broker.port), "varz port");
    ensure!(
        num(&varz, "http_port")? == u64::from(m.http),
        "varz http_port"
    );
    ensure!(
        varz["http_host"] == "127.0.0.1",
        "varz http_host {}",
        varz["http_host"]
    );

    let connz = m.json("/connz?subs=1")?;
    ensure!(num(&connz, "num_connections")? == 2 && num(&connz, "total")? == 2);
    ensure!(
        names(&connz) == ["sub-a", "pub-b"],
        "order {:?}",
        names(&connz)
    );
    let a = conn(&connz, "sub-a")?;
    ensure!(
        (
            num(a, "subscriptions")?,
            num(a, "out_msgs")?,
            num(a, "out_bytes")?,
            num(a, "in_msgs")?
        ) == (3, 4, 11, 0),
        "sub-a: {a:#}"
    );
    let subs: BTreeSet<&str> = a["subscriptions_list"]
        .as_array()
        .context("subscriptions_list")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    ensure!(subs == BTreeSet::from(["foo", "bar.*", "baz"]), "{subs:?}");
    ensure!(a["lang"] == "raw" && a["version"] == "1.0" && a["kind"] == "Client");
    let b = conn(&connz, "pub-b")?;
    ensure!(
        (num(b, "in_msgs")?, num(b, "in_bytes")?) == (3, 10),
        "pub-b: {b:#}"
    );
    ensure!(b.get("subscriptions_list").is_none(), "pub-b lists no subs");
    // Only `baz` has an auto-unsubscribe limit (UNSUB 3 5); the others
    // have no `max` at all.
    let detail = m.json("/connz?subs=detail")?;
    let maxes: BTreeSet<(String, Option<u64>)> = conn(&detail, "sub-a")?
        ["subscriptions_list_detail"]
        .as_array()
        .context("subscriptions_list_detail")?
        .iter()
        .map(|s| {
            (
                s["subject"].as_str().unwrap_or_default().to_string(),
                s.get("max").map(|m| m.as_u64().unwrap_or(99)),
            )
        })
        .collect();
    ensure!(
        maxes
            == BTreeSet::from([
                ("foo".to_string(), None),
                ("bar.*".to_string(), None),
                ("baz".to_string(), Some(5)),
            ]),
        "max in /connz?subs=detail: {maxes:?}"
    );

    let closed = m.json("/connz?state=closed&subs=detail")?;
    ensure!(lists(&closed, &["closer"]), "closed: {closed:#}");
    let c = conn(&closed, "closer")?;
    ensure!(
        c["reason"] == "Client Closed" && c["stop"].is_string(),
        "{c:#}"
    );
    ensure!((num(c, "in_msgs")?, num(c, "in_bytes")?) == (1, 1));
    let detail = &c["subscriptions_list_detail"][0];
    ensure!(
        detail["subject"] == "x" && detail["sid"] == "9" && detail["account"] == "$G",
        "{detail:#}"
    );
    let all = m.json("/connz?state=all")?;
    ensure!(
        lists(&all, &["sub-a", "pub-b", "closer"]) && num(&all, "total")? >= 3,
        "{all:#}"
    );

    let subsz = m.json("/subsz?subs=1")?;
    for (key, want) in [
        ("num_subscriptions", 3),
        ("total", 3),
        ("num_inserts", 4),
        ("num_removes", 1),
    ] {
        ensure!(num(&subsz, key)? == want, "subsz {key}: {subsz:#}");
    }
    type SubRow = (String, String, String, u64, u64);
    let got: BTreeSet<SubRow> = subsz["subscriptions_list"]
        .as_array()
        .context("subscriptions_list")?
        .iter()
        .map(|s| {
            (
                s["subject"].as_str().unwrap_or_default().to_string(),
                s["qgroup"].as_str().unwrap_or_default().to_string(),
                s["sid"].as_str().unwrap_or_default().to_string(),
                s["msgs"].as_u64().unwrap_or(99),
                s.get("max").map_or(0, |m| m.as_u64().unwrap_or(99)),
            )
        })
        .collect();
    let want: BTreeSet<SubRow> = [
        ("foo", "", "1", 3, 0),
        ("bar.*", "q1", "2", 1, 0),
        ("baz", "", "3", 0, 5),
    ]
    .into_iter()
    .map(|(a, b, c, d, e)| (a.into(), b.into(), c.into(), d, e))
    .collect();
    ensure!(got == want, "subsz list {got:?}");
    let tested = m.json("/subsz?subs=1&test=bar.x")?;
    ensure!(num(&tested, "total")? == 1 && tested["subscriptions_list"][0]["subject"] == "bar.*");
    ensure!(
        num(&m.json("/subsz")?, "total")? == 0,
        "subsz without subs=1 lists none"
    );

    ensure!(m.json("/accountz")?["accounts"] == json!(["$G"]));
    let acc = m.json("/accountz?acc=%24G")?;
    let detail = &acc["account_detail"];
    ensure!(
        num(detail, "client_connections")? == 2 && num(detail, "subscriptions")? == 3,
        "{acc:#}"
    );
    let statz = m.json("/accstatz")?;
    ensure!(num(&statz["account_statz"][0], "conns")? == 2, "{statz:#}");
    let routez = m.json("/routez")?;
    ensure!(num(&routez, "num_routes")? == 0 && routez["routes"] == json!([]));
    let leafz = m.json("/leafz")?;
    ensure!(num(&leafz, "leafnodes")? == 0 && leafz["leafs"] == json!([]));
    let gw = m.json("/gatewayz")?;
    ensure!(gw["outbound_gateways"] == json!({}) && gw["inbound_gateways"] == json!({}));
    let jsz = m.json("/jsz")?;
    ensure!(
        jsz["disabled"] == true && num(&jsz, "streams")? == 0,
        "{jsz:#}"
    );
    ensure!(m.json("/healthz")? == json!({"status": "ok"}));
    Ok(())
}

/// Run the workload on `kind` and return every compared document.
fn documents(kind: Kind) -> Result<Vec<(String, Value)>> {
    let m = Monitored::start(kind)?;
    let base = baseline(&m)?;
    let (_a, _b) = workload(&m.broker.addr())?;
    m.wait_for("/connz?state=closed", |v| lists(v, &["closer"]))?;
    check_values(&m, &base).with_context(|| format!("[{}] values", kind.name()))?;
    PATHS
        .iter()
        .map(|p| Ok((p.to_string(), m.json(p)?)))
        .collect()
}

#[test]
fn every_endpoint_reports_the_workload() {
    each_target_blocking(|kind| documents(kind).map(|_| ()));
}

#[test]
fn every_endpoint_has_nats_servers_fields_and_types() -> Result<()> {
    let targets = Kind::targets();
    if !(targets.contains(&Kind::Tern) && targets.contains(&Kind::NatsServer)) {
        eprintln!("skipped: needs both tern and nats-server");
        return Ok(());
    }
    let ours = documents(Kind::Tern)?;
    let theirs = documents(Kind::NatsServer)?;
    same_shapes(&ours, &theirs, ALLOWED, MAPS)
}

/// `subject -> (msgs, max)` of one connection's `/connz?subs=detail` list
/// (`max` 0 when the field is absent, as nats-server omits it).
fn sub_maxes(connz: &Value, name: &str) -> Result<Vec<(String, u64, u64)>> {
    let mut rows: Vec<(String, u64, u64)> = conn(connz, name)?["subscriptions_list_detail"]
        .as_array()
        .context("subscriptions_list_detail")?
        .iter()
        .map(|s| {
            (
                s["subject"].as_str().unwrap_or_default().to_string(),
                s["msgs"].as_u64().unwrap_or(99),
                s.get("max").map_or(0, |m| m.as_u64().unwrap_or(99)),
            )
        })
        .collect();
    rows.sort();
    Ok(rows)
}

fn row(subject: &str, msgs: u64, max: u64) -> (String, u64, u64) {
    (subject.to_string(), msgs, max)
}

/// The auto-unsubscribe limit in `/connz?subs=detail` follows UNSUB: set,
/// lowered (with messages already counted against it), reached (the
/// subscription goes), and dropped from closed connections' lists, as
/// nats-server clears it when a connection closes.
fn auto_unsubscribe_max(kind: Kind) -> Result<()> {
    let m = Monitored::start(kind)?;
    let addr = m.broker.addr();
    let json = r#"{"verbose":false,"pedantic":false,"name":"limited","lang":"raw"}"#;
    let mut sub = raw(&addr, json)?;
    sub.send(b"SUB m 1\r\nUNSUB 1 3\r\nSUB n 2\r\nUNSUB 2 1\r\nSUB o 3\r\n")?;
    sync(&mut sub)?;
    let mut publisher = raw(&addr, r#"{"verbose":false,"pedantic":false,"name":"pub"}"#)?;
    publisher.send(b"PUB m 2\r\nm1\r\n")?;
    sync(&mut publisher)?;
    sub.read_until_suffix(b"m1\r\n", Duration::from_secs(5))?;
    let rows = sub_maxes(&m.json("/connz?subs=detail")?, "limited")?;
    ensure!(
        rows == [row("m", 1, 3), row("n", 0, 1), row("o", 0, 0)],
        "after UNSUB 1 3, UNSUB 2 1 and one message on m: {rows:?}"
    );
    // A new limit replaces the old one; one at or below the count so far
    // removes the subscription at once.
    sub.send(b"UNSUB 1 2\r\n")?;
    sync(&mut sub)?;
    let rows = sub_maxes(&m.json("/connz?subs=detail")?, "limited")?;
    ensure!(
        rows == [row("m", 1, 2), row("n", 0, 1), row("o", 0, 0)],
        "after UNSUB 1 2: {rows:?}"
    );
    sub.send(b"UNSUB 1 1\r\n")?;
    sync(&mut sub)?;
    let rows = sub_maxes(&m.json("/connz?subs=detail")?, "limited")?;
    ensure!(
        rows == [row("n", 0, 1), row("o", 0, 0)],
        "after UNSUB 1 1: {rows:?}"
    );
    drop(sub);
    let closed = m.wait_for("/connz?state=closed&subs=detail", |v| {
        lists(v, &["limited"])
    })?;
    let rows = sub_maxes(&closed, "limited")?;
    ensure!(
        rows == [row("n", 0, 0), row("o", 0, 0)],
        "closed connection's subscriptions: {rows:?}"
    );
    Ok(())
}

#[test]
fn connz_reports_auto_unsubscribe_max_like_nats_server() {
    each_target_blocking(auto_unsubscribe_max);
}

/// Four clients with distinct traffic, created 20 ms apart: client `cN`
/// publishes N messages of N bytes and holds 5-N subscriptions.
fn sorted_workload(addr: &str) -> Result<Vec<RawClient>> {
    let mut clients = Vec::new();
    for n in 1..=4usize {
        let json = format!(r#"{{"verbose":false,"pedantic":false,"name":"c{n}","lang":"raw"}}"#);
        let mut c = raw(addr, &json)?;
        for s in 0..(5 - n) {
            c.send(format!("SUB s{n}.{s} {s}\r\n").as_bytes())?;
        }
        for _ in 0..n {
            c.send(format!("PUB nowhere {n}\r\n{}\r\n", "x".repeat(n)).as_bytes())?;
        }
        sync(&mut c)?;
        clients.push(c);
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(clients)
}

#[test]
fn connz_pages_sorts_and_filters_like_nats_server() {
    each_target_blocking(|kind| {
        let m = Monitored::start(kind)?;
        let clients = sorted_workload(&m.broker.addr())?;
        let order =
            |q: &str| -> Result<Vec<String>> { Ok(names(&m.json(&format!("/connz?{q}"))?)) };
        for (q, want) in [
            ("sort=cid", ["c1", "c2", "c3", "c4"]),
            ("sort=start", ["c1", "c2", "c3", "c4"]),
            ("sort=msgs_from", ["c4", "c3", "c2", "c1"]),
            ("sort=bytes_from", ["c4", "c3", "c2", "c1"]),
            ("sort=subs", ["c1", "c2", "c3", "c4"]),
            ("sort=last", ["c4", "c3", "c2", "c1"]),
            ("sort=idle", ["c1", "c2", "c3", "c4"]),
            ("sort=uptime", ["c4", "c3", "c2", "c1"]),
        ] {
            ensure!(order(q)? == want, "{q}: {:?}", order(q)?);
        }
        let page = m.json("/connz?sort=cid&offset=1&limit=2")?;
        ensure!(names(&page) == ["c2", "c3"], "page {:?}", names(&page));
        ensure!(
            (
                num(&page, "offset")?,
                num(&page, "limit")?,
                num(&page, "total")?,
                num(&page, "num_connections")?
            ) == (1, 2, 4, 2),
            "{page:#}"
        );
        let past = m.json("/connz?offset=10")?;
        ensure!(past["connections"] == json!([]) && num(&past, "total")? == 4);
        let defaults = m.json("/connz?offset=-3&limit=0")?;
        ensure!((num(&defaults, "offset")?, num(&defaults, "limit")?) == (0, 1024));
        let all = m.json("/connz")?;
        let c3 = num(conn(&all, "c3")?, "cid")?;
        let one = m.json(&format!("/connz?cid={c3}"))?;
        ensure!(names(&one) == ["c3"] && num(&one, "limit")? == 1, "{one:#}");

        // Close c1 then c2: the most recent stop sorts first.
        let mut clients = clients.into_iter();
        drop(clients.next());
        std::thread::sleep(Duration::from_millis(20));
        drop(clients.next());
        m.wait_for("/connz?state=closed", |v| lists(v, &["c1", "c2"]))?;
        // The harness's unnamed readiness probes closed too (before c1).
        let named = |q: &str| -> Result<Vec<String>> {
            Ok(order(q)?.into_iter().filter(|n| n != "?").collect())
        };
        ensure!(
            named("state=closed&sort=stop")? == ["c2", "c1"],
            "{:?}",
            order("state=closed&sort=stop")
        );
        ensure!(named("state=all&sort=cid")? == ["c1", "c2", "c3", "c4"]);
        let rest: Vec<RawClient> = clients.collect();
        ensure!(rest.len() == 2);
        Ok(())
    });
}

/// nats-server's status and text for bad parameters.
const BAD: &[(&str, u16, &str)] = &[
    ("/connz?sort=foo", 400, "invalid sorting option: foo"),
    ("/connz?limit=abc", 400, "Error decoding int for 'limit': strconv.Atoi: parsing \"abc\": invalid syntax"),
    ("/connz?offset=1.5", 400, "Error decoding int for 'offset': strconv.Atoi: parsing \"1.5\": invalid syntax"),
    ("/connz?state=bogus", 400, "Error decoding state for bogus"),
    ("/connz?subs=2", 400, "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"2\": invalid syntax"),
    ("/connz?auth=xx", 400, "Error decoding boolean for 'auth': strconv.ParseBool: parsing \"xx\": invalid syntax"),
    ("/connz?cid=abc", 400, "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"abc\": invalid syntax"),
    ("/connz?cid=-1", 400, "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"-1\": invalid syntax"),
    ("/connz?sort=stop", 400, "sort by stop only valid on closed connections"),
    ("/connz?sort=reason&state=all", 400, "sort by reason only valid on closed connections"),
    ("/subsz?test=foo.*", 400, "invalid test subject, must be valid publish subject: foo.*"),
    ("/subsz?subs=yes", 400, "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"yes\": invalid syntax"),
    ("/subsz?limit=x", 400, "Error decoding int for 'limit': strconv.Atoi: parsing \"x\": invalid syntax"),
    ("/accountz?acc=nope", 400, "Account nope does not exist"),
    ("/jsz?leader-only=true", 400, "filtered response: not leader"),
    ("/jsz?accounts=x", 400, "Error decoding boolean for 'accounts': strconv.ParseBool: parsing \"x\": invalid syntax"),
    ("/healthz?js-server-only=maybe", 400, "Error decoding boolean for 'js-server-only': strconv.ParseBool: parsing \"maybe\": invalid syntax"),
    ("/leafz?subs=x", 400, "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"x\": invalid syntax"),
    ("/routez?subs=x", 400, "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"x\": invalid syntax"),
    ("/gatewayz?accs=x", 400, "Error decoding boolean for 'accs': strconv.ParseBool: parsing \"x\": invalid syntax"),
    ("/accstatz?unused=x", 400, "Error decoding boolean for 'unused': strconv.ParseBool: parsing \"x\": invalid syntax"),
    ("/nope", 404, "404 page not found\n"),
    ("/varz/extra", 404, "404 page not found\n"),
];

#[test]
fn bad_query_parameters_get_nats_servers_errors() {
    each_target_blocking(|kind| {
        let m = Monitored::start(kind)?;
        for (path, status, text) in BAD {
            let r = http_get(m.http, path)?;
            ensure!(
                (r.status, r.body.as_str()) == (*status, *text),
                "GET {path}: {} {:?}, want {status} {text:?}",
                r.status,
                r.body
            );
            ensure!(
                r.header("content-type") == Some("text/plain; charset=utf-8"),
                "GET {path}: content type {:?}",
                r.header("content-type")
            );
        }
        // Requests that are not HTTP get 400 and a closed connection.
        for bad in ["GARBAGE\r\n\r\n", "GET /varz HTTP/1.1\r\nNo colon\r\n\r\n"] {
            let r = http_request(m.http, bad)?;
            ensure!(r.status == 400, "{bad:?}: status {}", r.status);
        }
        let r = http_request(m.http, "GET /varz HTTP/9.9\r\n\r\n")?;
        ensure!(r.status == 505, "HTTP/9.9: status {}", r.status);
        // The server is still fine.
        ensure!(m.json("/healthz")? == json!({"status": "ok"}));
        Ok(())
    });
}

#[test]
fn healthz_options_answer_like_nats_server() {
    each_target_blocking(|kind| {
        let m = Monitored::start(kind)?;
        for path in [
            "/healthz",
            "/healthz?js-enabled-only=true",
            "/healthz?js-server-only=1",
            "/healthz?js-enabled=true",
            "/healthz?account=%24G",
        ] {
            let r = http_get(m.http, path)?;
            ensure!(
                r.status == 200 && r.body == r#"{"status":"ok"}"#,
                "{path}: {} {:?}",
                r.status,
                r.body
            );
            ensure!(r.header("content-type") == Some("application/json"));
        }
        for (path, body) in [
            (
                "/healthz?stream=s",
                r#"{"status":"error","error":"\"account\" must not be empty when checking stream health"}"#,
            ),
            (
                "/healthz?stream=s&details=true",
                r#"{"status":"error","errors":[{"type":"BAD_REQUEST","error":"\"account\" must not be empty when checking stream health"}]}"#,
            ),
            (
                "/healthz?account=a&consumer=c",
                r#"{"status":"error","error":"\"stream\" must not be empty when checking consumer health"}"#,
            ),
        ] {
            let r = http_get(m.http, path)?;
            ensure!(
                (r.status, r.body.as_str()) == (400, body),
                "{path}: {} {:?}",
                r.status,
                r.body
            );
        }
        Ok(())
    });
}

#[test]
fn json_responses_carry_nats_servers_headers() {
    each_target_blocking(|kind| {
        let m = Monitored::start(kind)?;
        let r = http_get(m.http, "/varz")?;
        ensure!(r.header("content-type") == Some("application/json"));
        ensure!(r.header("access-control-allow-origin") == Some("*"));
        let len: usize = r
            .header("content-length")
            .context("content-length")?
            .parse()?;
        ensure!(len == r.body.len());
        let index = http_get(m.http, "/")?;
        ensure!(index.status == 200 && index.body.contains("varz"));
        ensure!(index.header("content-type") == Some("text/html; charset=utf-8"));
        Ok(())
    });
}

/// GET `path` and time it.
fn timed_get(port: u16, path: &str) -> Result<Duration> {
    let t = Instant::now();
    let r = http_get(port, path).with_context(|| format!("GET {path} after {:?}", t.elapsed()))?;
    ensure!(r.status == 200, "{path}: {}", r.status);
    Ok(t.elapsed())
}

#[test]
fn endpoints_answer_within_50ms_under_a_publishing_blast() {
    each_target_blocking(|kind| {
        let m = Monitored::start(kind)?;
        let addr = m.broker.addr();
        let stop = Arc::new(AtomicBool::new(false));
        // A subscriber that drains everything, and a publisher that sends
        // as fast as the socket takes it; both stop on `stop` or after 20 s.
        let mut sub = raw(&addr, common::CONNECT_PLAIN).context("connect the subscriber")?;
        sub.send(b"SUB blast 1\r\n")?;
        sync(&mut sub)?;
        let sink = {
            let stop = stop.clone();
            let mut s = sub.stream.try_clone()?;
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 256 * 1024];
                let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                let end = Instant::now() + Duration::from_secs(20);
                while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                    if let Ok(0) = s.read(&mut buf) {
                        break;
                    }
                }
            })
        };
        let publisher = {
            let stop = stop.clone();
            let mut p = TcpStream::connect(&addr).context("connect the publisher")?;
            std::thread::spawn(move || -> Result<u64> {
                let mut line = String::new();
                let mut r = std::io::BufReader::new(p.try_clone()?);
                std::io::BufRead::read_line(&mut r, &mut line)?;
                p.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")?;
                let batch = "PUB blast 16\r\n0123456789abcdef\r\n".repeat(512);
                let end = Instant::now() + Duration::from_secs(20);
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                    p.write_all(batch.as_bytes())?;
                    sent += 512;
                }
                Ok(sent)
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        let mut paths = vec![
            "/varz",
            "/connz",
            "/subsz?subs=1",
            "/healthz",
            "/connz?subs=1&sort=msgs_to",
        ];
        if kind == Kind::Tern {
            paths.push("/metrics");
        }
        let mut report = Vec::new();
        let mut slow = 0;
        let mut total = 0;
        for _ in 0..10 {
            for path in &paths {
                let took = timed_get(m.http, path)?;
                total += 1;
                if took > Duration::from_millis(50) {
                    slow += 1;
                    report.push(format!("{path} {took:?}"));
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        let sent = publisher
            .join()
            .map_err(|_| anyhow::anyhow!("publisher panicked"))??;
        let _ = sink.join();
        ensure!(sent > 10_000, "the publisher only sent {sent} messages");
        // A loaded two-core machine may stall any one request; nearly all
        // must be fast.
        ensure!(
            slow * 10 <= total,
            "{slow} of {total} requests took over 50 ms: {report:?}"
        );
        if !report.is_empty() {
            eprintln!("[{}] slow requests: {report:?}", kind.name());
        }
        Ok(())
    });
}

#[test]
fn keep_alive_and_head_requests() -> Result<()> {
    if !Kind::targets().contains(&Kind::Tern) {
        return Ok(());
    }
    let m = Monitored::start(Kind::Tern)?;
    let mut s = TcpStream::connect(("127.0.0.1", m.http))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    // Two pipelined requests on one connection, the second closing it.
    s.write_all(
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /varz HTTP/1.1\r\nConnection: close\r\n\r\n",
    )?;
    let mut all = String::new();
    s.read_to_string(&mut all)?;
    ensure!(all.matches("HTTP/1.1 200 OK").count() == 2, "{all}");
    ensure!(all.contains(r#"{"status":"ok"}"#));
    ensure!(
        all.trim_end().ends_with("Connection: close"),
        "HEAD has no body: {all}"
    );
    if all.contains("\"server_id\"") {
        bail!("HEAD returned a body: {all}");
    }
    Ok(())
}
