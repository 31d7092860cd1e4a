//! PING and PONG.

use std::time::Instant;

use crate::protocol::encode;
use crate::server::session::{OpResult, Session};

pub fn ping(session: &mut Session) -> OpResult {
    session.send(encode::PONG);
    Ok(())
}

/// A PONG answers the server's PING: the time since it went out is the
/// connection's RTT (as nats-server measures it).
pub fn pong(session: &mut Session) -> OpResult {
    session.pings_out = 0;
    if let Some(sent) = session.ping_sent_at.take() {
        session.handle.set_rtt(sent.elapsed());
        session.rtt_measured_at = Some(Instant::now());
    }
    Ok(())
}
