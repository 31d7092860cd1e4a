//! Subject mappings (`mappings { src: dest }`, top level for `$G` or per
//! account), as nats-server has them: a message published on a subject
//! that a mapping's source covers is delivered on the mapped subject
//! instead. A destination is a [`SubjectTransform`] (wildcards, `$N`,
//! mapping functions); a list of weighted destinations splits the traffic
//! (canary and A/B roll-outs), the share the weights leave over keeping
//! the original subject. Only the first mapping that covers a subject
//! applies, and a mapped subject is not mapped again.

use super::transform::{positional, SubjectTransform, TransformError};
use super::validate::{is_valid_subject, subject_matches};

/// One destination of a mapping as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub subject: String,
    /// Percent, 0–100.
    pub weight: u8,
    /// Used only on a server of that cluster (Tern has no clusters, so
    /// such destinations are never picked, as on a server outside it).
    pub cluster: Option<String>,
}

/// Why a mapping cannot be used, in nats-server's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("Subject {0:?} is not a valid subject")]
    Source(String),
    #[error("duplicate entry for {0:?}")]
    Duplicate(String),
    #[error("individual weights need to be <= 100")]
    Weight,
    #[error("total weight needs to be <= 100")]
    TotalWeight,
    #[error("invalid subject")]
    BadSubject,
    #[error("{0}")]
    Transform(#[from] TransformError),
}

/// One mapping, checked and ready to apply.
#[derive(Debug, Clone)]
pub struct Mapping {
    src: String,
    literal: bool,
    /// The destinations without a cluster, the remainder added as the
    /// original subject; sorted by weight, with cumulative weights (the
    /// last is 100), as nats-server keeps them.
    dests: Vec<(SubjectTransform, u8)>,
    /// The configured destinations that are cluster-scoped, shown by
    /// monitoring but never picked here.
    cluster_dests: Vec<Destination>,
    /// The answer depends only on the subject.
    deterministic: bool,
}

impl Mapping {
    pub fn new(src: &str, dests: &[Destination]) -> Result<Mapping, MappingError> {
        if !is_valid_subject(src.as_bytes()) {
            return Err(MappingError::Source(src.to_string()));
        }
        let mut seen: Vec<&str> = Vec::new();
        let mut total: std::collections::BTreeMap<Option<&str>, u32> = Default::default();
        let mut local = Vec::new();
        let mut cluster_dests = Vec::new();
        for d in dests {
            if seen.contains(&d.subject.as_str()) {
                return Err(MappingError::Duplicate(d.subject.clone()));
            }
            seen.push(&d.subject);
            if d.weight > 100 {
                return Err(MappingError::Weight);
            }
            let sum = total.entry(d.cluster.as_deref()).or_default();
            *sum += u32::from(d.weight);
            if *sum > 100 {
                return Err(MappingError::TotalWeight);
            }
            let transform = checked_transform(src, &d.subject)?;
            match d.cluster {
                None => local.push((transform, d.weight)),
                Some(_) => cluster_dests.push(d.clone()),
            }
        }
        let sum: u32 = local.iter().map(|(_, w)| u32::from(*w)).sum();
        if sum != 100 && !seen.contains(&src) {
            // The share left over keeps the original subject.
            let keep = if local.is_empty() { 100 } else { 100 - sum };
            let same = checked_transform(src, &positional(src))?;
            local.push((same, keep as u8));
        }
        local.sort_by_key(|(_, w)| *w);
        let mut upto = 0u8;
        for (_, w) in &mut local {
            upto = upto.saturating_add(*w);
            *w = upto;
        }
        let deterministic = local.len() == 1 && local[0].0.is_deterministic();
        Ok(Mapping {
            literal: !src.split('.').any(|t| t == "*" || t == ">"),
            src: src.to_string(),
            dests: local,
            cluster_dests,
            deterministic,
        })
    }

    pub fn source(&self) -> &str {
        &self.src
    }

    /// The destinations as nats-server's `/accountz` shows them: subject
    /// and cumulative weight, then the cluster-scoped ones as configured.
    pub fn destinations(&self) -> Vec<Destination> {
        let mut out: Vec<Destination> = self
            .dests
            .iter()
            .map(|(t, w)| Destination {
                subject: t.destination(),
                weight: *w,
                cluster: None,
            })
            .collect();
        out.extend(self.cluster_dests.iter().cloned());
        out
    }

    fn covers(&self, subject: &[u8]) -> bool {
        if self.literal {
            self.src.as_bytes() == subject
        } else {
            subject_matches(self.src.as_bytes(), subject)
        }
    }

    /// The subject a message on `subject` goes to (the mapping covers it).
    fn pick(&self, subject: &str) -> Option<String> {
        let transform = match self.dests.as_slice() {
            [(only, _)] => only,
            dests => {
                use rand::Rng;
                let draw: u8 = rand::rng().random_range(0..100);
                &dests.iter().find(|(_, upto)| draw < *upto)?.0
            }
        };
        transform.apply(subject)
    }
}

/// A transform with nats-server's extra rules for mappings: a source
/// ending in `>` needs a destination that keeps it.
fn checked_transform(src: &str, dest: &str) -> Result<SubjectTransform, MappingError> {
    let t = SubjectTransform::new(src, dest)?;
    if src.ends_with('>') && !t.keeps_tail() {
        return Err(MappingError::BadSubject);
    }
    Ok(t)
}

