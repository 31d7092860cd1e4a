//! Routing one published message to the subscriptions that match it: every
//! plain subscription gets a copy, each queue group one member (round
//! robin). Frames are written into the receivers' outbound buffers; the
//! receivers are remembered in a [`PendingFlush`] and flushed once at the end
//! of the publisher's read batch. A receiver that is behind may make a
//! client publisher wait ([`super::stall`]): delivery notes it here, the
//! connection task waits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::account::Account;
use crate::leaf::encode::write_lmsg;
use crate::leaf::LeafHandle;
use crate::protocol::encode::{write_msg, Delivery};
use crate::subject::{MatchResult, SublistError};

use super::client::ClientHandle;
use super::outbound::{Outbound, Pushed};
use super::stall::{StallPolicy, Stalled};
use super::state::Shared;
use super::subscription::{Receiver, Subscription, Take};

/// Receivers touched during one batch (a read batch of a connection, or one
/// internal publish), each listed once: the outbound buffer reports the
/// first append of a batch by its mark.
pub struct PendingFlush {
    mark: u64,
    clients: Vec<Arc<ClientHandle>>,
    leafs: Vec<Arc<LeafHandle>>,
    /// How this publisher treats receivers that are behind.
    pub stall_policy: StallPolicy,
    /// The first receiver of this batch found stalled, for a publisher
    /// that waits.
    stalled: Option<Stalled>,
}

/// Batch marks come from one counter so that no two batches anywhere share
/// a mark (a shared mark could leave a receiver unflushed). One increment
/// per batch, not per message.
static NEXT_MARK: AtomicU64 = AtomicU64::new(1);

fn next_mark() -> u64 {
    NEXT_MARK.fetch_add(1, Ordering::Relaxed)
}

impl Default for PendingFlush {
    fn default() -> Self {
        PendingFlush {
            mark: next_mark(),
            clients: Vec::new(),
            leafs: Vec::new(),
            stall_policy: StallPolicy::Never,
            stalled: None,
        }
    }
}

impl PendingFlush {
    /// The mark of the current batch, for [`Outbound::push`].
    ///
    /// [`Outbound::push`]: super::outbound::Outbound::push
    #[inline]
    pub fn mark(&self) -> u64 {
        self.mark
    }

    /// Note the outcome of an append to `client`.
    #[inline]
    pub fn note(&mut self, client: &Arc<ClientHandle>, pushed: Pushed) {
        if pushed == Pushed::FirstInBatch {
            self.clients.push(client.clone());
        }
    }

    /// Note the outcome of an append to a leaf link.
    #[inline]
    pub fn note_leaf(&mut self, leaf: &Arc<LeafHandle>, pushed: Pushed) {
        if pushed == Pushed::FirstInBatch {
            self.leafs.push(leaf.clone());
        }
    }

    /// Whether a message to the receiver with outbound `out` must be
    /// dropped (the receiver is behind and this publisher does not wait);
    /// notes the receiver to wait for when this publisher waits.
    #[inline]
    fn holds_back(&mut self, out: &Outbound, receiver: impl FnOnce() -> Stalled) -> bool {
        match self.stall_policy {
            StallPolicy::Never => false,
            StallPolicy::Wait => {
                if self.stalled.is_none() && out.is_stalled() {
                    self.stalled = Some(receiver());
                }
                false
            }
            StallPolicy::Skip => out.is_stalled(),
        }
    }

    /// Whether a receiver was found stalled since the last [`Self::take_stalled`].
    #[inline]
    pub fn has_stalled(&self) -> bool {
        self.stalled.is_some()
    }

    /// The receiver to wait for, if any.
    pub fn take_stalled(&mut self) -> Option<Stalled> {
        self.stalled.take()
    }

    /// Flush every receiver once; start a new batch.
    pub fn flush(&mut self) {
        if !self.leafs.is_empty() {
            for leaf in self.leafs.drain(..) {
                leaf.out.flush_or_wake();
            }
            if self.clients.is_empty() {
                self.mark = next_mark();
                return;
            }
        }
        if self.clients.is_empty() {
            return;
        }
        // Written inline, by the publisher's task: handing a big batch to
        // the receiver's own task (to overlap reading and writing on two
        // cores) made 1→1 throughput bimodal — fast only while both tasks
        // happened to share a worker — and waking receivers costs more
        // than it overlaps for fan-out. A busy publisher's connection defers
        // this flush over a few full reads instead (`Session::end_batch`),
        // so the writes stay large.
        for c in self.clients.drain(..) {
            c.out.flush_or_wake();
        }
        self.mark = next_mark();
        if self.clients.capacity() > 64 {
            self.clients = Vec::new();
        }
    }
}

