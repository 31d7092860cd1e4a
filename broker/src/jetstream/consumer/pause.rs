//! Consumer pause (nats-server 2.11): a consumer whose `pause_until` lies
//! in the future delivers nothing — push or pull — until that time, then
//! resumes by itself. Pull requests still queue, expire and get their
//! heartbeats, push consumers keep their idle heartbeats; only deliveries
//! stop. `pause_until` is part of the config, so it is persisted with it
//! and survives a restart. It is set at create time or by
//! `$JS.API.CONSUMER.PAUSE` ([`crate::jetstream::api::consumers::pause`]);
//! an update through `CONSUMER.CREATE` keeps the current value, as on
//! nats-server. Like nats-server, a time given at create keeps its UTC
//! offset; the pause API and updates store it in UTC.

use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::jetstream::store::Timestamp;
use crate::jetstream::wire::{now_ns, parse_time, time_string};

use super::engine::Engine;

/// A `pause_until` time: what the config JSON says (as nats-server writes
/// it back: RFC 3339 with nanoseconds, in the offset it was given in) and
/// the same in nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PauseUntil {
    text: String,
    ns: Timestamp,
}

impl PauseUntil {
    /// Parses an RFC 3339 time. Times outside what nanoseconds since the
    /// epoch can hold (before 1677, after 2262 — Go's zero time
    /// `0001-01-01T00:00:00Z` among them) are kept as written and count as
    /// "long past" or "forever".
    pub fn parse(text: &str) -> Option<PauseUntil> {
        if let Some(ns) = parse_time(text) {
            return Some(match utc_offset(text) {
                0 => PauseUntil::from_ns(ns),
                secs => PauseUntil {
                    text: with_offset(ns, secs),
                    ns,
                },
            });
        }
        // Same shape with a year in range: then only the year is out of it.
        let year: i64 = text.get(..4)?.parse().ok()?;
        parse_time(&format!("2000{}", text.get(4..)?))?;
        Some(PauseUntil {
            text: text.to_string(),
            ns: if year < 1970 { i64::MIN } else { i64::MAX },
        })
    }

    pub fn from_ns(ns: Timestamp) -> PauseUntil {
        PauseUntil {
            text: time_string(ns),
            ns,
        }
    }

    pub fn ns(&self) -> Timestamp {
        self.ns
    }

    /// The same time in UTC (what nats-server stores on an update).
    pub fn utc(&self) -> PauseUntil {
        if self.text.ends_with(['Z', 'z']) || matches!(self.ns, i64::MIN | i64::MAX) {
            return self.clone();
        }
        PauseUntil::from_ns(self.ns)
    }

    /// Go's zero time, which the pause API takes as "resume".
    pub fn is_zero(&self) -> bool {
        self.text == crate::jetstream::wire::ZERO_TIME
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// How long the pause still lasts at `now` (`None` once it is over).
    pub fn remaining(&self, now: Timestamp) -> Option<i64> {
        (self.ns > now).then(|| self.ns.saturating_sub(now))
    }
}

/// The UTC offset, in seconds, an RFC 3339 time ends with (0 for `Z`).
fn utc_offset(text: &str) -> i64 {
    let b = text.as_bytes();
    let Some(at) = b.len().checked_sub(6) else {
        return 0;
    };
    let sign = match b[at] {
        b'+' => 1,
        b'-' => -1,
        _ => return 0,
    };
    let num = |r: std::ops::Range<usize>| text.get(r).and_then(|t| t.parse::<i64>().ok());
    match (num(at + 1..at + 3), num(at + 4..at + 6)) {
        (Some(h), Some(m)) => sign * (h * 3600 + m * 60),
        _ => 0,
    }
}

/// `ns` written as Go writes a time in a fixed zone `secs` east of UTC.
fn with_offset(ns: Timestamp, secs: i64) -> String {
    let local = time_string(ns.saturating_add(secs.saturating_mul(1_000_000_000)));
    let (sign, abs) = if secs < 0 { ('-', -secs) } else { ('+', secs) };
    format!(
        "{}{sign}{:02}:{:02}",
        local.trim_end_matches('Z'),
        abs / 3600,
        abs % 3600 / 60
    )
}

impl Serialize for PauseUntil {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for PauseUntil {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PauseUntil::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("pause_until {text:?} is not an RFC 3339 time"))
        })
    }
}

