//! SUB: validation, permissions, limits (`max_subscriptions`,
//! `max_sub_tokens`), and insertion into the sublist.

use std::sync::Arc;

use crate::server::delivery::add_subscription;
use crate::server::session::{OpResult, Session};
use crate::server::subscription::{Receiver, Subscription};

pub fn subscribe(
    session: &mut Session,
    subject: &[u8],
    queue: Option<&[u8]>,
    sid: &[u8],
) -> OpResult {
    if let Some(perms) = &session.permissions {
        if !perms.can_subscribe(subject) {
            let subject = String::from_utf8_lossy(subject);
            let text = match queue {
                Some(q) => format!(
                    "Permissions Violation for Subscription to \"{subject}\" using queue \"{}\"",
                    String::from_utf8_lossy(q)
                ),
                None => format!("Permissions Violation for Subscription to \"{subject}\""),
            };
            tracing::error!(
                "{} - cid:{} - {text}",
                session.handle.addr,
                session.handle.id
            );
            session.send_err(&text);
            return Ok(());
        }
    }
    let max_tokens = session.config.max_sub_tokens;
    if max_tokens > 0 && subject.split(|&b| b == b'.').count() > max_tokens {
        let subject = String::from_utf8_lossy(subject);
        tracing::error!(
            "{} - cid:{} - Subscription Violation Too Many Tokens - Subject {subject:?}, SID {}",
            session.handle.addr,
            session.handle.id,
            String::from_utf8_lossy(sid)
        );
        session.send_err(&format!(
            "Permissions Violation for Subscription to {subject:?}, too many tokens"
        ));
        return Ok(());
    }
    let handle = session.handle.clone();
    {
        let subs = handle.subs.lock();
        if subs.contains_key(sid) {
            // A repeated sid keeps the existing subscription, as in nats-server.
            drop(subs);
            session.send_ok_if_verbose();
            return Ok(());
        }
        let max = session.config.max_subscriptions;
        if max > 0 && subs.len() >= max {
            drop(subs);
            tracing::error!(
                "{} - cid:{} - maximum subscriptions exceeded",
                handle.addr,
                handle.id
            );
            session.send_err("maximum subscriptions exceeded");
            return Ok(());
        }
    }
    let sub = Arc::new(Subscription::new(
        Receiver::Client(handle.clone()),
        &session.account,
        subject,
        queue,
        sid,
    ));
    if add_subscription(&session.shared, &session.account, &sub).is_err() {
        session.send_err("Invalid Subject");
        return Ok(());
    }
    handle.subs.lock().insert(sid.into(), sub);
    session.send_ok_if_verbose();
    Ok(())
}