/// Who is publishing, as far as delivery cares.
#[derive(Debug, Clone, Copy)]
pub struct Publisher<'a> {
    pub id: u64,
    /// Whether the publisher's own subscriptions get its messages.
    pub echo: bool,
    /// For a message from a leaf link: the queue groups (space separated)
    /// the sender picked this server for; no other group gets it. `None`
    /// for clients: every matching group gets one copy.
    pub queues: Option<&'a [u8]>,
    /// Accounts the message crossed to get here (0 where it was published).
    pub hops: u8,
}

/// Deliver `msg` from `publisher` to `result`. Returns whether anyone got it.
///
/// Leaf links get at most one copy each (`LMSG`), naming the queue groups
/// they were picked for; a queue group prefers local members and falls
/// back to a leaf link only when none can take the message.
pub fn deliver(
    shared: &Shared,
    publisher: &Publisher<'_>,
    result: &MatchResult<Subscription>,
    msg: &Delivery<'_>,
    pending: &mut PendingFlush,
) -> bool {
    let echo = publisher.echo;
    let mut delivered = false;
    let mut links = LinkTargets::default();
    for sub in &result.plain {
        if !echo && sub.receiver.id() == publisher.id {
            continue;
        }
        if let Receiver::Leaf(link) = &sub.receiver {
            if link.id != publisher.id && link.may_send(msg.subject) {
                links.add(link, None);
            }
            continue;
        }
        delivered |= deliver_to(shared, publisher, sub, msg, pending);
    }
    for group in &result.queues {
        if let Some(picked) = publisher.queues {
            if !names_queue(picked, &group.name) {
                continue;
            }
        }
        let n = group.members.len();
        let start = group.next_start();
        let mut fallback = None;
        let mut taken = false;
        for i in 0..n {
            let sub = &group.members[(start + i) % n];
            if !echo && sub.receiver.id() == publisher.id {
                continue;
            }
            if let Receiver::Leaf(link) = &sub.receiver {
                if fallback.is_none() && link.id != publisher.id && link.may_send(msg.subject) {
                    fallback = Some(link);
                }
                continue;
            }
            if deliver_to(shared, publisher, sub, msg, pending) {
                taken = true;
                delivered = true;
                break;
            }
        }
        if !taken {
            if let Some(link) = fallback {
                links.add(link, Some(&group.name));
            }
        }
    }
    if !links.0.is_empty() {
        delivered |= links.send(msg, pending);
    }
    delivered
}

/// Is `name` one of the space-separated queue names in `list`?
fn names_queue(list: &[u8], name: &[u8]) -> bool {
    list.split(|b| *b == b' ').any(|q| q == name)
}

/// The leaf links one message goes to, each with the queue groups it was
/// picked for. Empty (no allocation) unless a leaf link matched.
#[derive(Default)]
struct LinkTargets<'r>(Vec<(&'r Arc<LeafHandle>, Vec<&'r [u8]>)>);

impl<'r> LinkTargets<'r> {
    fn add(&mut self, link: &'r Arc<LeafHandle>, queue: Option<&'r [u8]>) {
        let at = match self.0.iter().position(|(l, _)| Arc::ptr_eq(l, link)) {
            Some(at) => at,
            None => {
                self.0.push((link, Vec::new()));
                self.0.len() - 1
            }
        };
        if let Some(q) = queue {
            self.0[at].1.push(q);
        }
    }

    fn send(&self, msg: &Delivery<'_>, pending: &mut PendingFlush) -> bool {
        let mut delivered = false;
        for (link, queues) in &self.0 {
            if pending.holds_back(&link.out, || Stalled::Leaf(Arc::clone(link))) {
                continue;
            }
            let headers = link.headers();
            let size = msg.payload.len()
                + if headers {
                    msg.headers.map_or(0, <[u8]>::len)
                } else {
                    0
                };
            let pushed = link.out.push_message(pending.mark(), size, |buf| {
                write_lmsg(buf, msg, queues, headers)
            });
            pending.note_leaf(link, pushed);
            delivered |= pushed != Pushed::Rejected;
        }
        delivered
    }
}

