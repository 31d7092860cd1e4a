//! Numbers with units, read the way nats-server (and Go) read them: sizes
//! with nats-server's suffixes (`k` = 1000 but `kb`/`ki`/`kib` = 1024),
//! durations in Go's `time.ParseDuration` syntax (`2m`, `1h30m`, `500ms`),
//! and command-line integers and booleans as Go's `strconv` parses them.

use std::time::Duration;

/// The multiplier for a size suffix, matched case-insensitively. A single
/// letter is decimal, the `b`/`i`/`ib` forms binary — nats-server's table.
pub(crate) fn size_multiplier(suffix: &str) -> Option<i64> {
    let power = |base: i64, n: u32| base.pow(n);
    Some(match suffix.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" => power(1000, 1),
        "kb" | "ki" | "kib" => power(1024, 1),
        "m" => power(1000, 2),
        "mb" | "mi" | "mib" => power(1024, 2),
        "g" => power(1000, 3),
        "gb" | "gi" | "gib" => power(1024, 3),
        "t" => power(1000, 4),
        "tb" | "ti" | "tib" => power(1024, 4),
        "p" => power(1000, 5),
        "pb" | "pi" | "pib" => power(1024, 5),
        "e" => power(1000, 6),
        "eb" | "ei" | "eib" => power(1024, 6),
        _ => return None,
    })
}

/// Reads an integer token of the .conf syntax: an optional `-`, digits, and
/// an optional size suffix. Returns the value and the suffix, if any.
///
/// nats-server silently drops a value whose suffix is not in its table (the
/// lexer accepts `10mbb`) and wraps on overflow; both are errors here.
pub(crate) fn parse_conf_integer(text: &str) -> Result<(i64, Option<String>), String> {
    let digits_end = text
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '-'))
        .map_or(text.len(), |(i, _)| i);
    let (digits, suffix) = text.split_at(digits_end);
    let number: i64 = digits.parse().map_err(|e: std::num::ParseIntError| {
        if matches!(
            e.kind(),
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
        ) {
            format!("integer '{text}' is out of the range")
        } else {
            format!("expected integer, but got '{text}'")
        }
    })?;
    let suffix = suffix.trim();
    let multiplier =
        size_multiplier(suffix).ok_or_else(|| format!("unknown size suffix in '{text}'"))?;
    let value = number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("integer '{text}' is out of the range"))?;
    let suffix = (!suffix.is_empty()).then(|| suffix.to_string());
    Ok((value, suffix))
}

/// Reads a size written as a string (TOML has no size literals):
/// `"64MB"`, `"1 GiB"`, `"8388608"`.
pub(crate) fn parse_size(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    let digits_end = trimmed
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
        .map_or(trimmed.len(), |(i, _)| i);
    let (digits, suffix) = trimmed.split_at(digits_end);
    let invalid = || {
        format!(
            "invalid size {text:?}: expected a number with an optional unit such as KB, MB or GB"
        )
    };
    let number: i64 = digits.parse().map_err(|_| invalid())?;
    let multiplier = size_multiplier(suffix.trim()).ok_or_else(invalid)?;
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size {text:?} is out of range"))
}

const NANOS_PER: [(&str, u64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a duration exactly as Go's `time.ParseDuration` does (which is what
/// nats-server uses), returning signed nanoseconds. Error texts are Go's, so
/// messages match what nats-server prints.
pub(crate) fn parse_go_duration(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        // Each element is a number (with optional fraction) and a unit.
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after) = rest.split_at(int_len);
        let mut whole: u64 = 0;
        for b in int_part.bytes() {
            whole = whole
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .filter(|v| *v <= 1 << 63)
                .ok_or_else(invalid)?;
        }
        rest = after;
        let mut fraction: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut has_fraction = false;
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            let (frac_part, after) = after_dot.split_at(frac_len);
            for b in frac_part.bytes() {
                // Go stops accumulating once more digits would overflow.
                if fraction > (u64::MAX >> 1) / 10 {
                    continue;
                }
                fraction = fraction * 10 + u64::from(b - b'0');
                scale *= 10.0;
            }
            has_fraction = frac_len > 0;
            rest = after;
        }
        if int_len == 0 && !has_fraction {
            return Err(invalid());
        }
        let unit_len = rest
            .char_indices()
            .find(|&(_, c)| c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {text:?}"));
        }
        let (unit, after) = rest.split_at(unit_len);
        rest = after;
        let per = NANOS_PER
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, n)| *n)
            .ok_or_else(|| format!("time: unknown unit {unit:?} in duration {text:?}"))?;
        let mut element = whole
            .checked_mul(per)
            .filter(|v| *v <= 1 << 63)
            .ok_or_else(invalid)?;
        if fraction > 0 {
            // Float arithmetic as in Go; exact for every realistic config value.
            element = element
                .checked_add((fraction as f64 * (per as f64 / scale)) as u64)
                .filter(|v| *v <= 1 << 63)
                .ok_or_else(invalid)?;
        }
        total = total
            .checked_add(element)
            .filter(|v| *v <= 1 << 63)
            .ok_or_else(invalid)?;
    }
    if negative {
        // -(1<<63) is the one value whose magnitude does not fit in i64.
        Ok(0i64.wrapping_sub_unsigned(total))
    } else {
        i64::try_from(total).map_err(|_| invalid())
    }
}

