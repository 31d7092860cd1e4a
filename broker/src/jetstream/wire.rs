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
}