/// One copy to one subscription. False when it could not take the message
/// (auto-unsubscribe limit reached, receiver closing or full, or denied).
#[inline]
fn deliver_to(
    shared: &Shared,
    publisher: &Publisher<'_>,
    sub: &Arc<Subscription>,
    msg: &Delivery<'_>,
    pending: &mut PendingFlush,
) -> bool {
    if let Receiver::Client(client) = &sub.receiver {
        if client.delivery_denied(msg.subject)
            || pending.holds_back(&client.out, || Stalled::Client(client.clone()))
        {
            return false;
        }
    }
    let last = match sub.take_delivery() {
        Take::Deliver => false,
        Take::DeliverLast => true,
        Take::Exhausted => return false,
    };
    let ok = match &sub.receiver {
        Receiver::Client(client) => {
            let headers = client.headers();
            let size = msg.payload.len()
                + if headers {
                    msg.headers.map_or(0, <[u8]>::len)
                } else {
                    0
                };
            let pushed = client.out.push_message(pending.mark(), size, |buf| {
                write_msg(buf, msg, &sub.sid, headers)
            });
            pending.note(client, pushed);
            if let (Some(reply), false) = (msg.reply, pushed == Pushed::Rejected) {
                client.note_request(reply);
            }
            pushed != Pushed::Rejected
        }
        Receiver::Internal(inbox) => inbox.deliver(msg),
        Receiver::Crossing(crossing) => crossing.forward(shared, msg, publisher.hops, pending),
        // Leaf links are served by `LinkTargets`, one copy per link.
        Receiver::Leaf(_) => false,
    };
    if last {
        remove_subscription(shared, sub);
    }
    ok
}

/// Deliver `msg` to the subscribers of `to` in `account` (`to` differs
/// from the message's subject when JetStream delivers to a consumer's
/// subject). Returns whether anyone got it.
pub fn deliver_in(
    shared: &Shared,
    account: &Account,
    publisher: &Publisher<'_>,
    to: &[u8],
    msg: &Delivery<'_>,
    pending: &mut PendingFlush,
) -> bool {
    let result = account.sublist.matches(to);
    !result.is_empty() && deliver(shared, publisher, &result, msg, pending)
}

/// Put a subscription into its account's index (and tell leaf links of
/// interest in the global account).
pub fn add_subscription(
    shared: &Shared,
    account: &Account,
    sub: &Arc<Subscription>,
) -> Result<(), SublistError> {
    account
        .sublist
        .insert(&sub.subject, sub.queue.as_deref(), sub.clone())?;
    if account.is_global {
        shared.leafs.changed(sub, 1);
    }
    Ok(())
}

/// Take a subscription out of the index and out of its client's table.
pub fn remove_subscription(shared: &Shared, sub: &Arc<Subscription>) {
    if let Some(account) = sub.account.upgrade() {
        if account
            .sublist
            .remove(&sub.subject, sub.queue.as_deref(), sub)
            && account.is_global
        {
            shared.leafs.changed(sub, -1);
        }
    }
    if let Receiver::Client(client) = &sub.receiver {
        let mut subs = client.subs.lock();
        if subs.get(&sub.sid).is_some_and(|s| Arc::ptr_eq(s, sub)) {
            subs.remove(&sub.sid);
        }
    }
}

/// The 503 status nats-server sends a requester when nobody is listening:
/// `HMSG reply sid hdr hdr` with a `Nats-Subject` header naming the subject.
pub fn write_no_responders(buf: &mut bytes::BytesMut, reply: &[u8], sid: &[u8], subject: &[u8]) {
    use crate::protocol::encode::put_decimal;
    use bytes::BufMut;
    let hdr_len = 32 + subject.len();
    buf.put_slice(b"HMSG ");
    buf.put_slice(reply);
    buf.put_u8(b' ');
    buf.put_slice(sid);
    buf.put_u8(b' ');
    put_decimal(buf, hdr_len);
    buf.put_u8(b' ');
    put_decimal(buf, hdr_len);
    buf.put_slice(b"\r\nNATS/1.0 503\r\nNats-Subject: ");
    buf.put_slice(subject);
    buf.put_slice(b"\r\n\r\n\r\n");
}