/// Formats a duration as Go's `time.Duration.String` does (`1m30s`, `500ms`,
/// `2h0m0s`), for messages that quote nats-server's wording.
pub(crate) fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        let (unit, div) = if nanos < 1_000 {
            ("ns", 1)
        } else if nanos < 1_000_000 {
            ("\u{b5}s", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", decimal(nanos, div));
    }
    let hours = nanos / 3_600_000_000_000;
    let minutes = (nanos / 60_000_000_000) % 60;
    let seconds = decimal(nanos % 60_000_000_000, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

/// `value / div` with the remainder as a trimmed decimal fraction.
fn decimal(value: u128, div: u128) -> String {
    let whole = value / div;
    let rem = value % div;
    if rem == 0 {
        return whole.to_string();
    }
    let width = div.ilog10() as usize;
    let frac = format!("{rem:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Go's `strconv.ParseInt(s, 0, 64)`, used by the `flag` package for int
/// flags: optional sign, `0x`/`0o`/`0b`/leading-`0` base prefixes, and `_`
/// between digits (as in Go literals). Errors are the `flag` package's
/// short reasons.
pub(crate) fn parse_go_int(text: &str) -> Result<i64, &'static str> {
    const PARSE: &str = "parse error";
    const RANGE: &str = "value out of range";
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if !underscores_ok(body) {
        return Err(PARSE);
    }
    let lower = body.to_ascii_lowercase().replace('_', "");
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(PARSE);
    }
    let magnitude = u64::from_str_radix(digits, radix).map_err(|_| RANGE)?;
    if negative {
        0i64.checked_sub_unsigned(magnitude).ok_or(RANGE)
    } else {
        i64::try_from(magnitude).map_err(|_| RANGE)
    }
}

/// Go's rule for `_` in integer literals: only between digits, or right
/// after a base prefix.
fn underscores_ok(body: &str) -> bool {
    let bytes = body.as_bytes();
    let mut rest = bytes;
    let mut last = b'^';
    if bytes.len() >= 2
        && bytes[0] == b'0'
        && matches!(bytes[1].to_ascii_lowercase(), b'b' | b'o' | b'x')
    {
        rest = &bytes[2..];
        last = b'0';
    }
    for &c in rest {
        last = match c {
            b'_' if last != b'0' => return false,
            b'_' => b'_',
            c if c.is_ascii_hexdigit() => b'0',
            _ if last == b'_' => return false,
            _ => b'!',
        };
    }
    last != b'_'
}

/// Go's `strconv.ParseBool`, which boolean flags use for `-flag=value`.
pub(crate) fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A non-negative duration from Go nanoseconds.
pub(crate) fn nanos_to_duration(nanos: i64) -> Option<Duration> {
    u64::try_from(nanos).ok().map(Duration::from_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_integer_suffixes_follow_nats_table() {
        let v = |s: &str| parse_conf_integer(s).map(|(v, _)| v);
        assert_eq!(v("8388608"), Ok(8_388_608));
        assert_eq!(v("-1"), Ok(-1));
        assert_eq!(v("1k"), Ok(1000));
        assert_eq!(v("1K"), Ok(1000));
        assert_eq!(v("1kb"), Ok(1024));
        assert_eq!(v("1KiB"), Ok(1024));
        assert_eq!(v("1ki"), Ok(1024));
        assert_eq!(v("256MB"), Ok(256 << 20));
        assert_eq!(v("2m"), Ok(2_000_000));
        assert_eq!(v("2GB"), Ok(2 << 30));
        assert_eq!(v("100GB"), Ok(100 << 30));
        assert_eq!(v("1t"), Ok(1_000_000_000_000));
        assert_eq!(v("1TB"), Ok(1 << 40));
        assert_eq!(v("1pib"), Ok(1 << 50));
        assert_eq!(v("1e"), Ok(1_000_000_000_000_000_000));
        assert_eq!(v("1EB"), Ok(1 << 60));
        assert_eq!(v("-2k"), Ok(-2000));
        assert_eq!(
            parse_conf_integer("2m"),
            Ok((2_000_000, Some("m".to_string())))
        );
        assert_eq!(parse_conf_integer("7"), Ok((7, None)));
    }

    #[test]
    fn conf_integer_rejects_what_nats_silently_mangles() {
        assert!(parse_conf_integer("10mbb")
            .unwrap_err()
            .contains("unknown size suffix"));
        assert!(parse_conf_integer("16EB")
            .unwrap_err()
            .contains("out of the range"));
        assert!(parse_conf_integer("99999999999999999999")
            .unwrap_err()
            .contains("out of the range"));
        assert!(parse_conf_integer("1-2")
            .unwrap_err()
            .contains("expected integer"));
    }

    #[test]
    fn string_sizes() {
        assert_eq!(parse_size("1MB"), Ok(1 << 20));
        assert_eq!(parse_size(" 64 MiB "), Ok(64 << 20));
        assert_eq!(parse_size("8388608"), Ok(8_388_608));
        assert_eq!(parse_size("1k"), Ok(1000));
        assert_eq!(parse_size("-1"), Ok(-1));
        assert!(parse_size("MB").is_err());
        assert!(parse_size("1.5MB").is_err());
        assert!(parse_size("1 XB").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn go_durations() {
        let d = parse_go_duration;
        assert_eq!(d("2m"), Ok(120_000_000_000));
        assert_eq!(d("10s"), Ok(10_000_000_000));
        assert_eq!(d("500ms"), Ok(500_000_000));
        assert_eq!(d("1h"), Ok(3_600_000_000_000));
        assert_eq!(d("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(d("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(d(".5s"), Ok(500_000_000));
        assert_eq!(d("1.s"), Ok(1_000_000_000));
        assert_eq!(d("300us"), Ok(300_000));
        assert_eq!(d("300\u{b5}s"), Ok(300_000));
        assert_eq!(d("300\u{3bc}s"), Ok(300_000));
        assert_eq!(d("7ns"), Ok(7));
        assert_eq!(d("0"), Ok(0));
        assert_eq!(d("-0"), Ok(0));
        assert_eq!(d("+5s"), Ok(5_000_000_000));
        assert_eq!(d("-1s"), Ok(-1_000_000_000));
        assert_eq!(d("2562047h47m16.854775807s"), Ok(i64::MAX));
        assert_eq!(d("-2562047h47m16.854775808s"), Ok(i64::MIN));
    }

    #[test]
    fn go_duration_errors_use_go_wording() {
        assert_eq!(
            parse_go_duration("abc"),
            Err("time: invalid duration \"abc\"".into())
        );
        assert_eq!(
            parse_go_duration(""),
            Err("time: invalid duration \"\"".into())
        );
        assert_eq!(
            parse_go_duration("."),
            Err("time: invalid duration \".\"".into())
        );
        assert_eq!(
            parse_go_duration("10"),
            Err("time: missing unit in duration \"10\"".into())
        );
        assert_eq!(
            parse_go_duration("10x"),
            Err("time: unknown unit \"x\" in duration \"10x\"".into())
        );
        assert_eq!(
            parse_go_duration("2562047h47m16.854775808s"),
            Err("time: invalid duration \"2562047h47m16.854775808s\"".into())
        );
        assert!(parse_go_duration("1d").is_err());
    }

    #[test]
    fn go_duration_formatting() {
        let f = |s: u64, n: u32| format_go_duration(Duration::new(s, n));
        assert_eq!(f(0, 0), "0s");
        assert_eq!(f(10, 0), "10s");
        assert_eq!(f(90, 0), "1m30s");
        assert_eq!(f(120, 0), "2m0s");
        assert_eq!(f(7200, 0), "2h0m0s");
        assert_eq!(f(1, 500_000_000), "1.5s");
        assert_eq!(f(0, 500_000_000), "500ms");
        assert_eq!(f(0, 1_500), "1.5\u{b5}s");
        assert_eq!(f(0, 7), "7ns");
    }

    #[test]
    fn go_ints_like_strconv_base_zero() {
        assert_eq!(parse_go_int("4222"), Ok(4222));
        assert_eq!(parse_go_int("-1"), Ok(-1));
        assert_eq!(parse_go_int("+7"), Ok(7));
        assert_eq!(parse_go_int("0x10"), Ok(16));
        assert_eq!(parse_go_int("0o17"), Ok(15));
        assert_eq!(parse_go_int("017"), Ok(15));
        assert_eq!(parse_go_int("0b101"), Ok(5));
        assert_eq!(parse_go_int("0x_1_0"), Ok(16));
        assert_eq!(parse_go_int("0"), Ok(0));
        assert_eq!(parse_go_int("1_000"), Ok(1000));
        assert_eq!(parse_go_int("0_7"), Ok(7));
        assert_eq!(parse_go_int("1__0"), Err("parse error"));
        assert_eq!(parse_go_int("_1"), Err("parse error"));
        assert_eq!(parse_go_int("1_"), Err("parse error"));
        assert_eq!(parse_go_int("abc"), Err("parse error"));
        assert_eq!(parse_go_int(""), Err("parse error"));
        assert_eq!(parse_go_int("09"), Err("parse error"));
        assert_eq!(
            parse_go_int("9223372036854775808"),
            Err("value out of range")
        );
        assert_eq!(parse_go_int("-9223372036854775808"), Ok(i64::MIN));
    }

    #[test]
    fn go_bools() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_go_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_go_bool(f), Some(false), "{f}");
        }
        for bad in ["yes", "on", "tRUE", ""] {
            assert_eq!(parse_go_bool(bad), None, "{bad}");
        }
    }
}
