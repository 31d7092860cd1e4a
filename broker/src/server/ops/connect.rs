//! CONNECT: the client's options, credentials and protocol level.

use crate::protocol::ConnectOptions;
use crate::server::outbound::CloseReason;
use crate::server::session::{OpResult, Session};

pub fn connect(session: &mut Session, json: &[u8]) -> OpResult {
    let opts = match ConnectOptions::parse(json) {
        Ok(o) => o,
        Err(e) => {
            // nats-server closes without an -ERR on unparsable CONNECT.
            tracing::error!(
                "{} - cid:{} - malformed CONNECT: {e}",
                session.handle.addr,
                session.handle.id
            );
            return Err(CloseReason::ProtocolViolation);
        }
    };
    if !(0..=1).contains(&opts.protocol) {
        return session.fail("invalid client protocol", CloseReason::ProtocolViolation);
    }
    let headers = opts.headers && !session.config.no_header_support;
    if opts.no_responders && !headers {
        return session.fail(
            "no responders requires headers support",
            CloseReason::ProtocolViolation,
        );
    }

    let auth = session.shared.auth();
    if auth.required() {
        // bcrypt is deliberately slow; keep it off the other connections' path
        // (block_in_place exists only on the multi-threaded runtime, which the
        // binary uses; an embedder on a current-thread runtime checks inline).
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let outcome = if auth.is_expensive() && multi_thread {
            tokio::task::block_in_place(|| auth.authenticate(&opts))
        } else {
            auth.authenticate(&opts)
        };
        match outcome {
            Ok(who) => {
                session.permissions = who.permissions.clone();
                session.handle.set_permissions(who.permissions);
                session.handle.meta.lock().user = who.user;
            }
            Err(e) => {
                tracing::error!(
                    "{} - cid:{} - authentication error: {e}",
                    session.handle.addr,
                    session.handle.id
                );
                return session.fail(
                    "Authorization Violation",
                    CloseReason::AuthenticationViolation,
                );
            }
        }
    }

    session.handle.set_connect_flags(headers, opts.echo);
    session.handle.note_connect();
    {
        let mut meta = session.handle.meta.lock();
        meta.name = opts.name.clone();
        meta.lang = opts.lang.clone();
        meta.version = opts.version.clone();
    }
    session.connected = true;
    session.opts = opts;
    session.send_ok_if_verbose();
    Ok(())
}
