//! The part of a client connection other tasks can see: its id, its
//! outbound buffer, what it declared at CONNECT that affects delivery, and
//! its counters — and what monitoring keeps of it once it has closed
//! ([`ClosedClient`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;

use crate::auth::CompiledPermissions;

use super::outbound::{CloseReason, Outbound};
use super::subscription::Subscription;

/// Inbound counters, added to once per read batch by the owner task.
/// (Outbound counters live in the [`Outbound`] state, under its lock.)
#[derive(Debug, Default)]
pub struct Counters {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
}

impl Counters {
    pub fn add_in(&self, msgs: u64, bytes: u64) {
        if msgs > 0 {
            self.in_msgs.fetch_add(msgs, Ordering::Relaxed);
            self.in_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }
}

/// A connection's message and byte counts so far, both ways.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Traffic {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
}

impl std::ops::AddAssign for Traffic {
    fn add_assign(&mut self, o: Traffic) {
        self.in_msgs += o.in_msgs;
        self.in_bytes += o.in_bytes;
        self.out_msgs += o.out_msgs;
        self.out_bytes += o.out_bytes;
    }
}

/// Descriptive fields from CONNECT, for logs and monitoring.
#[derive(Debug, Default, Clone)]
pub struct ClientMeta {
    pub name: Option<String>,
    pub lang: Option<String>,
    pub version: Option<String>,
    pub user: Option<String>,
    /// The account, when not the global one.
    pub account: Option<String>,
}

impl ClientMeta {
    /// The account's name (`$G` when none was named).
    pub fn account_name(&self) -> &str {
        self.account
            .as_deref()
            .unwrap_or(crate::account::GLOBAL_ACCOUNT)
    }
}

pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub out: Outbound,
    /// The client accepts HMSG (declared `headers: true` at CONNECT).
    headers: AtomicBool,
    /// The client wants its own messages (CONNECT `echo`, default true).
    echo: AtomicBool,
    pub counters: Counters,
    pub meta: Mutex<ClientMeta>,
    /// Subscriptions by sid. Changed by the owner (SUB/UNSUB) and by a
    /// publisher that delivers the last message of an auto-unsubscribe.
    pub subs: Mutex<FxHashMap<Box<[u8]>, Arc<Subscription>>>,
    /// Permissions from authentication; `has_sub_deny` avoids the lock on
    /// the delivery path for the common case of none.
    permissions: RwLock<Option<Arc<CompiledPermissions>>>,
    has_sub_deny: AtomicBool,
    /// Replies this client may send under `allow_responses`.
    pub replies: super::reply_permits::ReplyPermits,
    /// When the connection was accepted (wall clock, for monitoring).
    pub start: SystemTime,
    started: Instant,
    /// Nanoseconds from `started` to the last read batch; set once per
    /// batch by the owner task (see [`ClientHandle::touch`]).
    last_activity: AtomicU64,
    /// Round-trip estimate in nanoseconds: accept to CONNECT, as
    /// nats-server estimates it (0 until CONNECT).
    rtt: AtomicU64,
}

/// One subscription as monitoring shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubSnapshot {
    pub subject: String,
    pub queue: Option<String>,
    pub sid: String,
    pub msgs: u64,
    /// Auto-unsubscribe limit, 0 for none.
    pub max: u64,
}

/// What `/connz?state=closed` shows of a connection after it closed.
#[derive(Debug, Clone)]
pub struct ClosedClient {
    pub id: u64,
    pub addr: SocketAddr,
    pub start: SystemTime,
    pub last_activity: SystemTime,
    pub stop: SystemTime,
    pub rtt: Duration,
    pub reason: CloseReason,
    /// The connection came over WebSocket.
    pub websocket: bool,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    /// Times publishers waited for this connection.
    pub stalls: u64,
    /// The TLS version and cipher suite, for a TLS connection.
    pub tls: Option<(&'static str, String)>,
    pub meta: ClientMeta,
    pub subs: Vec<SubSnapshot>,
}

impl ClientHandle {
    /// What the client has sent and been sent so far (takes the outbound
    /// lock briefly).
    pub fn traffic(&self) -> Traffic {
        let (out_msgs, out_bytes) = self.out.delivered();
        Traffic {
            in_msgs: self.counters.in_msgs.load(Ordering::Relaxed),
            in_bytes: self.counters.in_bytes.load(Ordering::Relaxed),
            out_msgs,
            out_bytes,
        }
    }

    /// The client's account name (`$G` until CONNECT names another).
    pub fn account_name(&self) -> String {
        self.meta.lock().account_name().to_string()
    }

    pub fn new(id: u64, addr: SocketAddr, out: Outbound) -> Self {
        ClientHandle {
            id,
            addr,
            out,
            headers: AtomicBool::new(false),
            echo: AtomicBool::new(true),
            counters: Counters::default(),
            meta: Mutex::new(ClientMeta::default()),
            subs: Mutex::new(FxHashMap::default()),
            permissions: RwLock::new(None),
            has_sub_deny: AtomicBool::new(false),
            replies: Default::default(),
            start: SystemTime::now(),
            started: Instant::now(),
            last_activity: AtomicU64::new(0),
            rtt: AtomicU64::new(0),
        }
    }

