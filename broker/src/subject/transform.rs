//! Subject transforms as nats-server writes them (`src` → `dest`), used by
//! stream `subject_transform` and `republish`: the source is a subject
//! filter whose `*` tokens can be referred to in the destination as `$N`
//! or `{{wildcard(N)}}` (1-based), and a trailing `>` carries over as `>`.
//! Destination tokens may also be nats-server's other mapping functions
//! (partition, split, slice, left/right, random): see
//! [`super::mapping_function`].

use super::mapping_function::MappingFunction;
use super::validate::{is_valid_subject, subject_matches};

/// A checked transform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectTransform {
    src: String,
    dest: Vec<Part>,
    dest_text: String,
    /// Positions of the source's `*` tokens.
    wildcards: Vec<usize>,
    /// The source ends in `>`: the tokens it covers follow `>` in `dest`.
    tail_from: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// The Nth (1-based) `*` of the source.
    Wildcard(usize),
    /// Whatever the source's `>` matched.
    Tail,
    /// A `{{function(...)}}` token.
    Function(MappingFunction),
}

/// Why a transform is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    #[error("invalid source subject {0:?}")]
    Source(String),
    #[error("invalid destination subject {0:?}")]
    Destination(String),
    #[error("destination refers to wildcard {index}, the source has {count}")]
    WildcardIndex { index: usize, count: usize },
    #[error("destination uses '>' but the source does not end with it")]
    Tail,
    #[error("invalid mapping function {token:?}: {reason}")]
    Function { token: String, reason: String },
}

impl SubjectTransform {
    /// Checks `src` (empty = `>`) and `dest`.
    pub fn new(src: &str, dest: &str) -> Result<SubjectTransform, TransformError> {
        let src = if src.is_empty() { ">" } else { src };
        if !is_valid_subject(src.as_bytes()) {
            return Err(TransformError::Source(src.to_string()));
        }
        let src_tokens: Vec<&str> = src.split('.').collect();
        let wildcards: Vec<usize> = src_tokens
            .iter()
            .enumerate()
            .filter(|(_, t)| **t == "*")
            .map(|(i, _)| i)
            .collect();
        let tail_from = (src_tokens.last() == Some(&">")).then(|| src_tokens.len() - 1);
        let mut parts = Vec::new();
        for token in dest.split('.') {
            let part = if token == ">" {
                if tail_from.is_none() {
                    return Err(TransformError::Tail);
                }
                Part::Tail
            } else if let Some(n) = token.strip_prefix('$') {
                let index = n
                    .parse::<usize>()
                    .map_err(|_| TransformError::Destination(dest.to_string()))?;
                Part::Wildcard(index)
            } else if let Some(function) = MappingFunction::parse(token)? {
                match function {
                    MappingFunction::Wildcard(index) => Part::Wildcard(index),
                    other => Part::Function(other),
                }
            } else if token.is_empty() || token.contains(['*', ' ', '\t']) {
                return Err(TransformError::Destination(dest.to_string()));
            } else {
                Part::Literal(token.to_string())
            };
            let used = match &part {
                Part::Wildcard(index) => vec![*index],
                Part::Function(f) => f.wildcards(),
                _ => Vec::new(),
            };
            for index in used {
                if index == 0 || index > wildcards.len() {
                    return Err(TransformError::WildcardIndex {
                        index,
                        count: wildcards.len(),
                    });
                }
            }
            parts.push(part);
        }
        Ok(SubjectTransform {
            src: src.to_string(),
            dest: parts,
            dest_text: dest.to_string(),
            wildcards,
            tail_from,
        })
    }

    /// The destination as written.
    pub fn destination(&self) -> String {
        self.dest_text.clone()
    }

    /// Whether the destination is the same for every message on one
    /// subject (no `{{random()}}` token), so it may be memoized.
    pub fn is_deterministic(&self) -> bool {
        !self
            .dest
            .iter()
            .any(|p| matches!(p, Part::Function(MappingFunction::Random(_))))
    }

    /// Whether the destination keeps what the source's `>` matched.
    pub fn keeps_tail(&self) -> bool {
        self.dest.iter().any(|p| matches!(p, Part::Tail))
    }

    /// The destination for `subject`, or `None` when it does not match the
    /// source.
    pub fn apply(&self, subject: &str) -> Option<String> {
        if !subject_matches(self.src.as_bytes(), subject.as_bytes()) {
            return None;
        }
        let tokens: Vec<&str> = subject.split('.').collect();
        let mut out = String::with_capacity(subject.len() + 16);
        for part in &self.dest {
            if !out.is_empty() {
                out.push('.');
            }
            match part {
                Part::Literal(l) => out.push_str(l),
                Part::Wildcard(n) => out.push_str(tokens[self.wildcards[n - 1]]),
                Part::Tail => out.push_str(&tokens[self.tail_from?..].join(".")),
                Part::Function(f) => f.write(&mut out, &tokens, &self.wildcards),
            }
        }
        Some(out)
    }
}

