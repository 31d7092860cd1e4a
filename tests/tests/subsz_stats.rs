//! `/subsz`'s match statistics on Tern: lookups by publishes, the share
//! the connections' match caches answered, the results they hold and their
//! fan-out. (nats-server counts inside its shared sublist cache, which its
//! per-client caches mostly bypass, so its figures are not comparable; the
//! field names and types are compared with it in `monitor.rs`.)

mod common;

use anyhow::Result;
use common::monitoring::Monitored;
use common::{raw, sync};
use tern_tests::Kind;

#[test]
fn publishes_show_up_as_matches_cache_hits_and_fanout() -> Result<()> {
    let m = Monitored::start(Kind::Tern)?;
    let addr = m.broker.addr();
    let mut subs = Vec::new();
    for _ in 0..2 {
        let mut s = raw(&addr, r#"{"verbose":false}"#)?;
        s.send(b"SUB stats.x 1\r\n")?;
        sync(&mut s)?;
        subs.push(s);
    }
    let mut publisher = raw(&addr, r#"{"verbose":false}"#)?;
    for _ in 0..100 {
        publisher.send(b"PUB stats.x 2\r\nhi\r\n")?;
    }
    sync(&mut publisher)?;
    let subsz = m.wait_for("/subsz", |v| v["num_matches"].as_u64() >= Some(100))?;
    let hit_rate = subsz["cache_hit_rate"].as_f64().unwrap_or(0.0);
    anyhow::ensure!(
        hit_rate >= 0.9,
        "hit rate {hit_rate} for one repeated subject: {subsz:#}"
    );
    anyhow::ensure!(subsz["num_cache"].as_u64() >= Some(1), "{subsz:#}");
    anyhow::ensure!(subsz["max_fanout"].as_u64() == Some(2), "{subsz:#}");
    anyhow::ensure!(subsz["avg_fanout"].as_f64() >= Some(1.0), "{subsz:#}");
    // The publisher's cache goes with its connection.
    drop(publisher);
    m.wait_for("/subsz", |v| v["num_cache"].as_u64() == Some(0))?;
    Ok(())
}
