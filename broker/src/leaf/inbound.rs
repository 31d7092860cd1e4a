//! What a leaf link's remote sends once linked: interest (`LS+`, `LS-`)
//! becomes subscriptions in the sublist, owned by the link; messages
//! (`LMSG`) are routed like a publish, restricted to the queue groups the
//! sender named.

use std::sync::Arc;

use crate::protocol::encode::Delivery;
use crate::server::delivery::{deliver, Publisher};
use crate::server::outbound::CloseReason;
use crate::server::state::Shared;
use crate::server::subscription::{Receiver, Subscription};
use crate::subject::is_valid_subject;

use super::handle::{LeafHandle, LOOP_DETECTION_PREFIX};
use super::link::{Ended, Link};

/// `LS+`: the remote wants messages on `subject` (for `queue`, with that
/// many members behind it).
pub(super) fn subscribe(
    link: &mut Link,
    key: &[u8],
    subject: &[u8],
    queue: Option<&[u8]>,
    weight: u32,
) -> Result<(), CloseReason> {
    let shared = link.shared.clone();
    let handle = link.handle.clone();
    if subject == shared.leafs.loop_subject.as_bytes() {
        let text = format!(
            "Loop detected for leafnode account=\"{}\". Delaying attempt to reconnect for 30s",
            super::GLOBAL_ACCOUNT
        );
        tracing::error!("{} - lid:{} - {text}", handle.addr, handle.id);
        link.send_err(&text);
        link.end(Ended::Loop);
        return Err(CloseReason::ProtocolViolation);
    }
    if !is_valid_subject(subject) {
        tracing::debug!(
            "{} - lid:{} - invalid subject in LS+ {:?}",
            handle.addr,
            handle.id,
            String::from_utf8_lossy(subject)
        );
        return Ok(());
    }
    // Interest in what we would never send is not recorded.
    if !subject.starts_with(LOOP_DETECTION_PREFIX.as_bytes())
        && handle
            .export_deny()
            .is_some_and(|d| d.denies_interest(subject))
    {
        return Ok(());
    }
    let mut subs = handle.subs.lock();
    if let Some((sub, old)) = subs.get_mut(key) {
        // A queue's weight changed: only the propagated count moves.
        let delta = i64::from(weight) - i64::from(*old);
        *old = weight;
        let sub = sub.clone();
        drop(subs);
        if delta != 0 {
            shared.leafs.changed(&sub, delta);
        }
        return Ok(());
    }
    let sub = Arc::new(Subscription::new(
        Receiver::Leaf(handle.clone()),
        shared.global(),
        subject,
        queue,
        key,
    ));
    if shared
        .global()
        .sublist
        .insert(subject, queue, sub.clone())
        .is_err()
    {
        return Ok(());
    }
    subs.insert(key.into(), (sub.clone(), weight));
    drop(subs);
    shared.leafs.changed(&sub, i64::from(weight));
    Ok(())
}

/// `LS-`: the remote no longer wants `key`.
pub(super) fn unsubscribe(link: &mut Link, key: &[u8]) {
    let removed = link.handle.subs.lock().remove(key);
    if let Some((sub, weight)) = removed {
        remove(&link.shared, &sub, weight);
    }
}

/// The link closed: everything it asked for goes.
pub(super) fn drop_all_interest(shared: &Shared, handle: &LeafHandle) {
    let subs: Vec<_> = handle.subs.lock().drain().map(|(_, v)| v).collect();
    for (sub, weight) in subs {
        remove(shared, &sub, weight);
    }
}

fn remove(shared: &Shared, sub: &Arc<Subscription>, weight: u32) {
    if shared
        .global()
        .sublist
        .remove(&sub.subject, sub.queue.as_deref(), sub)
    {
        shared.leafs.changed(sub, -i64::from(weight));
    }
}

/// `LMSG`: deliver to local subscribers and other links, to queue groups
/// only if the sender named them.
pub(super) fn route(link: &mut Link, msg: &Delivery<'_>, queues: &[u8]) {
    if link.handle.import_deny.denies_message(msg.subject) {
        return;
    }
    let Link {
        shared,
        handle,
        cache,
        pending,
        ..
    } = link;
    // A message from a leaf is mapped like a client's (nats-server maps
    // both), in the account the link is bound to.
    let global = shared.global();
    let resolved = cache.resolve(&global.sublist, global.mappings.as_deref(), msg.subject);
    let msg = &Delivery {
        subject: cache.subject(resolved, msg.subject),
        ..*msg
    };
    let result = cache.result(resolved);
    if result.is_empty() {
        return;
    }
    let publisher = Publisher {
        id: handle.id,
        echo: false,
        queues: Some(queues),
        hops: 0,
    };
    deliver(shared, &publisher, result, msg, pending);
}
