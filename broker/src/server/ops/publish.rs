//! PUB and HPUB: subject mappings, permission check, subject-transform
//! plugins, routing, no-responders.

use crate::plugin::{Lent, OutHeaders, Outgoing, Routed};
use crate::protocol::encode::Delivery;
use crate::server::delivery::{deliver, write_no_responders, Publisher};
use crate::server::outbound::CloseReason;
use crate::server::session::{OpResult, Session};
use crate::subject::is_valid_publish_subject;

pub fn publish(
    session: &mut Session,
    subject: &[u8],
    reply: Option<&[u8]>,
    headers: Option<&[u8]>,
    payload: &[u8],
) -> OpResult {
    if headers.is_some() && !session.handle.headers() {
        // HPUB from a client that did not declare headers: nats-server
        // treats it as a protocol violation and closes without an -ERR.
        tracing::error!(
            "{} - cid:{} - HPUB without headers support",
            session.handle.addr,
            session.handle.id
        );
        return Err(CloseReason::ProtocolViolation);
    }
    session.batch_in_msgs += 1;
    session.batch_in_bytes += (payload.len() + headers.map_or(0, <[u8]>::len)) as u64;

    // Mapping comes first, as in nats-server: permissions, plugins and
    // subscribers all see the mapped subject.
    let mapped = match &session.account.mappings {
        None => None,
        Some(m) => session.mapping_memo.map(m, subject),
    };
    let subject = mapped.as_deref().unwrap_or(subject);

    if session.opts.pedantic && !is_valid_publish_subject(subject) {
        // nats-server reports it and still routes the message.
        session.send_err("Invalid Publish Subject");
    }
    if let Some(perms) = &session.permissions {
        if !session.publish_cache.can_publish(perms, subject) {
            let text = format!(
                "Permissions Violation for Publish to \"{}\"",
                String::from_utf8_lossy(subject)
            );
            tracing::error!(
                "{} - cid:{} - {text}",
                session.handle.addr,
                session.handle.id
            );
            session.send_err(&text);
            return Ok(());
        }
    }
    session.send_ok_if_verbose();

    let delivered = match transform(session, subject, reply, headers, payload) {
        None => route(session, subject, reply, headers, payload),
        Some(outputs) => outputs.iter().fold(false, |delivered, out| {
            let headers = match &out.headers {
                OutHeaders::Same => headers,
                OutHeaders::Replaced(h) => h.as_deref(),
            };
            route(session, &out.subject, reply, headers, payload) | delivered
        }),
    };
    if !delivered && session.opts.no_responders {
        if let Some(reply) = reply {
            no_responders(session, subject, reply);
        }
    }
    Ok(())
}

/// Run the subject transforms bound to `subject`, if any. `None`: deliver
/// the message as published. Without transform plugins this is a single
/// check; the transforms are taken out of the session for the call (no
/// reference-count traffic) and put back.
#[inline]
fn transform(
    session: &mut Session,
    subject: &[u8],
    reply: Option<&[u8]>,
    headers: Option<&[u8]>,
    payload: &[u8],
) -> Option<Vec<Outgoing>> {
    let transforms = session.transforms.take()?;
    let routed = transforms.applies_to(subject).then(|| {
        transforms.run(&Lent {
            subject,
            reply,
            headers,
            payload,
        })
    });
    session.transforms = Some(transforms);
    match routed? {
        Routed::Unchanged => None,
        Routed::Replaced(outputs) => Some(outputs),
    }
}

/// Deliver one message to the subscriptions matching its subject. Returns
/// whether anyone got it.
#[inline]
fn route(
    session: &mut Session,
    subject: &[u8],
    reply: Option<&[u8]>,
    headers: Option<&[u8]>,
    payload: &[u8],
) -> bool {
    let msg = Delivery {
        subject,
        reply,
        headers,
        payload,
    };
    // Borrow the cached result in place: no reference-count traffic on a
    // result that publishers on other threads share.
    let Session {
        shared,
        account,
        handle,
        cache,
        pending,
        ..
    } = session;
    let result = cache.get(&account.sublist, subject);
    let publisher = Publisher {
        id: handle.id,
        echo: handle.echo(),
        queues: None,
        hops: 0,
    };
    !result.is_empty() && deliver(shared, &publisher, result, &msg, pending)
}

/// Tell the requester nobody is listening, on its own subscription for the
/// reply subject (if it has one).
fn no_responders(session: &mut Session, subject: &[u8], reply: &[u8]) {
    let matches = session.account.sublist.matches(reply);
    let Some(sub) = matches
        .plain
        .iter()
        .find(|s| s.receiver.id() == session.handle.id)
    else {
        return;
    };
    let sid = sub.sid.clone();
    session.push(|b| write_no_responders(b, reply, &sid, subject));
}
