//! The part of a client connection other tasks can see: its id, its
//! outbound buffer, what it declared at CONNECT that affects delivery, and
//! its counters.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;

use crate::auth::CompiledPermissions;

use super::outbound::Outbound;
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

/// Descriptive fields from CONNECT, for logs and monitoring.
#[derive(Debug, Default, Clone)]
pub struct ClientMeta {
    pub name: Option<String>,
    pub lang: Option<String>,
    pub version: Option<String>,
    pub user: Option<String>,
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
}

impl ClientHandle {
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
        *self.permissions.write() = perms;
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