/// `a.*.b.*` → `a.$1.b.$2`: plain wildcards in a destination refer to the
/// source's wildcards in order (an import's `to`, or a mapping of a
/// source onto itself).
pub fn positional(dest: &str) -> String {
    let mut n = 0;
    dest.split('.')
        .map(|t| {
            if t == "*" {
                n += 1;
                format!("${n}")
            } else {
                t.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    mod functions {
        use super::t;

        fn map(src: &str, dest: &str, subject: &str) -> String {
            t(src, dest).apply(subject).expect("matches")
        }

        #[test]
        fn split_slice_left_right() {
            let s = "a.*";
            assert_eq!(map(s, "{{splitFromLeft(1,2)}}", "a.abcd"), "ab.cd");
            assert_eq!(map(s, "{{SplitFromRight(1,1)}}", "a.abcd"), "abc.d");
            assert_eq!(map(s, "{{splitFromLeft(1,9)}}", "a.abcd"), "abcd");
            assert_eq!(map(s, "{{sliceFromLeft(1,2)}}", "a.abcde"), "ab.cd.e");
            assert_eq!(map(s, "{{sliceFromRight(1,2)}}", "a.abcde"), "a.bc.de");
            assert_eq!(map(s, "{{sliceFromLeft(1,5)}}", "a.abcde"), "abcde");
            assert_eq!(map(s, "x.{{split(1,-)}}.y", "a.-b--c-"), "x.b.c.y");
            assert_eq!(map(s, "{{left(1,2)}}.{{right(1,2)}}", "a.abcde"), "ab.de");
        }

        #[test]
        fn partitions_are_stable_and_in_range() {
            // FNV-1a 32 of "abc" is 0x1a47e90b; 440920331 % 10 == 1.
            assert_eq!(map("a.*", "p.{{partition(10,1)}}", "a.abc"), "p.1");
            let whole = map("a.*", "{{partition(7)}}.$1", "a.abc");
            assert_eq!(whole, map("a.*", "{{partition(7)}}.$1", "a.abc"));
            for i in 0..50 {
                let n: u32 = map("*.*", "{{partition(3,1,2)}}", &format!("k{i}.v"))
                    .parse()
                    .expect("a number");
                assert!(n < 3);
                let r: u32 = map("*", "{{random(4)}}", "x").parse().expect("a number");
                assert!(r < 4);
            }
        }
    }

    use super::*;

    fn t(src: &str, dest: &str) -> SubjectTransform {
        SubjectTransform::new(src, dest).expect("valid transform")
    }

    #[test]
    fn wildcards_and_tails() {
        assert_eq!(t(">", "repub.>").apply("a.b").as_deref(), Some("repub.a.b"));
        assert_eq!(t("", "x.>").apply("a").as_deref(), Some("x.a"));
        assert_eq!(
            t("orders.*.*", "shop.$2.{{wildcard(1)}}")
                .apply("orders.eu.42")
                .as_deref(),
            Some("shop.42.eu")
        );
        assert_eq!(
            t("dev.*.>", "site.>.$1").apply("dev.7.temp.c").as_deref(),
            Some("site.temp.c.7")
        );
        assert_eq!(t("orders.*", "x.$1").apply("events.a"), None);
        assert_eq!(t("a", "b").apply("a").as_deref(), Some("b"));
    }

    #[test]
    fn bad_transforms_say_why() {
        assert_eq!(
            SubjectTransform::new("a.*", "b.$2"),
            Err(TransformError::WildcardIndex { index: 2, count: 1 })
        );
        assert_eq!(
            SubjectTransform::new("a.*", "b.>"),
            Err(TransformError::Tail)
        );
        assert!(matches!(
            SubjectTransform::new("a.*", "b.{{shuffle(1)}}"),
            Err(TransformError::Function { .. })
        ));
        assert_eq!(
            SubjectTransform::new("a.*", "b.{{partition(3,2)}}"),
            Err(TransformError::WildcardIndex { index: 2, count: 1 })
        );
        assert!(SubjectTransform::new("a.*", "b.{{splitFromLeft(1)}}").is_err());
        assert!(SubjectTransform::new("a", "b.{{left(1,2)}}").is_err());
        assert!(SubjectTransform::new("a..b", "c").is_err());
        assert!(SubjectTransform::new("a", "b..c").is_err());
    }
}
