//! Services inside the broker — system requests, JetStream's API — talk
//! NATS like any client, without a socket: they subscribe through
//! [`Shared::subscribe_internal`] and receive owned copies of matching
//! messages in a bounded inbox read by their own task, and they publish
//! with [`Shared::publish_internal`], which routes exactly like a client's
//! PUB. Nothing here touches the client hot path beyond one `match` on the
//! receiver kind.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::protocol::encode::Delivery;

use crate::account::Account;

use super::delivery::{add_subscription, deliver_in, remove_subscription, PendingFlush, Publisher};
use super::state::Shared;
use super::subscription::{Receiver, Subscription};

/// Messages an internal subscriber may have waiting before new ones are
/// dropped (and counted): the internal analogue of `max_pending`.
pub const INBOX_CAPACITY: usize = 8192;

/// A message as an internal service receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalMessage {
    pub subject: Bytes,
    pub reply: Option<Bytes>,
    pub headers: Option<Bytes>,
    pub payload: Bytes,
}

/// The receiving end of an internal subscription, as the sublist sees it.
pub struct InternalInbox {
    id: u64,
    tx: mpsc::Sender<InternalMessage>,
    dropped: AtomicU64,
    /// A system-account service under verbose tracing (`-VV`): what it
    /// receives is traced, as nats-server traces its system client.
    traced: bool,
}

