//! `allow_responses`: the reply subjects of requests delivered to a client
//! it may publish to although its publish permissions do not cover them,
//! each for `max` responses within `expires` (nats-server's dynamic reply
//! permissions). Noted by whoever delivers the request, spent by the
//! client's own publishes; only clients with the permission keep any.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::config::ResponsePermission;

/// Permits kept before spent and expired ones are dropped.
const PRUNE_AT: usize = 4096;

#[derive(Default)]
pub struct ReplyPermits {
    /// Read without the lock on every delivery.
    enabled: AtomicBool,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    policy: Option<ResponsePermission>,
    permits: FxHashMap<Box<[u8]>, Permit>,
}

struct Permit {
    granted: Instant,
    used: u32,
}

impl ReplyPermits {
    /// Take the policy of the client's permissions (none: keep nothing).
    pub fn set_policy(&self, policy: Option<ResponsePermission>) {
        let mut inner = self.inner.lock();
        inner.policy = policy;
        inner.permits.clear();
        self.enabled.store(policy.is_some(), Ordering::Relaxed);
    }

    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// A request with `reply` was delivered to the client.
    pub fn grant(&self, reply: &[u8]) {
        let mut inner = self.inner.lock();
        let Some(policy) = inner.policy else {
            return;
        };
        let now = Instant::now();
        if inner.permits.len() >= PRUNE_AT {
            inner.permits.retain(|_, p| p.is_live(&policy, now));
        }
        inner.permits.insert(
            reply.into(),
            Permit {
                granted: now,
                used: 0,
            },
        );
    }

    /// Spend one response on `subject`: whether a live permit allowed it.
    pub fn spend(&self, subject: &[u8]) -> bool {
        let mut inner = self.inner.lock();
        let Some(policy) = inner.policy else {
            return false;
        };
        let now = Instant::now();
        let Some(permit) = inner.permits.get_mut(subject) else {
            return false;
        };
        permit.used += 1;
        let over = policy.max.is_some_and(|max| permit.used > max);
        let late = policy
            .expires
            .is_some_and(|ttl| now.duration_since(permit.granted) > ttl);
        if over || late {
            inner.permits.remove(subject);
            return false;
        }
        true
    }
}

impl Permit {
    fn is_live(&self, policy: &ResponsePermission, now: Instant) -> bool {
        policy.max.is_none_or(|max| self.used < max)
            && policy
                .expires
                .is_none_or(|ttl| now.duration_since(self.granted) <= ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_permit_allows_max_responses_within_expires() {
        let permits = ReplyPermits::default();
        permits.grant(b"_INBOX.1");
        assert!(!permits.spend(b"_INBOX.1"), "no policy, no permits");
        permits.set_policy(Some(ResponsePermission {
            max: Some(2),
            expires: None,
        }));
        assert!(permits.enabled());
        permits.grant(b"_INBOX.1");
        assert!(permits.spend(b"_INBOX.1") && permits.spend(b"_INBOX.1"));
        assert!(!permits.spend(b"_INBOX.1"), "a third response");
        assert!(!permits.spend(b"_INBOX.2"), "never requested");
        permits.set_policy(Some(ResponsePermission {
            max: None,
            expires: Some(Duration::from_millis(1)),
        }));
        permits.grant(b"_INBOX.3");
        std::thread::sleep(Duration::from_millis(5));
        assert!(!permits.spend(b"_INBOX.3"), "expired");
    }
}
