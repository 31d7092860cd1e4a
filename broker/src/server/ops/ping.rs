//! PING and PONG.

use crate::protocol::encode;
use crate::server::session::{OpResult, Session};

pub fn ping(session: &mut Session) -> OpResult {
    session.send(encode::PONG);
    Ok(())
}

pub fn pong(session: &mut Session) -> OpResult {
    session.pings_out = 0;
    Ok(())
}
