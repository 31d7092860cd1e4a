//! Publish/subscribe permissions compiled for fast checks on the hot path.

use rustc_hash::FxHashMap;

use crate::config::{Permissions, ResponsePermission, SubjectPermission};
use crate::subject::subject_matches;

#[derive(Debug)]
struct Rule {
    allow: Option<Vec<Vec<u8>>>,
    deny: Vec<Vec<u8>>,
}

impl Rule {
    fn new(p: &SubjectPermission) -> Self {
        Rule {
            allow: p
                .allow
                .as_ref()
                .map(|v| v.iter().map(|s| s.as_bytes().to_vec()).collect()),
            deny: p.deny.iter().map(|s| s.as_bytes().to_vec()).collect(),
        }
    }

    fn is_open(&self) -> bool {
        self.allow.is_none() && self.deny.is_empty()
    }

    /// A literal subject (a publish) against the rule.
    fn allows_literal(&self, subject: &[u8]) -> bool {
        let allowed = match &self.allow {
            None => true,
            Some(list) => list.iter().any(|f| subject_matches(f, subject)),
        };
        allowed && !self.deny.iter().any(|f| subject_matches(f, subject))
    }

    /// A subscription subject (may contain wildcards): allowed when an allow
    /// filter covers all of it, denied when a deny filter covers any of it
    /// exactly as written.
    fn allows_filter(&self, filter: &[u8]) -> bool {
        let allowed = match &self.allow {
            None => true,
            Some(list) => list.iter().any(|f| is_subset(filter, f)),
        };
        allowed && !self.deny.iter().any(|f| is_subset(filter, f))
    }
}

/// Is every subject matched by `inner` also matched by `outer`?
pub fn is_subset(inner: &[u8], outer: &[u8]) -> bool {
    let mut i = inner.split(|b| *b == b'.');
    let mut o = outer.split(|b| *b == b'.');
    loop {
        match (i.next(), o.next()) {
            (None, None) => return true,
            (Some(_), Some(b">")) => return true,
            (Some(b">"), _) => return false,
            (Some(b"*"), Some(b"*")) => {}
            (Some(b"*"), _) => return false,
            (Some(_), Some(b"*")) => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// One user's permissions, shared by all of that user's connections.
/// Publish decisions are cached per connection ([`PublishCache`]) so that
/// connections of the same user never contend on a lock.
#[derive(Debug)]
pub struct CompiledPermissions {
    publish: Rule,
    subscribe: Rule,
    /// `allow_responses`: replies to delivered requests may be published.
    pub responses: Option<ResponsePermission>,
}

impl CompiledPermissions {
    pub fn new(p: &Permissions) -> Self {
        CompiledPermissions {
            publish: Rule::new(&p.publish),
            subscribe: Rule::new(&p.subscribe),
            responses: p.responses,
        }
    }

    pub fn can_publish(&self, subject: &[u8]) -> bool {
        self.publish.is_open() || self.publish.allows_literal(subject)
    }

    pub fn can_subscribe(&self, subject: &[u8]) -> bool {
        self.subscribe.is_open() || self.subscribe.allows_filter(subject)
    }

    /// For wildcard subscriptions: a message on `subject` must still not be
    /// delivered when a deny filter matches it.
    pub fn deliver_denied(&self, subject: &[u8]) -> bool {
        self.subscribe
            .deny
            .iter()
            .any(|f| subject_matches(f, subject))
    }

    pub fn has_sub_deny(&self) -> bool {
        !self.subscribe.deny.is_empty()
    }
}

/// A connection's cache of publish decisions (publishers repeat subjects).
#[derive(Debug, Default)]
pub struct PublishCache {
    decisions: FxHashMap<Box<[u8]>, bool>,
}

/// Decisions kept before the cache starts over.
const PUB_CACHE_MAX: usize = 1024;

impl PublishCache {
    pub fn can_publish(&mut self, perms: &CompiledPermissions, subject: &[u8]) -> bool {
        if perms.publish.is_open() {
            return true;
        }
        if let Some(v) = self.decisions.get(subject) {
            return *v;
        }
        let v = perms.can_publish(subject);
        if self.decisions.len() >= PUB_CACHE_MAX {
            self.decisions.clear();
        }
        self.decisions.insert(subject.into(), v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(pub_allow: &[&str], sub_allow: &[&str], sub_deny: &[&str]) -> CompiledPermissions {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        CompiledPermissions::new(&Permissions {
            publish: SubjectPermission {
                allow: Some(list(pub_allow)),
                deny: vec![],
            },
            subscribe: SubjectPermission {
                allow: Some(list(sub_allow)),
                deny: list(sub_deny),
            },
            responses: None,
        })
    }

    #[test]
    fn publish_and_subscribe() {
        let p = perms(
            &["orders.*", "events.*"],
            &["responses.>", "_INBOX.>"],
            &["responses.secret"],
        );
        assert!(p.can_publish(b"orders.new"));
        assert!(!p.can_publish(b"orders.new.x"));
        assert!(!p.can_publish(b"billing"));
        assert!(p.can_subscribe(b"responses.a"));
        assert!(p.can_subscribe(b"responses.*"));
        assert!(!p.can_subscribe(b">"));
        assert!(!p.can_subscribe(b"responses.secret"));
        assert!(p.deliver_denied(b"responses.secret"));
    }

    #[test]
    fn subsets() {
        assert!(is_subset(b"a.b", b"a.*"));
        assert!(is_subset(b"a.*", b"a.>"));
        assert!(!is_subset(b"a.>", b"a.*"));
        assert!(!is_subset(b"a.*", b"a.b"));
        assert!(is_subset(b"a.b.c", b">"));
    }
}
