//! One subscription: who receives (a client connection, an internal
//! service, a leaf link or another account), in which account, under which
//! id, and the auto-unsubscribe count.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use super::client::ClientHandle;
use super::internal::InternalInbox;
use crate::account::{Account, Crossing};
use crate::leaf::LeafHandle;

/// Where a subscription's messages go.
pub enum Receiver {
    /// A client connection: frames go into its outbound buffer.
    Client(Arc<ClientHandle>),
    /// A service inside the broker (system requests, JetStream): owned
    /// copies go into its inbox, read by the service's own task.
    Internal(Arc<InternalInbox>),
    /// Interest a leaf link advertised (`LS+`): messages go over the link
    /// as `LMSG`.
    Leaf(Arc<LeafHandle>),
    /// An import between accounts: messages are delivered again in the
    /// other account.
    Crossing(Arc<Crossing>),
}

impl Receiver {
    /// The id of the connection (or internal client) behind it, for echo
    /// suppression and no-responders.
    #[inline]
    pub fn id(&self) -> u64 {
        match self {
            Receiver::Client(c) => c.id,
            Receiver::Internal(i) => i.id(),
            Receiver::Leaf(l) => l.id,
            Receiver::Crossing(c) => c.id(),
        }
    }
}

pub struct Subscription {
    pub receiver: Receiver,
    /// The account whose sublist holds it.
    pub account: Weak<Account>,
    pub sid: Box<[u8]>,
    pub subject: Box<[u8]>,
    pub queue: Option<Box<[u8]>>,
    /// Messages delivered so far.
    delivered: AtomicU64,
    /// Auto-unsubscribe after this many messages (0 = never).
    max: AtomicU64,
}

/// What [`Subscription::take_delivery`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Take {
    /// Deliver; more may follow.
    Deliver,
    /// Deliver; this was the last one allowed, remove the subscription.
    DeliverLast,
    /// The limit was already reached (a racing publisher got the last one).
    Exhausted,
}

impl Subscription {
    pub fn new(
        receiver: Receiver,
        account: &Arc<Account>,
        subject: &[u8],
        queue: Option<&[u8]>,
        sid: &[u8],
    ) -> Self {
        Subscription {
            receiver,
            account: Arc::downgrade(account),
            sid: sid.into(),
            subject: subject.into(),
            queue: queue.map(Into::into),
            delivered: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    /// Count one delivery against the auto-unsubscribe limit.
    #[inline]
    pub fn take_delivery(&self) -> Take {
        let max = self.max.load(Ordering::Relaxed);
        let n = self.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        if max == 0 || n < max {
            Take::Deliver
        } else if n == max {
            Take::DeliverLast
        } else {
            Take::Exhausted
        }
    }

    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// The auto-unsubscribe limit (`UNSUB <sid> <max>`), 0 when there is
    /// none. For monitoring; delivery reads it in [`Self::take_delivery`].
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// Set the auto-unsubscribe limit. Returns false when `max` is already
    /// reached, meaning the caller should remove the subscription now.
    pub fn set_max(&self, max: u64) -> bool {
        if max > self.delivered() {
            self.max.store(max, Ordering::Relaxed);
            true
        } else {
            false
        }
    }
}