    /// CONNECT arrived: estimate the round trip from the accept.
    pub fn note_connect(&self) {
        let nanos = self.started.elapsed().as_nanos();
        self.rtt
            .store(u64::try_from(nanos).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// A measured round trip (a PONG to the server's PING).
    pub fn set_rtt(&self, rtt: Duration) {
        let nanos = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.rtt.store(nanos, Ordering::Relaxed);
    }

    pub fn rtt(&self) -> Duration {
        Duration::from_nanos(self.rtt.load(Ordering::Relaxed))
    }

    /// Note activity (a read batch) at `now`. One relaxed store per batch.
    #[inline]
    pub fn touch(&self, now: Instant) {
        let nanos = now.saturating_duration_since(self.started).as_nanos();
        self.last_activity
            .store(u64::try_from(nanos).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Wall-clock time of the last read batch (the start when none yet).
    pub fn last_activity(&self) -> SystemTime {
        let nanos = self.last_activity.load(Ordering::Relaxed);
        self.start + Duration::from_nanos(nanos)
    }

    /// The client's subscriptions, as monitoring shows them.
    pub fn sub_snapshots(&self) -> Vec<SubSnapshot> {
        self.subs.lock().values().map(|s| snapshot(s)).collect()
    }

    /// Everything `/connz?state=closed` keeps, taken as the connection
    /// closes (`subs` are the subscriptions it held).
    pub fn closed_record(&self, reason: CloseReason, subs: &[Arc<Subscription>]) -> ClosedClient {
        let (out_msgs, out_bytes) = self.out.delivered();
        ClosedClient {
            id: self.id,
            addr: self.addr,
            start: self.start,
            last_activity: self.last_activity(),
            stop: SystemTime::now(),
            rtt: self.rtt(),
            reason,
            websocket: self.out.is_websocket(),
            in_msgs: self.counters.in_msgs.load(Ordering::Relaxed),
            in_bytes: self.counters.in_bytes.load(Ordering::Relaxed),
            out_msgs,
            out_bytes,
            stalls: self.out.stalls(),
            tls: self
                .out
                .tls()
                .map(|t| (t.version(), t.cipher().to_string())),
            meta: self.meta.lock().clone(),
            // nats-server clears a subscription's auto-unsubscribe limit
            // when the connection closes: closed connections show no max.
            subs: subs
                .iter()
                .map(|s| SubSnapshot {
                    max: 0,
                    ..snapshot(s)
                })
                .collect(),
        }
    }

    pub fn permissions(&self) -> Option<Arc<CompiledPermissions>> {
        self.permissions.read().clone()
    }

    pub fn set_permissions(&self, perms: Option<Arc<CompiledPermissions>>) {
        self.has_sub_deny.store(
            perms.as_ref().is_some_and(|p| p.has_sub_deny()),
            Ordering::Relaxed,
        );
        self.replies
            .set_policy(perms.as_ref().and_then(|p| p.responses));
        *self.permissions.write() = perms;
    }

    /// A request with `reply` was delivered: under `allow_responses`, and
    /// when its publish permissions do not already allow the reply, the
    /// client may now answer it.
    #[inline]
    pub fn note_request(&self, reply: &[u8]) {
        if !self.replies.enabled() {
            return;
        }
        let covered = self
            .permissions
            .read()
            .as_ref()
            .is_none_or(|p| p.can_publish(reply));
        if !covered {
            self.replies.grant(reply);
        }
    }

    /// Would a subscribe-deny rule block delivering `subject` to this client?
    #[inline]
    pub fn delivery_denied(&self, subject: &[u8]) -> bool {
        self.has_sub_deny.load(Ordering::Relaxed)
            && self
                .permissions
                .read()
                .as_ref()
                .is_some_and(|p| p.deliver_denied(subject))
    }

    #[inline]
    pub fn headers(&self) -> bool {
        self.headers.load(Ordering::Relaxed)
    }

    #[inline]
    pub fn echo(&self) -> bool {
        self.echo.load(Ordering::Relaxed)
    }

    pub fn set_connect_flags(&self, headers: bool, echo: bool) {
        self.headers.store(headers, Ordering::Relaxed);
        self.echo.store(echo, Ordering::Relaxed);
    }
}

fn snapshot(sub: &Subscription) -> SubSnapshot {
    SubSnapshot {
        subject: String::from_utf8_lossy(&sub.subject).into_owned(),
        queue: sub
            .queue
            .as_ref()
            .map(|q| String::from_utf8_lossy(q).into_owned()),
        sid: String::from_utf8_lossy(&sub.sid).into_owned(),
        msgs: sub.delivered(),
        max: sub.max(),
    }
}
