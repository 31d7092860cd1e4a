//! The part of a leaf connection other tasks see: its outbound buffer,
//! its role, the interest it advertised to us (as subscriptions) and the
//! interest we advertised to it, and what may cross the link.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::server::outbound::Outbound;
use crate::server::subscription::Subscription;
use crate::subject::{is_subset_match, subject_matches};

/// JetStream API and the KV / object-store subjects never cross a leaf
/// link without JetStream domains (nats-server denies them both ways), so
/// that a leaf's JetStream and its hub's do not both answer one request.
pub const JETSTREAM_DENY: [&str; 3] = ["$JS.API.>", "$KV.>", "$OBJ.>"];

/// Loop-detection subjects start with this.
pub const LOOP_DETECTION_PREFIX: &str = "$LDS.";

/// Who the other side is, learnt during the handshake.
#[derive(Debug, Clone, Default)]
pub struct RemoteMeta {
    pub server_id: String,
    pub name: String,
    pub version: String,
    pub account: String,
}

/// Subjects that may not cross the link in one direction.
#[derive(Debug, Default)]
pub struct DenyList(Vec<String>);

impl DenyList {
    /// The JetStream subjects ([`JETSTREAM_DENY`]) and `more`.
    pub fn jetstream_and(more: &[String]) -> Self {
        DenyList(
            JETSTREAM_DENY
                .iter()
                .map(|s| s.to_string())
                .chain(more.iter().cloned())
                .collect(),
        )
    }

    /// Is a message on the literal `subject` denied?
    pub fn denies_message(&self, subject: &[u8]) -> bool {
        self.0
            .iter()
            .any(|deny| subject_matches(deny.as_bytes(), subject))
    }

    /// Is all of the interest in `subject` (possibly a wildcard) denied?
    pub fn denies_interest(&self, subject: &[u8]) -> bool {
        if subject.starts_with(LOOP_DETECTION_PREFIX.as_bytes()) {
            return false;
        }
        self.0
            .iter()
            .any(|deny| is_subset_match(subject, deny.as_bytes()))
    }
}

/// The subscription standing for one `LS+` of the remote, and its queue
/// weight (1 for plain interest).
pub type RemoteInterest = (Arc<Subscription>, u32);

pub struct LeafHandle {
    /// Shares the client id space (monitoring, echo suppression).
    pub id: u64,
    pub addr: SocketAddr,
    pub out: Outbound,
    /// We dialled this connection (a `remotes` entry).
    pub solicited: bool,
    /// We are the spoke: we dialled a hub, or the remote declared itself
    /// our hub. A spoke advertises only its own local interest.
    spoke: AtomicBool,
    /// The remote accepts HLMSG.
    headers: AtomicBool,
    pub meta: Mutex<RemoteMeta>,
    /// Interest the remote advertised: `subject[ queue]` → the
    /// subscription standing for it here and its queue weight.
    pub subs: Mutex<FxHashMap<Box<[u8]>, RemoteInterest>>,
    /// Interest we advertised to the remote: key → local count. Changed
    /// only under the interest registry's lock.
    pub advertised: Mutex<FxHashMap<Box<[u8]>, u32>>,
    /// Subjects we do not send to the remote: fixed when the handshake
    /// completes (it includes what the remote's CONNECT refused), before
    /// the link carries anything.
    export_deny: OnceLock<DenyList>,
    /// Subjects we do not take from the remote.
    pub import_deny: DenyList,
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    /// Round trip of the last PING answered, nanoseconds (0: none yet).
    rtt: AtomicU64,
    pub start: SystemTime,
}

impl LeafHandle {
    pub fn new(
        id: u64,
        addr: SocketAddr,
        out: Outbound,
        solicited: bool,
        import_deny: DenyList,
    ) -> Self {
        LeafHandle {
            id,
            addr,
            out,
            solicited,
            spoke: AtomicBool::new(solicited),
            headers: AtomicBool::new(false),
            meta: Mutex::new(RemoteMeta::default()),
            subs: Mutex::new(FxHashMap::default()),
            advertised: Mutex::new(FxHashMap::default()),
            export_deny: OnceLock::new(),
            import_deny,
            in_msgs: AtomicU64::new(0),
            in_bytes: AtomicU64::new(0),
            rtt: AtomicU64::new(0),
            start: SystemTime::now(),
        }
    }

    pub fn is_spoke(&self) -> bool {
        self.spoke.load(Ordering::Relaxed)
    }

    pub fn set_spoke(&self, spoke: bool) {
        self.spoke.store(spoke, Ordering::Relaxed);
    }

    #[inline]
    pub fn headers(&self) -> bool {
        self.headers.load(Ordering::Relaxed)
    }

    pub fn set_headers(&self, on: bool) {
        self.headers.store(on, Ordering::Relaxed);
    }

    /// Fix what may not be sent to the remote (once, at the handshake).
    pub fn set_export_deny(&self, deny: DenyList) {
        let _ = self.export_deny.set(deny);
    }

    pub fn export_deny(&self) -> Option<&DenyList> {
        self.export_deny.get()
    }

    /// May a message on `subject` be sent to the remote?
    #[inline]
    pub fn may_send(&self, subject: &[u8]) -> bool {
        self.export_deny
            .get()
            .is_some_and(|deny| !deny.denies_message(subject))
    }

    pub fn rtt(&self) -> Duration {
        Duration::from_nanos(self.rtt.load(Ordering::Relaxed))
    }

    pub fn set_rtt(&self, rtt: Duration) {
        self.rtt.store(rtt.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Record who the remote is (`name` may be empty: the id stands in).
    pub fn set_remote(&self, server_id: &str, name: &str, version: &str) {
        let mut meta = self.meta.lock();
        meta.server_id = server_id.to_string();
        meta.name = if name.is_empty() { server_id } else { name }.to_string();
        meta.version = version.to_string();
        meta.account = super::GLOBAL_ACCOUNT.to_string();
    }

    /// Messages and payload bytes sent to the remote so far.
    pub fn delivered(&self) -> (u64, u64) {
        self.out.delivered()
    }
}
