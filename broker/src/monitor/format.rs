//! How Go's nats-server writes times and durations in monitoring JSON:
//! RFC 3339 timestamps with trimmed nanoseconds (`time.Time`), Go duration
//! strings (`rtt`), nats-server's `uptime`/`idle` strings, and the HTTP
//! `Date` header.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::logging::civil_from_days;

/// Go's `time.Time` JSON form in UTC (`RFC3339Nano`): fractional seconds
/// with trailing zeros removed, none at all when zero.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let mut out = format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    );
    let nanos = d.subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// nats-server's `myUptime`: whole seconds as `1y2d3h4m5s`, dropping the
/// leading zero units.
pub fn uptime(d: Duration) -> String {
    let tsecs = d.as_secs();
    let tmins = tsecs / 60;
    let thrs = tmins / 60;
    let tdays = thrs / 24;
    let tyrs = tdays / 365;
    if tyrs > 0 {
        format!(
            "{tyrs}y{}d{}h{}m{}s",
            tdays % 365,
            thrs % 24,
            tmins % 60,
            tsecs % 60
        )
    } else if tdays > 0 {
        format!("{tdays}d{}h{}m{}s", thrs % 24, tmins % 60, tsecs % 60)
    } else if thrs > 0 {
        format!("{thrs}h{}m{}s", tmins % 60, tsecs % 60)
    } else if tmins > 0 {
        format!("{tmins}m{}s", tsecs % 60)
    } else {
        format!("{tsecs}s")
    }
}

/// Go's `time.Duration.String()`, as nats-server writes `rtt`. Between 1µs
/// and 1ms nats-server truncates to whole microseconds first.
pub fn go_duration(d: Duration) -> String {
    let d = if d > Duration::from_micros(1) && d < Duration::from_millis(1) {
        Duration::from_micros(d.as_micros() as u64)
    } else {
        d
    };
    crate::config::format_go_duration(d)
}

/// The HTTP `Date` header value (RFC 7231 IMF-fixdate).
pub fn http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let days = secs / 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    let rem = secs % 86_400;
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(m as usize).saturating_sub(1) % 12],
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_trim_nanoseconds_like_go() {
        let t = UNIX_EPOCH + Duration::new(1_795_941_698, 157_669_000);
        assert_eq!(rfc3339(t), "2026-11-29T08:41:38.157669Z");
        let t = UNIX_EPOCH + Duration::new(1_795_941_698, 0);
        assert_eq!(rfc3339(t), "2026-11-29T08:41:38Z");
        assert_eq!(http_date(t), "Sun, 29 Nov 2026 08:41:38 GMT");
    }

    #[test]
    fn uptimes_drop_leading_zero_units() {
        assert_eq!(uptime(Duration::from_millis(999)), "0s");
        assert_eq!(uptime(Duration::from_secs(61)), "1m1s");
        assert_eq!(uptime(Duration::from_secs(3 * 3600 + 5)), "3h0m5s");
        assert_eq!(uptime(Duration::from_secs(2 * 86_400 + 1)), "2d0h0m1s");
        assert_eq!(uptime(Duration::from_secs(366 * 86_400)), "1y1d0h0m0s");
    }

    #[test]
    fn rtt_like_go() {
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_nanos(758_123)), "758\u{b5}s");
        assert_eq!(go_duration(Duration::from_nanos(1_500_000)), "1.5ms");
    }
}