impl InternalInbox {
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Queue an owned copy. False (and counted) when the service is behind
    /// by [`INBOX_CAPACITY`] messages or has gone away.
    pub fn deliver(&self, msg: &Delivery<'_>) -> bool {
        if self.traced {
            trace_system("<<-", "MSG", msg);
        }
        let owned = InternalMessage {
            subject: Bytes::copy_from_slice(msg.subject),
            reply: msg.reply.map(Bytes::copy_from_slice),
            headers: msg.headers.map(Bytes::copy_from_slice),
            payload: Bytes::copy_from_slice(msg.payload),
        };
        match self.tx.try_send(owned) {
            Ok(()) => true,
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Messages dropped because the service was too far behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// A live internal subscription. Dropping it unsubscribes.
pub struct InternalSubscription {
    shared: Arc<Shared>,
    sub: Arc<Subscription>,
    inbox: Arc<InternalInbox>,
    rx: mpsc::Receiver<InternalMessage>,
}

impl InternalSubscription {
    /// The next message, or `None` once the subscription is gone.
    pub async fn recv(&mut self) -> Option<InternalMessage> {
        self.rx.recv().await
    }

    /// Polls for the next message (for services that wait on several
    /// subscriptions at once).
    pub fn poll_recv(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<InternalMessage>> {
        self.rx.poll_recv(cx)
    }

    /// Takes a message already waiting, without waiting.
    pub fn try_recv(&mut self) -> Option<InternalMessage> {
        self.rx.try_recv().ok()
    }

    /// Messages dropped because this subscriber fell behind.
    pub fn dropped(&self) -> u64 {
        self.inbox.dropped()
    }
}

impl Drop for InternalSubscription {
    fn drop(&mut self) {
        remove_subscription(&self.shared, &self.sub);
    }
}

/// Errors from internal subscribe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InternalError {
    #[error("invalid subject {0:?}")]
    InvalidSubject(String),
}

impl Shared {
    /// Subscribe a service inside the broker to `subject` (wildcards and
    /// queue groups work as for clients).
    pub fn subscribe_internal(
        self: &Arc<Self>,
        account: &Arc<Account>,
        subject: &str,
        queue: Option<&str>,
    ) -> Result<InternalSubscription, InternalError> {
        let (tx, rx) = mpsc::channel(INBOX_CAPACITY);
        let inbox = Arc::new(InternalInbox {
            id: self.next_client_id(),
            tx,
            dropped: AtomicU64::new(0),
            traced: self.config().log.trace_verbose && self.is_system(account),
        });
        let sid = inbox.id.to_string();
        let sub = Arc::new(Subscription::new(
            Receiver::Internal(inbox.clone()),
            account,
            subject.as_bytes(),
            queue.map(str::as_bytes),
            sid.as_bytes(),
        ));
        add_subscription(self, account, &sub)
            .map_err(|_| InternalError::InvalidSubject(subject.to_string()))?;
        Ok(InternalSubscription {
            shared: self.clone(),
            sub,
            inbox,
            rx,
        })
    }

    /// Publish from inside the broker, routed like a client's PUB/HPUB.
    /// Returns whether any subscriber received it.
    pub fn publish_internal(
        &self,
        account: &Account,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        self.deliver_internal(
            account,
            subject,
            &Delivery {
                subject,
                reply,
                headers,
                payload,
            },
        )
    }

    /// Routes `msg` to the subscribers of `to` while its `MSG` line names
    /// `msg.subject`: how JetStream hands a stream message to a consumer's
    /// deliver subject or a pull request's inbox. Returns whether anyone
    /// received it.
    pub fn deliver_internal(&self, account: &Account, to: &[u8], msg: &Delivery<'_>) -> bool {
        let mut pending = PendingFlush::default();
        let delivered = self.deliver_internal_batched(account, to, msg, &mut pending);
        pending.flush();
        delivered
    }

    /// [`Self::publish_internal`] without writing to the receivers'
    /// sockets until `pending.flush()` (see [`Self::deliver_internal_batched`]).
    pub fn publish_internal_batched(
        &self,
        account: &Account,
        subject: &[u8],
        payload: &[u8],
        pending: &mut PendingFlush,
    ) -> bool {
        let msg = Delivery {
            subject,
            reply: None,
            headers: None,
            payload,
        };
        self.deliver_internal_batched(account, subject, &msg, pending)
    }

    /// [`Self::deliver_internal`] without writing to the receivers' sockets:
    /// that waits for `pending.flush()`, so a run of messages (a pull
    /// batch, a group of PubAcks) costs one write per receiver, not one per
    /// message. Flush before waiting on anything.
    pub fn deliver_internal_batched(
        &self,
        account: &Account,
        to: &[u8],
        msg: &Delivery<'_>,
        pending: &mut PendingFlush,
    ) -> bool {
        if tracing::enabled!(tracing::Level::TRACE)
            && self.is_system(account)
            && self.config().log.trace_verbose
        {
            trace_system("->>", "PUB", msg);
        }
        // Internal publishers never match their own id (0 is no client's).
        let publisher = Publisher {
            id: 0,
            echo: true,
            queues: None,
            hops: 0,
        };
        deliver_in(self, account, &publisher, to, msg, pending)
    }

    fn is_system(&self, account: &Account) -> bool {
        self.accounts
            .system()
            .is_some_and(|s| std::ptr::eq(&**s, account))
    }

    /// Does anyone in `account` subscribe to `subject`?
    pub fn has_interest(&self, account: &Account, subject: &[u8]) -> bool {
        !account.sublist.matches(subject).is_empty()
    }
}

/// One trace line of the system account's own traffic, in the form
/// nats-server gives its system client's.
fn trace_system(direction: &str, op: &str, msg: &Delivery<'_>) {
    let reply = msg
        .reply
        .map(|r| format!(" {}", String::from_utf8_lossy(r)))
        .unwrap_or_default();
    tracing::trace!(
        "SYSTEM - {direction} [{op} {}{reply} {}]",
        String::from_utf8_lossy(msg.subject),
        msg.payload.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn shared() -> Arc<Shared> {
        let addr = "127.0.0.1:0".parse().expect("literal address");
        Arc::new(Shared::new(Config::default(), addr))
    }

    #[tokio::test]
    async fn internal_round_trip_and_unsubscribe_on_drop() {
        let shared = shared();
        let g = shared.global().clone();
        let mut sub = shared
            .subscribe_internal(&g, "svc.*", None)
            .expect("valid subject");
        assert!(shared.publish_internal(&g, b"svc.a", Some(b"_INBOX.1"), None, b"hi"));
        let got = sub.recv().await.expect("a message");
        assert_eq!(&got.subject[..], b"svc.a");
        assert_eq!(got.reply.as_deref(), Some(&b"_INBOX.1"[..]));
        assert_eq!(&got.payload[..], b"hi");
        assert_eq!(g.sublist.count(), 1);
        drop(sub);
        assert_eq!(g.sublist.count(), 0);
        assert!(!shared.publish_internal(&g, b"svc.a", None, None, b"x"));
    }

    #[tokio::test]
    async fn queue_groups_spread_over_internal_members() {
        let shared = shared();
        let g = shared.global().clone();
        let mut a = shared
            .subscribe_internal(&g, "work", Some("q"))
            .expect("valid");
        let mut b = shared
            .subscribe_internal(&g, "work", Some("q"))
            .expect("valid");
        for _ in 0..1000 {
            shared.publish_internal(&g, b"work", None, None, b"job");
        }
        let (mut na, mut nb) = (0, 0);
        while let Ok(Some(_)) =
            tokio::time::timeout(std::time::Duration::from_millis(20), a.recv()).await
        {
            na += 1;
        }
        while let Ok(Some(_)) =
            tokio::time::timeout(std::time::Duration::from_millis(20), b.recv()).await
        {
            nb += 1;
        }
        assert_eq!(na + nb, 1000);
        // Each publish builds a fresh result with a random start: both
        // members get a fair share.
        assert!((350..=650).contains(&na), "unfair split {na}/{nb}");
    }

    #[test]
    fn invalid_subject_is_refused() {
        let shared = shared();
        let g = shared.global().clone();
        assert!(shared.subscribe_internal(&g, "a..b", None).is_err());
    }
}
