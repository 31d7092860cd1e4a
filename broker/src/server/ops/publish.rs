//! PUB and HPUB: subject mappings, permission check, subject-transform
//! plugins, routing, no-responders.

use std::sync::Arc;

use crate::account::Account;
use crate::plugin::{Lent, OutHeaders, Outgoing, Routed, Transforms};
use crate::protocol::encode::{self, Delivery};
use crate::server::client::ClientHandle;
use crate::server::delivery::{deliver, write_no_responders, PendingFlush, Publisher};
use crate::server::outbound::CloseReason;
use crate::server::session::{queue, queue_err, OpResult, Session};
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
    // subscribers all see the mapped subject. The match cache keeps the
    // mapped subject beside its result: one lookup for both.
    let published = subject;
    let resolved = session.cache.resolve(
        &session.account.sublist,
        session.account.mappings.as_deref(),
        published,
    );
    let subject = session.cache.subject(resolved, published);

    if session.opts.pedantic && !is_valid_publish_subject(subject) {
        // nats-server reports it and still routes the message.
        queue_err(
            &session.handle,
            &mut session.pending,
            "Invalid Publish Subject",
        );
    }
    if let Some(perms) = &session.permissions {
        let allowed = session.publish_cache.can_publish(perms, subject)
            || (perms.responses.is_some() && session.handle.replies.spend(subject));
        if !allowed {
            let text = format!(
                "Permissions Violation for Publish to \"{}\"",
                String::from_utf8_lossy(subject)
            );
            tracing::error!(
                "{} - cid:{} - {text}",
                session.handle.addr,
                session.handle.id
            );
            queue_err(&session.handle, &mut session.pending, &text);
            return Ok(());
        }
    }
    if session.opts.verbose {
        queue(&session.handle, &mut session.pending, |b| {
            b.extend_from_slice(encode::OK)
        });
    }

    match transform(&mut session.transforms, subject, reply, headers, payload) {
        None => {
            // Borrow the cached result in place: no reference-count
            // traffic on a result that publishers on other threads share.
            let result = session.cache.result(resolved);
            let msg = Delivery {
                subject,
                reply,
                headers,
                payload,
            };
            let delivered = !result.is_empty()
                && deliver(
                    &session.shared,
                    &publisher(session),
                    result,
                    &msg,
                    &mut session.pending,
                );
            if !delivered {
                no_responders(
                    session.opts.no_responders,
                    reply,
                    subject,
                    &session.account,
                    &session.handle,
                    &mut session.pending,
                );
            }
        }
        Some(outputs) => {
            // The outputs' lookups may refill the cache the mapped subject
            // is borrowed from.
            let subject = subject.to_vec();
            let delivered = outputs.iter().fold(false, |delivered, out| {
                let headers = match &out.headers {
                    OutHeaders::Same => headers,
                    OutHeaders::Replaced(h) => h.as_deref(),
                };
                route(session, &out.subject, reply, headers, payload) | delivered
            });
            if !delivered {
                no_responders(
                    session.opts.no_responders,
                    reply,
                    &subject,
                    &session.account,
                    &session.handle,
                    &mut session.pending,
                );
            }
        }
    }
    Ok(())
}

fn publisher(session: &Session) -> Publisher<'static> {
    Publisher {
        id: session.handle.id,
        echo: session.handle.echo(),
        queues: None,
        hops: 0,
    }
}

/// Run the subject transforms bound to `subject`, if any. `None`: deliver
/// the message as published. Without transform plugins this is a single
/// check; the transforms are taken out of the session for the call (no
/// reference-count traffic) and put back.
#[inline]
fn transform(
    transforms: &mut Option<Arc<Transforms>>,
    subject: &[u8],
    reply: Option<&[u8]>,
    headers: Option<&[u8]>,
    payload: &[u8],
) -> Option<Vec<Outgoing>> {
    let taken = transforms.take()?;
    let routed = taken.applies_to(subject).then(|| {
        taken.run(&Lent {
            subject,
            reply,
            headers,
            payload,
        })
    });
    *transforms = Some(taken);
    match routed? {
        Routed::Unchanged => None,
        Routed::Replaced(outputs) => Some(outputs),
    }
}

/// Deliver one message (a plugin's output) to the subscriptions matching
/// its subject. Returns whether anyone got it.
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
    let publisher = publisher(session);
    let mapped_account = session.account.mappings.is_some();
    let result = session
        .cache
        .get(&session.account.sublist, mapped_account, subject);
    !result.is_empty()
        && deliver(
            &session.shared,
            &publisher,
            result,
            &msg,
            &mut session.pending,
        )
}

/// Tell the requester nobody is listening, on its own subscription for the
/// reply subject (if it asked for no-responders and has one).
fn no_responders(
    wanted: bool,
    reply: Option<&[u8]>,
    subject: &[u8],
    account: &Account,
    handle: &Arc<ClientHandle>,
    pending: &mut PendingFlush,
) {
    let (true, Some(reply)) = (wanted, reply) else {
        return;
    };
    let matches = account.sublist.matches(reply);
    let Some(sub) = matches.plain.iter().find(|s| s.receiver.id() == handle.id) else {
        return;
    };
    queue(handle, pending, |b| {
        write_no_responders(b, reply, &sub.sid, subject)
    });
}
