//! How an import renames subjects on the way between accounts: a stream
//! import's `prefix` (`p` + `.` + subject) or `to`, a service import's
//! `to` (the subject the importer's clients use, mapped back to the
//! exporter's). A `*` in `to` stands for the source's wildcard in the same
//! position, and `>` for its tail, as in nats-server; `$N` works too.

use crate::config::{ImportConfig, ShareKind};
use crate::subject::transform::positional;
use crate::subject::{SubjectTransform, TransformError};

/// Why an import's mapping cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("'to' {to:?} does not fit {subject:?}: {source}")]
    Transform {
        subject: String,
        to: String,
        source: TransformError,
    },
    #[error("'to' {to:?} has {to_count} wildcards, {subject:?} has {subject_count}")]
    WildcardCount {
        subject: String,
        to: String,
        to_count: usize,
        subject_count: usize,
    },
}

/// An import's subject mapping.
#[derive(Debug, Clone)]
pub enum SubjectMap {
    /// The same subject on both sides.
    Same,
    /// `prefix.` + subject.
    Prefix(Vec<u8>),
    Transform(SubjectTransform),
}

impl SubjectMap {
    /// The mapping for messages crossing through `imp` whose `to` is `to`:
    /// stream imports map the exporter's subject to `to`; service imports
    /// map the importer's `to` to the exporter's subject.
    pub fn import(imp: &ImportConfig, to: &str) -> Result<SubjectMap, MapError> {
        let (from, into) = match imp.kind {
            ShareKind::Stream => (imp.subject.as_str(), to),
            ShareKind::Service => (to, imp.subject.as_str()),
        };
        if from == into {
            return Ok(SubjectMap::Same);
        }
        let (from_count, into_count) = (wildcards(from), wildcards(into));
        if from_count != into_count {
            return Err(MapError::WildcardCount {
                subject: imp.subject.clone(),
                to: to.to_string(),
                to_count: wildcards(to),
                subject_count: wildcards(&imp.subject),
            });
        }
        SubjectTransform::new(from, &positional(into))
            .map(SubjectMap::Transform)
            .map_err(|source| MapError::Transform {
                subject: imp.subject.clone(),
                to: to.to_string(),
                source,
            })
    }

    /// The stream import's mapping: `prefix`, `to`, or none.
    pub fn for_stream(imp: &ImportConfig) -> Result<SubjectMap, MapError> {
        if let Some(prefix) = &imp.prefix {
            let mut p = prefix.trim_end_matches('.').as_bytes().to_vec();
            p.push(b'.');
            return Ok(SubjectMap::Prefix(p));
        }
        match &imp.to {
            Some(to) => SubjectMap::import(imp, to),
            None => Ok(SubjectMap::Same),
        }
    }

    /// The service import's mapping (`to` is where requests are sent).
    pub fn for_service(imp: &ImportConfig) -> Result<SubjectMap, MapError> {
        match &imp.to {
            Some(to) => SubjectMap::import(imp, to),
            None => Ok(SubjectMap::Same),
        }
    }

    /// The subject on the other side; `None` when it does not fit (it
    /// always does for subjects the crossing's subscription matched).
    pub fn apply(&self, subject: &[u8]) -> Option<Vec<u8>> {
        match self {
            SubjectMap::Same => Some(subject.to_vec()),
            SubjectMap::Prefix(p) => {
                let mut out = Vec::with_capacity(p.len() + subject.len());
                out.extend_from_slice(p);
                out.extend_from_slice(subject);
                Some(out)
            }
            SubjectMap::Transform(t) => {
                let subject = std::str::from_utf8(subject).ok()?;
                t.apply(subject).map(String::into_bytes)
            }
        }
    }
}

fn wildcards(subject: &str) -> usize {
    subject
        .split('.')
        .filter(|t| *t == "*" || *t == ">")
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imp(kind: ShareKind, subject: &str, to: Option<&str>, prefix: Option<&str>) -> ImportConfig {
        ImportConfig {
            kind,
            account: "A".into(),
            subject: subject.into(),
            to: to.map(Into::into),
            prefix: prefix.map(Into::into),
            origin: Default::default(),
        }
    }

    fn apply(m: &SubjectMap, s: &str) -> String {
        String::from_utf8(m.apply(s.as_bytes()).expect("fits")).expect("utf8")
    }

    #[test]
    fn stream_prefix_and_to() {
        let m = SubjectMap::for_stream(&imp(ShareKind::Stream, "foo.>", None, Some("x")))
            .expect("valid");
        assert_eq!(apply(&m, "foo.bar"), "x.foo.bar");
        let m = SubjectMap::for_stream(&imp(ShareKind::Stream, "foo.*", Some("bar.*"), None))
            .expect("valid");
        assert_eq!(apply(&m, "foo.7"), "bar.7");
        let m = SubjectMap::for_stream(&imp(ShareKind::Stream, "foo.>", Some("bar.>"), None))
            .expect("valid");
        assert_eq!(apply(&m, "foo.a.b"), "bar.a.b");
    }

    #[test]
    fn service_to_maps_back_to_the_exporter() {
        let m = SubjectMap::for_service(&imp(
            ShareKind::Service,
            "orders.*",
            Some("billing.orders.*"),
            None,
        ))
        .expect("valid");
        assert_eq!(apply(&m, "billing.orders.42"), "orders.42");
        assert!(matches!(
            SubjectMap::for_service(&imp(ShareKind::Service, "orders.*", Some("b.*.*"), None)),
            Err(MapError::WildcardCount { .. })
        ));
    }
}
