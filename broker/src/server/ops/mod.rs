//! One file per client operation. [`apply`] routes a parsed op to its handler.

mod connect;
mod ping;
mod publish;
mod subscribe;
mod unsubscribe;

use crate::protocol::ClientOp;

use super::outbound::CloseReason;
use super::session::{OpResult, Session};

/// Apply one parsed operation to the session.
pub fn apply(session: &mut Session, op: ClientOp<'_>) -> OpResult {
    if !session.connected && session.auth_required && !matches!(op, ClientOp::Connect(_)) {
        // With auth on, the first operation must be CONNECT.
        return session.fail(
            "Authorization Violation",
            CloseReason::AuthenticationViolation,
        );
    }
    match op {
        ClientOp::Pub {
            subject,
            reply,
            headers,
            payload,
        } => publish::publish(session, subject, reply, headers, payload),
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => subscribe::subscribe(session, subject, queue, sid),
        ClientOp::Unsub { sid, max } => unsubscribe::unsubscribe(session, sid, max),
        ClientOp::Ping => ping::ping(session),
        ClientOp::Pong => ping::pong(session),
        ClientOp::Connect(json) => connect::connect(session, json),
        // Clients may send these; nats-server ignores them.
        ClientOp::Ok | ClientOp::Info => Ok(()),
        // A client has no business sending -ERR; nats-server closes it.
        ClientOp::Err(text) => {
            tracing::error!(
                "{} - cid:{} - Client Error {}",
                session.handle.addr,
                session.handle.id,
                String::from_utf8_lossy(text)
            );
            Err(CloseReason::ProtocolViolation)
        }
    }
}
