//! Subject transforms as nats-server writes them (`src` → `dest`), used by
//! stream `subject_transform` and `republish`: the source is a subject
//! filter whose `*` tokens can be referred to in the destination as `$N`
//! or `{{wildcard(N)}}` (1-based), and a trailing `>` carries over as `>`.
//! nats-server's other mapping functions (partition, split, slice, ...)
//! are refused by name rather than misapplied.

use super::validate::{is_valid_subject, subject_matches};

/// A checked transform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectTransform {
    src: String,
    dest: Vec<Part>,
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
    #[error("mapping function {0} is not supported by this server yet")]
    Unsupported(String),
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
            } else if let Some(inner) = token.strip_prefix("{{").and_then(|t| t.strip_suffix("}}"))
            {
                let inner = inner.trim();
                let Some(args) = inner
                    .strip_prefix("wildcard(")
                    .and_then(|a| a.strip_suffix(')'))
                else {
                    let name = inner.split('(').next().unwrap_or(inner).trim();
                    return Err(TransformError::Unsupported(name.to_string()));
                };
                let index = args
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| TransformError::Destination(dest.to_string()))?;
                Part::Wildcard(index)
            } else if token.is_empty() || token.contains(['*', ' ', '\t']) {
                return Err(TransformError::Destination(dest.to_string()));
            } else {
                Part::Literal(token.to_string())
            };
            if let Part::Wildcard(index) = part {
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
            wildcards,
            tail_from,
        })
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
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(
            SubjectTransform::new("a.*", "b.{{partition(3,1)}}"),
            Err(TransformError::Unsupported("partition".into()))
        );
        assert!(SubjectTransform::new("a..b", "c").is_err());
        assert!(SubjectTransform::new("a", "b..c").is_err());
    }
}
