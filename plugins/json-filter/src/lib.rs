//! JSON stream filter for an edge stream: drop or downsample messages by a
//! field predicate, and redact fields of what is kept.
//!
//! Config (the plugin's `config` table):
//! - `field`, `op`, `value`: the predicate, e.g. `field = "temp"`,
//!   `op = "lt"`, `value = "-40"`. `op` is one of `eq ne lt le gt ge
//!   exists`; numbers compare as numbers, anything else as text. `field` may
//!   be a dotted path (`sensor.temp`).
//! - `action`: what to do with messages the predicate matches: `drop`
//!   (default), or `downsample` to keep one in `every` of them.
//! - `redact.<n>`: dotted paths of fields to replace with `"[redacted]"`.
//!
//! Payloads that are not JSON objects are kept unchanged. The downsample
//! counter lives in the plugin instance; the broker reuses one instance per
//! stream while calls do not overlap, so the ratio holds per stream.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tern_plugin_sdk::filter::{config_section, config_value, FilterResult, Message, StreamFilter};

/// A field predicate from the config.
#[derive(Debug, Clone, PartialEq)]
pub struct Predicate {
    pub field: String,
    pub op: String,
    pub value: String,
}

impl Predicate {
    pub fn matches(&self, doc: &Value) -> bool {
        let found = lookup(doc, &self.field);
        if self.op == "exists" {
            return found.is_some();
        }
        let Some(found) = found else { return false };
        let ordering = match (found.as_f64(), self.value.parse::<f64>().ok()) {
            (Some(a), Some(b)) => a.partial_cmp(&b),
            _ => {
                let text = match found {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Some(text.as_str().cmp(self.value.as_str()))
            }
        };
        let Some(ordering) = ordering else {
            return false;
        };
        match self.op.as_str() {
            "eq" => ordering.is_eq(),
            "ne" => ordering.is_ne(),
            "lt" => ordering.is_lt(),
            "le" => ordering.is_le(),
            "gt" => ordering.is_gt(),
            "ge" => ordering.is_ge(),
            _ => false,
        }
    }
}

fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |v, key| v.get(key))
}

/// Replace each field at `paths` that exists with `"[redacted]"`. True
/// when anything changed.
pub fn redact(doc: &mut Value, paths: &[&str]) -> bool {
    let mut changed = false;
    for path in paths {
        let mut parts: Vec<&str> = path.split('.').collect();
        let Some(last) = parts.pop() else { continue };
        let parent = parts.iter().try_fold(&mut *doc, |v, key| v.get_mut(*key));
        if let Some(Value::Object(map)) = parent {
            if let Some(v) = map.get_mut(last) {
                *v = Value::String("[redacted]".into());
                changed = true;
            }
        }
    }
    changed
}

/// What to do with one payload, given the config. `seen` counts matches
/// for downsampling.
pub fn decide(
    payload: &[u8],
    predicate: Option<&Predicate>,
    downsample_every: Option<u64>,
    redactions: &[&str],
    seen: &AtomicU64,
) -> FilterResult {
    let Ok(mut doc) = serde_json::from_slice::<Value>(payload) else {
        return FilterResult::Keep;
    };
    if !doc.is_object() {
        return FilterResult::Keep;
    }
    if predicate.is_some_and(|p| p.matches(&doc)) {
        match downsample_every {
            Some(every) if every > 0 => {
                if !seen.fetch_add(1, Ordering::Relaxed).is_multiple_of(every) {
                    return FilterResult::Drop;
                }
            }
            _ => return FilterResult::Drop,
        }
    }
    if redact(&mut doc, redactions) {
        return FilterResult::replace_payload(doc.to_string().into_bytes());
    }
    FilterResult::Keep
}

static SEEN: AtomicU64 = AtomicU64::new(0);

struct JsonFilter;

impl StreamFilter for JsonFilter {
    fn filter(_stream: String, msg: &Message) -> FilterResult {
        let predicate = config_value("field").map(|field| Predicate {
            field: field.to_string(),
            op: config_value("op").unwrap_or("exists").to_string(),
            value: config_value("value").unwrap_or_default().to_string(),
        });
        let every = match config_value("action") {
            Some("downsample") => config_value("every").and_then(|n| n.parse().ok()),
            _ => None,
        };
        let redactions: Vec<&str> = config_section("redact")
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        decide(
            &msg.payload(),
            predicate.as_ref(),
            every,
            &redactions,
            &SEEN,
        )
    }
}

tern_plugin_sdk::export_filter!(JsonFilter);

#[cfg(test)]
mod tests {
    use super::*;

    fn cold() -> Predicate {
        Predicate {
            field: "sensor.temp".into(),
            op: "lt".into(),
            value: "-40".into(),
        }
    }

    #[test]
    fn predicate_compares_numbers_and_text() {
        let doc: Value = serde_json::json!({"sensor": {"temp": -50}, "site": "north"});
        assert!(cold().matches(&doc));
        let site = Predicate {
            field: "site".into(),
            op: "eq".into(),
            value: "north".into(),
        };
        assert!(site.matches(&doc));
        let missing = Predicate {
            field: "nope".into(),
            op: "exists".into(),
            value: String::new(),
        };
        assert!(!missing.matches(&doc));
    }

    #[test]
    fn drops_matches_and_keeps_the_rest() {
        let seen = AtomicU64::new(0);
        let p = cold();
        let out = decide(br#"{"sensor":{"temp":-60}}"#, Some(&p), None, &[], &seen);
        assert!(matches!(out, FilterResult::Drop));
        let out = decide(br#"{"sensor":{"temp":20}}"#, Some(&p), None, &[], &seen);
        assert!(matches!(out, FilterResult::Keep));
        let out = decide(b"not json", Some(&p), None, &[], &seen);
        assert!(matches!(out, FilterResult::Keep));
    }

    #[test]
    fn downsamples_one_in_every() {
        let seen = AtomicU64::new(0);
        let p = cold();
        let kept = (0..10)
            .filter(|_| {
                let out = decide(br#"{"sensor":{"temp":-60}}"#, Some(&p), Some(5), &[], &seen);
                matches!(out, FilterResult::Keep)
            })
            .count();
        assert_eq!(kept, 2);
    }

    #[test]
    fn redacts_fields() {
        let seen = AtomicU64::new(0);
        let out = decide(br#"{"owner":"ann","t":1}"#, None, None, &["owner"], &seen);
        let FilterResult::Replace(r) = out else {
            panic!("expected a replacement")
        };
        let doc: Value = serde_json::from_slice(&r.payload).unwrap();
        assert_eq!(doc["owner"], "[redacted]");
        assert_eq!(doc["t"], 1);
    }
}
