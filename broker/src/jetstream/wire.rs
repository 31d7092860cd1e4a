//! Small encodings the API and the ingest path share: reading one header
//! from a raw `NATS/1.0` block, Go-style RFC 3339 times from nanoseconds
//! (with Go's zero time for "never"), and standard base64 for message
//! bodies in `STREAM.MSG.GET` replies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::monitor::format::rfc3339;

use super::store::Timestamp;

/// Go's zero `time.Time`, which nats-server writes for "no time".
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Now, in nanoseconds since the epoch.
pub fn now_ns() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// RFC 3339 with nanoseconds; 0 is Go's zero time.
pub fn time_string(ts: Timestamp) -> String {
    match u64::try_from(ts) {
        Ok(ns) if ns > 0 => rfc3339(UNIX_EPOCH + Duration::from_nanos(ns)),
        _ => ZERO_TIME.to_string(),
    }
}

/// Parses an RFC 3339 time (`2006-01-02T15:04:05.999999999Z07:00`, as Go
/// writes them) into nanoseconds since the epoch; `None` if malformed.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(r)?;
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut pos = 19;
    let mut nanos = 0i64;
    if b.get(pos) == Some(&b'.') {
        let start = pos + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if end == start || end - start > 9 {
            return None;
        }
        nanos = num(start..end)? * 10i64.pow(9 - (end - start) as u32);
        pos = end;
    }
    let offset = match b.get(pos)? {
        b'Z' | b'z' if pos + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if pos + 6 == b.len() && b[pos + 3] == b':' => {
            let mins = num(pos + 1..pos + 3)? * 60 + num(pos + 4..pos + 6)?;
            if *sign == b'+' {
                mins * 60
            } else {
                -mins * 60
            }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// A status message's header block (`NATS/1.0 408 Request Timeout`) with
/// extra header lines.
pub fn status_headers(code: u16, description: &str, extra: &[(&str, String)]) -> Vec<u8> {
    let mut out = format!("NATS/1.0 {code} {description}\r\n");
    for (k, v) in extra {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// A stored header block (empty for none) with `lines` added, as
/// nats-server adds its `Nats-*` headers to a message it hands out again
/// (direct get, republish, sources, headers-only consumers).
pub fn with_headers(block: &[u8], lines: &[(&str, String)]) -> Vec<u8> {
    let mut out = if block.is_empty() {
        b"NATS/1.0\r\n".to_vec()
    } else {
        block.strip_suffix(b"\r\n").unwrap_or(block).to_vec()
    };
    for (k, v) in lines {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The value of header `name` (exact case, as nats-server looks its own
/// headers up) in a raw header block, trimmed.
pub fn header<'a>(block: Option<&'a [u8]>, name: &str) -> Option<&'a str> {
    let block = std::str::from_utf8(block?).ok()?;
    block.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key == name).then(|| value.trim())
    })
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn headers_and_times() {
        let block = b"NATS/1.0\r\nNats-Msg-Id: abc\r\nX: 1\r\n\r\n";
        assert_eq!(header(Some(block), "Nats-Msg-Id"), Some("abc"));
        assert_eq!(header(Some(block), "nats-msg-id"), None);
        assert_eq!(header(None, "X"), None);
        assert_eq!(time_string(0), ZERO_TIME);
        assert_eq!(time_string(1_500_000_000), "1970-01-01T00:00:01.5Z");
    }

    #[test]
    fn headers_are_added_to_a_block() {
        let added = [("Nats-Stream", "S".to_string())];
        assert_eq!(
            with_headers(b"", &added),
            b"NATS/1.0\r\nNats-Stream: S\r\n\r\n"
        );
        assert_eq!(
            with_headers(b"NATS/1.0\r\nX: 1\r\n\r\n", &added),
            b"NATS/1.0\r\nX: 1\r\nNats-Stream: S\r\n\r\n"
        );
    }

    #[test]
    fn times_parse_back() {
        for ts in [
            1_500_000_000i64,
            1_764_410_498_157_669_000,
            86_400_000_000_000,
        ] {
            assert_eq!(parse_time(&time_string(ts)), Some(ts));
        }
        assert_eq!(parse_time("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_time("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2026-01-01T00:00:00.Z"), None);
    }
}
