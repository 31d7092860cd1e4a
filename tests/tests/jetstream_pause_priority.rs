//! Consumer pause and priority groups (nats-server 2.11/2.12, ADR-42), on
//! Tern and nats-server through the raw `$JS.API` (async-nats has no
//! typed API for all of it): pause by API and by config, nothing delivered
//! while paused, automatic resume, past times, info fields, a pause kept
//! across a restart; priority policies `overflow` (min_pending,
//! min_ack_pending), `pinned_client` (pin id header, 423s, unpin, pin
//! timeout) and `prioritized`; the validation errors.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Result};
use async_nats::jetstream;
use async_nats::Client;
use bytes::Bytes;
use common::jetstream::*;
use common::{connect, each_target, WAIT};
use futures::StreamExt;
use serde_json::Value;

const FAR: &str = "2099-01-01T00:00:00Z";
const ZERO: &str = "0001-01-01T00:00:00Z";
/// Long enough for a status that must come to arrive under load.
const PATIENCE: Duration = Duration::from_secs(10);

/// `t` in RFC 3339 (UTC, milliseconds, rounded down).
fn rfc3339(t: SystemTime) -> String {
    let t = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, ms) = (t.as_secs() as i64, t.subsec_millis());
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Trailing zeros of the fraction go, as Go writes times.
    let frac = format!(".{ms:03}");
    let frac = frac.trim_end_matches('0').trim_end_matches('.');
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}{frac}Z")
}

async fn api(client: &Client, subject: &str, body: &str) -> Result<Value> {
    request(client, &format!("$JS.API.{subject}"), body).await
}

async fn info(client: &Client, name: &str) -> Result<Value> {
    let v = api(client, &format!("CONSUMER.INFO.ORDERS.{name}"), "").await?;
    ensure!(err_code(&v) == 0, "info {name}: {v}");
    Ok(v)
}

async fn pause(client: &Client, name: &str, body: &str) -> Result<Value> {
    api(client, &format!("CONSUMER.PAUSE.ORDERS.{name}"), body).await
}

/// The answers to one pull request: up to `want` messages, or fewer and
/// the status that ended it (each awaited for [`PATIENCE`] at most).
async fn pull(
    client: &Client,
    name: &str,
    body: &str,
    want: usize,
) -> Result<Vec<async_nats::Message>> {
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await?;
    let subject = format!("$JS.API.CONSUMER.MSG.NEXT.ORDERS.{name}");
    client
        .publish_with_reply(subject, inbox, Bytes::from(body.to_string()))
        .await?;
    let (mut out, mut data) = (Vec::new(), 0);
    while let Ok(Some(m)) = tokio::time::timeout(PATIENCE, sub.next()).await {
        let status = m.status.is_some();
        data += usize::from(!status);
        out.push(m);
        if status || data == want {
            break;
        }
    }
    Ok(out)
}

