//! The RTT `/connz` reports is measured as nats-server measures it: from
//! the server's PING to the client's PONG, on the ping timer — even for a
//! connection that has just sent traffic, while no measurement has been
//! made yet — against both servers.

mod common;

use std::time::Duration;

use anyhow::{bail, Context, Result};
use common::monitoring::{Monitored, NO_SYSTEM_ACCOUNT};
use common::{each_target_blocking, raw, sync};
use serde_json::Value;
use tern_tests::{free_port, Broker, BrokerOptions};

/// A Go duration string (`"1.5ms"`, `"250.1ms"`, `"2s"`, `"1m3.2s"`) as a
/// `Duration`.
fn go_duration(text: &str) -> Result<Duration> {
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .with_context(|| format!("no unit in {text:?}"))?;
        let (number, tail) = rest.split_at(split);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let value: f64 = number
            .parse()
            .with_context(|| format!("bad number in {text:?}"))?;
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => bail!("unknown unit {unit:?} in {text:?}"),
        };
        total += value * scale;
        rest = next;
    }
    Ok(Duration::from_secs_f64(total))
}

fn rtt_of(connz: &Value, name: &str) -> Option<Duration> {
    connz["connections"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| go_duration(c["rtt"].as_str()?).ok())
}

#[test]
fn go_durations_parse() -> Result<()> {
    assert_eq!(go_duration("250ms")?, Duration::from_millis(250));
    assert_eq!(go_duration("1m3.5s")?, Duration::from_millis(63_500));
    assert_eq!(go_duration("1.5µs")?, Duration::from_nanos(1500));
    assert!(go_duration("12").is_err());
    Ok(())
}

#[test]
fn rtt_comes_from_the_servers_ping_and_the_clients_pong() {
    each_target_blocking(|kind| {
        let http = free_port();
        let broker = Broker::start_with(
            kind,
            BrokerOptions {
                config: Some(format!("{NO_SYSTEM_ACCOUNT}ping_interval: \"300ms\"\n")),
                args: vec!["-m".into(), http.to_string()],
                ..Default::default()
            },
        )?;
        let m = Monitored { broker, http };
        let mut c = raw(&m.broker.addr(), r#"{"verbose":false,"name":"slow-pong"}"#)?;
        // Traffic does not spare the first measurement.
        c.send(b"PUB x 1\r\na\r\n")?;
        sync(&mut c)?;
        let ping = c.read_until_suffix(b"PING\r\n", Duration::from_secs(5))?;
        if !String::from_utf8_lossy(&ping).ends_with("PING\r\n") {
            bail!("no PING from the server: {ping:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
        c.send(b"PONG\r\n")?;
        let connz = m.wait_for("/connz", |v| {
            rtt_of(v, "slow-pong").is_some_and(|rtt| rtt >= Duration::from_millis(200))
        })?;
        let rtt = rtt_of(&connz, "slow-pong").context("no rtt")?;
        if rtt > Duration::from_secs(2) {
            bail!("rtt {rtt:?} for a 200 ms answer");
        }
        Ok(())
    });
}