/// The pause state of a config: `(paused, remaining ns)` now, as
/// `ConsumerInfo` and the pause response report it.
pub fn pause_state(until: Option<&PauseUntil>) -> (bool, Option<i64>) {
    match until.and_then(|p| p.remaining(now_ns())) {
        Some(left) => (true, Some(left)),
        None => (false, None),
    }
}

impl Engine {
    /// When the current pause ends, if the consumer is paused.
    pub(super) fn pause_deadline(&self) -> Option<Instant> {
        let left = self.config.pause_until.as_ref()?.remaining(now_ns())?;
        let left = Duration::from_nanos(u64::try_from(left).unwrap_or(u64::MAX));
        // A pause of centuries: wake once a day instead of overflowing.
        let left = left.min(Duration::from_secs(86_400));
        Some(Instant::now() + left)
    }

    /// A turn while paused: nothing is delivered, but what nats-server
    /// does around delivery still happens — `no_wait` pull requests end
    /// with `404 No Messages` as at the end of the stream, and a push
    /// consumer keeps track of its subscriber so its heartbeats go on.
    pub(super) fn while_paused(&mut self) {
        if self.push.is_some() {
            self.check_bound();
        } else {
            self.end_of_stream();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_keep_their_offset_until_made_utc() {
        let p = PauseUntil::parse("2030-01-01T02:00:00.500+02:00").expect("valid time");
        assert_eq!(p.as_str(), "2030-01-01T02:00:00.5+02:00");
        assert_eq!(p.utc().as_str(), "2030-01-01T00:00:00.5Z");
        assert_eq!(p.utc().ns(), p.ns());
        let west = PauseUntil::parse("2030-01-01T00:00:00-05:30").expect("valid time");
        assert_eq!(west.as_str(), "2030-01-01T00:00:00-05:30");
        assert_eq!(west.utc().as_str(), "2030-01-01T05:30:00Z");
        let plus_zero = PauseUntil::parse("2030-01-01T00:00:00+00:00").expect("valid time");
        assert_eq!(plus_zero.as_str(), "2030-01-01T00:00:00Z");
        assert_eq!(PauseUntil::parse("soon"), None);
        let json: PauseUntil = serde_json::from_str("\"2030-01-01T00:00:00Z\"").expect("parses");
        assert_eq!(
            serde_json::to_string(&json).ok().as_deref(),
            Some("\"2030-01-01T00:00:00Z\"")
        );
        assert!(serde_json::from_str::<PauseUntil>("\"nope\"").is_err());
    }

    #[test]
    fn out_of_range_years_saturate() {
        let zero = PauseUntil::parse("0001-01-01T00:00:00Z").expect("zero time");
        assert!(zero.is_zero());
        assert_eq!(zero.remaining(now_ns()), None);
        let far = PauseUntil::parse("9999-12-31T23:59:59Z").expect("far future");
        assert!(far.remaining(now_ns()).is_some());
        assert_eq!(far.as_str(), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn state_reports_remaining_time() {
        let now = now_ns();
        assert_eq!(pause_state(None), (false, None));
        assert_eq!(
            pause_state(Some(&PauseUntil::from_ns(now - 1))),
            (false, None)
        );
        let (paused, left) = pause_state(Some(&PauseUntil::from_ns(now + 60_000_000_000)));
        assert!(paused && left.is_some_and(|l| l > 0 && l <= 60_000_000_000));
    }
}