/// What mapping did to a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// No mapping covers it.
    Unmapped,
    /// Always mapped to this subject (it may be cached).
    Fixed(Box<[u8]>),
    /// Mapped to this subject this time (a weighted or random choice).
    Drawn(Box<[u8]>),
    /// A weighted choice kept the original subject this time.
    Kept,
}

/// An account's mappings, in the order they were configured.
#[derive(Debug, Clone, Default)]
pub struct Mappings {
    list: Vec<Mapping>,
}

impl Mappings {
    pub fn new(list: Vec<Mapping>) -> Mappings {
        Mappings { list }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Mapping> {
        self.list.iter()
    }

    /// Where a message published on `subject` goes.
    pub fn select(&self, subject: &[u8]) -> Mapped {
        let Some(m) = self.list.iter().find(|m| m.covers(subject)) else {
            return Mapped::Unmapped;
        };
        let Ok(text) = std::str::from_utf8(subject) else {
            return Mapped::Unmapped;
        };
        match m.pick(text) {
            None => Mapped::Unmapped,
            Some(to) if m.deterministic && to.as_bytes() == subject => Mapped::Unmapped,
            Some(to) if m.deterministic => Mapped::Fixed(to.into_bytes().into()),
            Some(to) if to.as_bytes() == subject => Mapped::Kept,
            Some(to) => Mapped::Drawn(to.into_bytes().into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(subject: &str, weight: u8) -> Destination {
        Destination {
            subject: subject.into(),
            weight,
            cluster: None,
        }
    }

    fn one(src: &str, to: &str) -> Mappings {
        Mappings::new(vec![Mapping::new(src, &[dest(to, 100)]).expect("valid")])
    }

    fn mapped(m: &Mappings, subject: &str) -> Option<String> {
        match m.select(subject.as_bytes()) {
            Mapped::Unmapped | Mapped::Kept => None,
            Mapped::Fixed(s) | Mapped::Drawn(s) => Some(String::from_utf8(s.into()).unwrap()),
        }
    }

    #[test]
    fn literal_wildcard_and_function_forms() {
        assert_eq!(mapped(&one("foo", "bar"), "foo").as_deref(), Some("bar"));
        assert_eq!(mapped(&one("foo", "bar"), "foo.x"), None);
        let m = one("orders.*.*", "shop.$2.{{wildcard(1)}}");
        assert_eq!(mapped(&m, "orders.eu.7").as_deref(), Some("shop.7.eu"));
        let m = one("dev.>", "site.>");
        assert_eq!(mapped(&m, "dev.a.b").as_deref(), Some("site.a.b"));
        let m = one("p.*", "p.{{partition(3,1)}}.$1");
        let first = mapped(&m, "p.key").unwrap();
        assert_eq!(mapped(&m, "p.key").unwrap(), first, "partitions are stable");
        assert!(matches!(m.select(b"p.key"), Mapped::Fixed(_)));
    }

    #[test]
    fn weights_leave_the_rest_to_the_original_subject() {
        let m = Mapping::new("svc", &[dest("svc.v2", 10)]).unwrap();
        let shown = m.destinations();
        assert_eq!(shown, vec![dest("svc.v2", 10), dest("svc", 100)]);
        let ms = Mappings::new(vec![m]);
        let mut v2 = 0;
        for _ in 0..10_000 {
            match ms.select(b"svc") {
                Mapped::Drawn(s) => {
                    assert_eq!(&*s, b"svc.v2");
                    v2 += 1
                }
                Mapped::Kept => {}
                Mapped::Unmapped | Mapped::Fixed(_) => panic!("a weighted mapping is drawn"),
            }
        }
        // 10% of 10,000: 1000 ± 4.5 standard deviations (30).
        assert!((865..=1135).contains(&v2), "{v2} of 10000 went to v2");
        let wild = Mapping::new("a.*", &[dest("b.$1", 40)]).unwrap();
        assert_eq!(wild.destinations()[1], dest("a.$1", 100));
    }

    #[test]
    fn bad_mappings_say_what_nats_server_says() {
        let err = |src: &str, d: &[Destination]| Mapping::new(src, d).unwrap_err().to_string();
        assert_eq!(
            err("a..b", &[dest("c", 100)]),
            "Subject \"a..b\" is not a valid subject"
        );
        assert_eq!(
            err("a", &[dest("b", 60), dest("c", 50)]),
            "total weight needs to be <= 100"
        );
        assert_eq!(
            err("a", &[dest("b", 50), dest("b", 50)]),
            "duplicate entry for \"b\""
        );
        assert_eq!(err("a.>", &[dest("b", 100)]), "invalid subject");
        assert!(Mapping::new("a.*", &[dest("b.$2", 100)]).is_err());
        assert!(Mapping::new("a", &[dest("b.{{wildcard(1)}}", 100)]).is_err());
    }

    #[test]
    fn cluster_scoped_destinations_are_shown_not_picked() {
        let west = Destination {
            cluster: Some("west".into()),
            ..dest("w", 100)
        };
        let m = Mapping::new("a", &[dest("b", 100), west.clone()]).unwrap();
        assert_eq!(m.destinations(), vec![dest("b", 100), west]);
        assert_eq!(mapped(&Mappings::new(vec![m]), "a").as_deref(), Some("b"));
    }
}
