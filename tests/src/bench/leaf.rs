//! Throughput through a leaf link: the publisher on the leaf, the
//! subscriber on its hub, both servers of the same kind (Tern ↔ Tern
//! against nats-server ↔ nats-server).

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::client::{Conn, Event};
use super::throughput::flow_between;
use crate::{free_port, Broker, BrokerOptions, Kind};

/// Messages per second from a leaf's publisher to a hub's subscriber.
pub fn through_link(kind: Kind, payload: usize, count: u64) -> Result<(f64, Broker)> {
    let leaf_port = free_port();
    let hub = Broker::start_with(
        kind,
        BrokerOptions {
            config: Some(format!(
                "leafnodes {{ listen: \"127.0.0.1:{leaf_port}\" }}\n"
            )),
            ..Default::default()
        },
    )?;
    let leaf = Broker::start_with(
        kind,
        BrokerOptions {
            config: Some(format!(
                "leafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{leaf_port}\" }} ] }}\n"
            )),
            ..Default::default()
        },
    )?;
    let (pub_addr, sub_addr) = (leaf.addr(), hub.addr());
    let rate = flow_between(&pub_addr, &sub_addr, payload, 1, false, count, || {
        link_ready(&pub_addr, &sub_addr)
    })?;
    drop(leaf);
    Ok((rate, hub))
}

/// Wait until a message published at `pub_addr` reaches `sub_addr`: the
/// hub's interest (sent before this probe's) has crossed the link.
fn link_ready(pub_addr: &str, sub_addr: &str) -> Result<()> {
    let mut sub = Conn::connect(sub_addr)?;
    sub.send(b"SUB bench.link.ready 1\r\n")?;
    sub.sync()?;
    sub.sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut publisher = Conn::connect(pub_addr)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        publisher.send(b"PUB bench.link.ready 0\r\n\r\n")?;
        publisher.sync()?;
        if sub.fill_or_idle("probe")? {
            let mut got = false;
            sub.drain(|ev| match ev {
                Event::Msg(_) => {
                    got = true;
                    Ok(())
                }
                other => other.unexpected(),
            })?;
            if got {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("the leaf link did not carry a message within 10 s");
        }
    }
}