/// Waits (bounded) until `done` holds for the consumer's info.
async fn until_info(client: &Client, name: &str, done: impl Fn(&Value) -> bool) -> Result<()> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let i = info(client, name).await?;
        if done(&i) {
            return Ok(());
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting: {i}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn pin_of(m: &async_nats::Message) -> Option<String> {
    m.headers
        .as_ref()
        .and_then(|h| h.get("Nats-Pin-Id"))
        .map(|v| v.as_str().to_string())
}

/// A broker, a client, and stream `ORDERS` with `n` messages.
async fn setup(kind: tern_tests::Kind, n: usize) -> Result<(tern_tests::Broker, Client)> {
    let broker = start_js(kind, "store")?;
    let client = connect(&broker.url()).await?;
    orders(&jetstream::new(client.clone()), n).await?;
    Ok((broker, client))
}

const PULL: &str = r#"{"durable_name":"C","ack_policy":"explicit"}"#;
const NEXT: &str = "$JS.API.CONSUMER.MSG.NEXT.ORDERS.C";

#[tokio::test]
async fn pause_by_api_holds_pull_requests_until_resumed() {
    each_target(|kind| async move {
        let (_broker, client) = setup(kind, 3).await?;
        create_raw(&client, "ORDERS", "C", PULL).await?;
        let r = pause(&client, "C", &format!(r#"{{"pause_until":"{FAR}"}}"#)).await?;
        ensure!(r["type"] == "io.nats.jetstream.api.v1.consumer_pause_response");
        ensure!(r["paused"] == true && r["pause_until"] == FAR, "{r}");
        ensure!(r["pause_remaining"].as_i64().is_some_and(|n| n > 0), "{r}");
        let i = info(&client, "C").await?;
        ensure!(
            i["paused"] == true && i["config"]["pause_until"] == FAR,
            "{i}"
        );
        ensure!(i["pause_remaining"].as_i64().is_some_and(|n| n > 0), "{i}");

        // Nothing while paused: the request waits and expires; a no_wait
        // one ends as at the end of the stream.
        let got = pull(&client, "C", r#"{"batch":1,"expires":300000000}"#, 1).await?;
        ensure!(show(&got) == ["408 Request Timeout"], "{:?}", show(&got));
        let got = pull(&client, "C", r#"{"batch":1,"no_wait":true}"#, 1).await?;
        ensure!(show(&got) == ["404 No Messages"], "{:?}", show(&got));
        // The heartbeats a request asked for go on.
        let inbox = client.new_inbox();
        let mut sub = client.subscribe(inbox.clone()).await?;
        let body =
            Bytes::from_static(br#"{"batch":1,"expires":1000000000,"idle_heartbeat":200000000}"#);
        client.publish_with_reply(NEXT, inbox, body).await?;
        let mut seen = Vec::new();
        while let Ok(Some(m)) = tokio::time::timeout(PATIENCE, sub.next()).await {
            seen.push(status_of(&m));
            if m.status.is_some_and(|s| s.as_u16() == 408) {
                break;
            }
        }
        let beats = seen.iter().filter(|s| *s == "100 Idle Heartbeat").count();
        ensure!(
            beats >= 1 && seen.last().map(String::as_str) == Some("408 Request Timeout"),
            "{seen:?}"
        );

        // A request waiting when the consumer resumes is served.
        let inbox = client.new_inbox();
        let mut sub = client.subscribe(inbox.clone()).await?;
        let body = Bytes::from_static(br#"{"batch":2,"expires":8000000000}"#);
        client.publish_with_reply(NEXT, inbox, body).await?;
        ensure!(collect(&mut sub, 1, common::QUIET).await.is_empty());
        let r = pause(&client, "C", "").await?;
        ensure!(r["paused"] == false && r["pause_until"] == ZERO, "{r}");
        ensure!(r.get("pause_remaining").is_none(), "{r}");
        // nats-server looks at its waiting requests again only on the next
        // event (Tern at once): a new message is one.
        let js = jetstream::new(client.clone());
        js.publish("orders.kick", "m4".into()).await?.await?;
        let got = collect(&mut sub, 2, PATIENCE).await;
        ensure!(show(&got) == ["m1", "m2"], "{:?}", show(&got));
        let i = info(&client, "C").await?;
        ensure!(
            i.get("paused").is_none() && i.get("pause_remaining").is_none(),
            "{i}"
        );
        ensure!(i["config"].get("pause_until").is_none(), "{i}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn pause_ends_by_itself_and_past_times_do_not_pause() {
    each_target(|kind| async move {
        let (_broker, client) = setup(kind, 3).await?;
        create_raw(&client, "ORDERS", "C", PULL).await?;
        let end = SystemTime::now() + Duration::from_millis(1500);
        let until = rfc3339(end);
        let r = pause(&client, "C", &format!(r#"{{"pause_until":"{until}"}}"#)).await?;
        ensure!(r["paused"] == true && r["pause_until"] == *until, "{r}");
        let got = pull(&client, "C", r#"{"batch":1,"expires":9000000000}"#, 1).await?;
        ensure!(show(&got) == ["m1"], "{:?}", show(&got));
        // Not before the pause ended (the text is rounded down to ms).
        let early = end.duration_since(SystemTime::now()).unwrap_or_default();
        ensure!(
            early <= Duration::from_millis(1),
            "delivered {early:?} early"
        );
        let i = info(&client, "C").await?;
        ensure!(i.get("paused").is_none(), "{i}");

        // A time in the past is kept in the config but pauses nothing.
        let past = "2001-02-03T04:05:06Z";
        let r = pause(&client, "C", &format!(r#"{{"pause_until":"{past}"}}"#)).await?;
        ensure!(r["paused"] == false && r["pause_until"] == past, "{r}");
        ensure!(r.get("pause_remaining").is_none(), "{r}");
        let i = info(&client, "C").await?;
        ensure!(
            i["config"]["pause_until"] == past && i.get("paused").is_none(),
            "{i}"
        );
        let got = pull(&client, "C", r#"{"batch":1,"expires":2000000000}"#, 1).await?;
        ensure!(show(&got) == ["m2"], "{:?}", show(&got));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn pause_in_config_survives_updates_and_stops_push_but_not_heartbeats() {
    each_target(|kind| async move {
        let (_broker, client) = setup(kind, 3).await?;
        let cfg = format!(
            r#"{{"durable_name":"P","deliver_subject":"out.p","ack_policy":"explicit","idle_heartbeat":200000000,"pause_until":"{FAR}"}}"#
        );
        let created = create_raw(&client, "ORDERS", "P", &cfg).await?;
        ensure!(created["paused"] == true, "{created}");
        ensure!(created["config"]["pause_until"] == FAR, "{created}");
        // An update through CREATE does not touch the pause.
        let cfg2 = r#"{"durable_name":"P","deliver_subject":"out.p","ack_policy":"explicit","idle_heartbeat":200000000,"description":"x"}"#;
        let updated = create_raw(&client, "ORDERS", "P", cfg2).await?;
        ensure!(updated["config"]["pause_until"] == FAR, "{updated}");
        ensure!(updated["config"]["description"] == "x", "{updated}");

        // A time given with an offset keeps it at create; the pause API
        // stores UTC.
        let local = "2099-01-01T02:00:00.5+02:00";
        let q = format!(r#"{{"durable_name":"Q","pause_until":"{local}"}}"#);
        let created = create_raw(&client, "ORDERS", "Q", &q).await?;
        ensure!(created["config"]["pause_until"] == local, "{created}");
        let r = pause(&client, "Q", &format!(r#"{{"pause_until":"{local}"}}"#)).await?;
        ensure!(r["pause_until"] == "2099-01-01T00:00:00.5Z", "{r}");

        let mut sub = client.subscribe("out.p").await?;
        let seen = collect(&mut sub, 4, Duration::from_secs(2)).await;
        ensure!(
            !seen.is_empty() && show(&seen).iter().all(|s| s == "100 Idle Heartbeat"),
            "{:?}",
            show(&seen)
        );
        pause(&client, "P", r#"{"pause_until":null}"#).await?;
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while got.len() < 3 && tokio::time::Instant::now() < deadline {
            if let Ok(Some(m)) = tokio::time::timeout(WAIT, sub.next()).await {
                if m.status.is_none() {
                    got.push(String::from_utf8_lossy(&m.payload).into_owned());
                }
            }
        }
        ensure!(got == ["m1", "m2", "m3"], "{got:?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn pause_survives_a_restart() {
    each_target(|kind| async move {
        let dir = tempfile::tempdir()?;
        let store = dir.path().to_string_lossy().into_owned();
        {
            let mut broker = start_js(kind, &store)?;
            let client = connect(&broker.url()).await?;
            orders(&jetstream::new(client.clone()), 2).await?;
            create_raw(&client, "ORDERS", "C", PULL).await?;
            let r = pause(&client, "C", &format!(r#"{{"pause_until":"{FAR}"}}"#)).await?;
            ensure!(r["paused"] == true, "{r}");
            broker.signal(libc::SIGTERM)?;
            broker.wait_exit(PATIENCE)?;
        }
        let broker = start_js(kind, &store)?;
        let client = connect(&broker.url()).await?;
        let i = info(&client, "C").await?;
        ensure!(
            i["paused"] == true && i["config"]["pause_until"] == FAR,
            "{i}"
        );
        let got = pull(&client, "C", r#"{"batch":1,"expires":300000000}"#, 1).await?;
        ensure!(show(&got) == ["408 Request Timeout"], "{:?}", show(&got));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn pause_and_unpin_requests_are_checked() {
    each_target(|kind| async move {
        let (_broker, client) = setup(kind, 1).await?;
        create_raw(&client, "ORDERS", "C", PULL).await?;
        let pin = r#"{"durable_name":"G","ack_policy":"explicit","priority_policy":"pinned_client","priority_groups":["A"]}"#;
        create_raw(&client, "ORDERS", "G", pin).await?;
        let cases: &[(&str, &str, u64)] = &[
            ("CONSUMER.PAUSE.ORDERS.nope", "", 10014),
            ("CONSUMER.PAUSE.NOPE.C", "", 10059),
            ("CONSUMER.PAUSE.ORDERS.C", r#"{"pause_until":"soon"}"#, 10025),
            ("CONSUMER.PAUSE.ORDERS.C", "[1]", 10025),
            ("CONSUMER.UNPIN.ORDERS.G", "", 10025),
            ("CONSUMER.UNPIN.ORDERS.G", "{}", 10025),
            ("CONSUMER.UNPIN.ORDERS.G", r#"{"group":"a.b"}"#, 10162),
            ("CONSUMER.UNPIN.ORDERS.G", r#"{"group":"B"}"#, 10160),
            ("CONSUMER.UNPIN.ORDERS.nope", r#"{"group":"A"}"#, 10014),
            ("CONSUMER.UNPIN.NOPE.G", r#"{"group":"A"}"#, 10059),
        ];
        for (subject, body, code) in cases {
            let v = api(&client, subject, body).await?;
            ensure!(err_code(&v) == *code, "{subject} {body}: {v}");
        }
        // Not JSON: taken as an empty request, which resumes.
        let v = pause(&client, "C", "later").await?;
        ensure!(v["paused"] == false && err_code(&v) == 0, "{v}");
        let v = api(&client, "CONSUMER.UNPIN.ORDERS.G", r#"{"group":"A"}"#).await?;
        ensure!(v == serde_json::json!({"type": "io.nats.jetstream.api.v1.consumer_unpin_response"}), "{v}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn priority_configs_are_checked_as_nats_server_does() {
    each_target(|kind| async move {
        let (_broker, client) = setup(kind, 0).await?;
        let cases: &[(&str, u64, &str)] = &[
            (r#""priority_groups":["A"]"#, 10196, "consumer can not have priority groups when policy is none"),
            (r#""priority_policy":"pinned_client""#, 10159, "Setting PriorityPolicy requires at least one PriorityGroup to be set"),
            (r#""priority_policy":"overflow","priority_groups":[""]"#, 10161, "Group name cannot be an empty string"),
            (r#""priority_policy":"overflow","priority_groups":["way-too-long-group"]"#, 10162, "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters"),
            (r#""priority_policy":"overflow","priority_groups":["A"],"deliver_subject":"out""#, 10178, "priority groups can not be used with push consumers"),
            (r#""priority_timeout":1000000000"#, 10197, "PinnedTTL cannot be set when PriorityPolicy is none"),
        ];
        for (extra, code, text) in cases {
            let body = format!(r#"{{"stream_name":"ORDERS","config":{{"durable_name":"X",{extra}}}}}"#);
            let v = api(&client, "CONSUMER.CREATE.ORDERS.X", &body).await?;
            ensure!(err_code(&v) == *code && v["error"]["description"] == *text, "{extra}: {v}");
        }
        let body = r#"{"stream_name":"ORDERS","config":{"durable_name":"X","priority_policy":"odd"}}"#;
        ensure!(err_code(&api(&client, "CONSUMER.CREATE.ORDERS.X", body).await?) == 10025);
        let ok = r#"{"durable_name":"X","priority_policy":"pinned_client","priority_groups":["A","B"]}"#;
        let v = create_raw(&client, "ORDERS", "X", ok).await?;
        ensure!(v["config"]["priority_timeout"] == 120_000_000_000i64, "{v}");
        ensure!(v["config"]["priority_policy"] == "pinned_client", "{v}");
        let groups = &v["priority_groups"];
        ensure!(groups[0]["group"] == "A" && groups.as_array().map(Vec::len) == Some(1), "{v}");
        ensure!(groups[0].get("pinned_client_id").is_none(), "{v}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn pull_requests_are_checked_against_the_policy() {
    each_target(|kind| async move {
        let (_broker, client) = setup(kind, 2).await?;
        let over = r#"{"durable_name":"O","ack_policy":"explicit","priority_policy":"overflow","priority_groups":["A"]}"#;
        let pin = r#"{"durable_name":"N","ack_policy":"explicit","priority_policy":"pinned_client","priority_groups":["A"]}"#;
        create_raw(&client, "ORDERS", "O", over).await?;
        create_raw(&client, "ORDERS", "N", pin).await?;
        create_raw(&client, "ORDERS", "C", PULL).await?;
        let cases: &[(&str, &str, &str)] = &[
            ("O", r#"{"batch":1}"#, "400 Bad Request - Priority Group missing"),
            ("O", r#"{"batch":1,"group":"B"}"#, "400 Bad Request - Invalid Priority Group"),
            ("O", r#"{"batch":1,"group":"A","id":"x"}"#, "400 Bad Request - Not a Pinned Client Priority consumer"),
            ("N", r#"{"batch":1,"group":"A","min_pending":1}"#, "400 Bad Request - Not a Overflow Priority consumer"),
            ("O", r#"{"batch":1,"group":"A","priority":10}"#, "400 Bad Request - Priority must be between 0 and 9"),
            ("C", r#"{"batch":1,"min_ack_pending":1}"#, "400 Bad Request - Not a Overflow Priority consumer"),
        ];
        for (name, body, status) in cases {
            let got = pull(&client, name, body, 1).await?;
            ensure!(show(&got) == [*status], "{name} {body}: {:?}", show(&got));
        }
        // Without a policy the group fields are not looked at.
        let body = r#"{"batch":1,"group":"Z","expires":2000000000}"#;
        let got = pull(&client, "C", body, 1).await?;
        ensure!(show(&got) == ["m1"], "{:?}", show(&got));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn overflow_serves_only_past_the_thresholds() {
    each_target(|kind| async move {
        let (_broker, client) = setup(kind, 10).await?;
        let over = r#"{"durable_name":"O","ack_policy":"explicit","priority_policy":"overflow","priority_groups":["A"]}"#;
        create_raw(&client, "ORDERS", "O", over).await?;
        let req = |extra: &str| format!(r#"{{"batch":10,"expires":500000000,"group":"A"{extra}}}"#);
        let got = pull(&client, "O", &req(r#","min_pending":11"#), 10).await?;
        ensure!(show(&got) == ["408 Request Timeout"], "{:?}", show(&got));
        // Served while at least 5 are pending, counting the one it takes.
        let got = pull(&client, "O", &req(r#","min_pending":5"#), 10).await?;
        let want = ["m1", "m2", "m3", "m4", "m5", "m6", "408 Request Timeout"];
        ensure!(show(&got) == want, "{:?}", show(&got));
        let got = pull(&client, "O", &req(r#","min_ack_pending":7"#), 10).await?;
        ensure!(show(&got) == ["408 Request Timeout"], "{:?}", show(&got));
        let got = pull(&client, "O", &req(r#","min_ack_pending":6"#), 10).await?;
        let want = ["m7", "m8", "m9", "m10", "408 Request Timeout"];
        ensure!(show(&got) == want, "{:?}", show(&got));
        let i = info(&client, "O").await?;
        ensure!(i["num_ack_pending"] == 10 && i["priority_groups"][0]["group"] == "A", "{i}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn pinned_client_gets_everything_until_unpinned_or_timed_out() {
    each_target(|kind| async move {
        let (_broker, client) = setup(kind, 20).await?;
        let pin = r#"{"durable_name":"N","ack_policy":"none","priority_policy":"pinned_client","priority_groups":["A"],"priority_timeout":3000000000}"#;
        create_raw(&client, "ORDERS", "N", pin).await?;
        let req = |id: &str, ms: u64| {
            format!(r#"{{"batch":2,"expires":{},"group":"A","id":"{id}"}}"#, ms * 1_000_000)
        };
        let got = pull(&client, "N", &req("", 500), 2).await?;
        ensure!(show(&got)[..2] == ["m1", "m2"], "{:?}", show(&got));
        let Some(first) = pin_of(&got[0]) else { bail!("no pin id: {:?}", got[0].headers) };
        ensure!(first.len() == 22 && pin_of(&got[1]).as_deref() == Some(&*first));
        let i = info(&client, "N").await?;
        let g = &i["priority_groups"][0];
        ensure!(g["group"] == "A" && g["pinned_client_id"] == *first, "{i}");
        ensure!(g["pinned_ts"].as_str().is_some_and(|t| t != ZERO), "{i}");

        // Others wait; a wrong id is refused at once; the pinned id is served.
        let got = pull(&client, "N", &req("", 300), 2).await?;
        ensure!(show(&got) == ["408 Request Timeout"], "{:?}", show(&got));
        let got = pull(&client, "N", &req("bogus", 300), 2).await?;
        ensure!(show(&got) == ["423 Nats-Pin-Id mismatch"], "{:?}", show(&got));
        let got = pull(&client, "N", &req(&first, 500), 2).await?;
        ensure!(show(&got)[..2] == ["m3", "m4"], "{:?}", show(&got));
        ensure!(pin_of(&got[0]).as_deref() == Some(&*first));

        // Unpinned: the old id is turned away, a new client is pinned.
        let v = api(&client, "CONSUMER.UNPIN.ORDERS.N", r#"{"group":"A"}"#).await?;
        ensure!(err_code(&v) == 0, "{v}");
        let i = info(&client, "N").await?;
        let g = &i["priority_groups"][0];
        ensure!(g.get("pinned_client_id").is_none() && g["pinned_ts"] == ZERO, "{i}");
        let got = pull(&client, "N", &req(&first, 500), 2).await?;
        ensure!(show(&got) == ["423 Nats-Wrong-Pin-Id"], "{:?}", show(&got));
        ensure!(got[0].headers.as_ref().and_then(|h| h.get("Nats-Pending-Messages")).is_some());
        let got = pull(&client, "N", &req("", 500), 2).await?;
        ensure!(show(&got)[..2] == ["m5", "m6"], "{:?}", show(&got));
        let Some(second) = pin_of(&got[0]) else { bail!("no pin id") };
        ensure!(second != first);

        // The pinned client goes quiet: after priority_timeout another
        // waiting client is pinned, without anyone asking for it.
        let got = pull(&client, "N", &req("", 9000), 2).await?;
        ensure!(show(&got)[..2] == ["m7", "m8"], "{:?}", show(&got));
        let third = pin_of(&got[0]).unwrap_or_default();
        ensure!(!third.is_empty() && third != second, "{third} after {second}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn prioritized_serves_the_lowest_priority_first() {
    each_target(|kind| async move {
        let (_broker, client) = setup(kind, 0).await?;
        let cfg = r#"{"durable_name":"R","ack_policy":"explicit","priority_policy":"prioritized","priority_groups":["A"]}"#;
        create_raw(&client, "ORDERS", "R", cfg).await?;
        let mut subs = Vec::new();
        for priority in [5, 1, 3] {
            let inbox = client.new_inbox();
            subs.push(client.subscribe(inbox.clone()).await?);
            let body = format!(r#"{{"batch":1,"expires":8000000000,"group":"A","priority":{priority}}}"#);
            client
                .publish_with_reply("$JS.API.CONSUMER.MSG.NEXT.ORDERS.R", inbox, body.into())
                .await?;
        }
        until_info(&client, "R", |i| i["num_waiting"] == 3).await?;
        let js = jetstream::new(client.clone());
        for text in ["first", "second", "third"] {
            js.publish("orders.x", text.into()).await?.await?;
        }
        let mut got = Vec::new();
        for sub in &mut subs {
            got.push(show(&collect(sub, 1, PATIENCE).await));
        }
        ensure!(got == [vec!["third"], vec!["first"], vec!["second"]], "{got:?}");
        Ok(())
    })
    .await;
}
