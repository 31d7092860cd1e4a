//! CONNECT: the client's options, credentials and protocol level; the
//! authorizer plugin, when one is configured, decides the permissions.

use std::sync::Arc;

use crate::auth::authenticator::{Authenticated, ConnectionType, Presented};
use crate::auth::CompiledPermissions;
use crate::plugin::{ConnectDetails, Verdict};
use crate::protocol::ConnectOptions;
use crate::server::outbound::CloseReason;
use crate::server::session::{OpResult, Session};

pub fn connect(session: &mut Session, json: &[u8]) -> OpResult {
    let mut opts = match ConnectOptions::parse(json) {
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
    if let Some(cookies) = &session.ws_cookies {
        cookies.fill(&mut opts);
    }
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
    let authorizer = session.shared.plugins().authorizer.clone();
    if auth.required() || authorizer.is_some() {
        let mut who = Authenticated::default();
        if auth.required() {
            let presented = Presented {
                nonce: session.nonce.as_deref(),
                via: if session.handle.out.is_websocket() {
                    ConnectionType::Websocket
                } else {
                    ConnectionType::Standard
                },
            };
            match off_the_workers(auth.is_expensive(), || auth.authenticate(&opts, &presented)) {
                Ok(w) => who = w,
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
        if let Some(authorizer) = authorizer {
            let info = ConnectDetails {
                user: opts.user.clone(),
                password: opts.pass.clone(),
                token: opts.auth_token.clone(),
                nkey: opts.nkey.clone(),
                client_name: opts.name.clone(),
                client_ip: session.handle.addr.ip().to_string(),
                tls_subject: None,
            };
            // A plugin call may take up to its deadline: like bcrypt, keep
            // it off the worker the other connections need.
            match off_the_workers(true, || authorizer.authorize(&info)) {
                Verdict::Allow(Some(p)) => {
                    who.permissions = Some(Arc::new(CompiledPermissions::new(&p)))
                }
                Verdict::Allow(None) | Verdict::Pass => {}
                Verdict::Deny(reason) => {
                    tracing::error!(
                        "{} - cid:{} - authorizer {} denied the connection: {reason}",
                        session.handle.addr,
                        session.handle.id,
                        authorizer.name()
                    );
                    return session.fail(
                        "Authorization Violation",
                        CloseReason::AuthenticationViolation,
                    );
                }
            }
            who.user = who.user.or_else(|| opts.user.clone());
        }
        if let Some(name) = &who.account {
            match session.shared.accounts.get(name) {
                Some(account) => session.account = account.clone(),
                None => {
                    // A reload added the account: accounts change only
                    // with a restart.
                    tracing::error!(
                        "{} - cid:{} - user {:?} is in account {name:?}, which this server has not loaded (accounts change with a restart)",
                        session.handle.addr,
                        session.handle.id,
                        who.user.as_deref().unwrap_or_default()
                    );
                    return session.fail(
                        "Authorization Violation",
                        CloseReason::AuthenticationViolation,
                    );
                }
            }
        }
        session.permissions = who.permissions.clone();
        session.handle.set_permissions(who.permissions);
        let mut meta = session.handle.meta.lock();
        meta.user = who.user;
        meta.account = who.account;
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

/// Run `f` where it does not hold up other connections when it may be slow:
/// `block_in_place` exists only on the multi-threaded runtime, which the
/// binary uses; an embedder on a current-thread runtime runs it inline.
fn off_the_workers<R>(slow: bool, f: impl FnOnce() -> R) -> R {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if slow && multi_thread {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}
