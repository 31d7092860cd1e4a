//! The NATS header block (`NATS/1.0\r\nName: value\r\n...\r\n\r\n`) as the
//! plugin interface sees it: a list of name/value pairs.

use super::bindings::types::Header;

/// The name/value pairs of a header block, in order. The status line is
/// skipped; malformed lines (no colon) are skipped too.
pub fn parse(block: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    block
        .split(|b| *b == b'\n')
        .skip(1)
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
        .filter_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            let (name, value) = line.split_at(colon);
            let value = &value[1..];
            let start = value
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(value.len());
            Some((name, &value[start..]))
        })
}

/// Encode headers a plugin returned. `None` for an empty list (the message
/// then goes out without headers); an error names the first header that
/// could not be written on the wire.
pub fn encode(headers: &[Header]) -> Result<Option<Vec<u8>>, String> {
    if headers.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(
        12 + headers
            .iter()
            .map(|h| h.name.len() + h.value.len() + 4)
            .sum::<usize>(),
    );
    out.extend_from_slice(b"NATS/1.0\r\n");
    for h in headers {
        let bad_name = h.name.is_empty()
            || h.name
                .bytes()
                .any(|b| b == b':' || b.is_ascii_whitespace() || b.is_ascii_control());
        if bad_name {
            return Err(format!("header name {:?} is not valid", h.name));
        }
        if h.value.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(format!("header {:?} has a line break in its value", h.name));
        }
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_and_skips_the_status_line() {
        let block = b"NATS/1.0 503\r\nA: 1\r\nB:two \r\nbad line\r\n\r\n";
        let pairs: Vec<_> = parse(block).collect();
        assert_eq!(pairs, [(&b"A"[..], &b"1"[..]), (&b"B"[..], &b"two "[..])]);
    }

    #[test]
    fn encodes_and_refuses_what_the_wire_cannot_carry() {
        let h = |n: &str, v: &str| Header {
            name: n.into(),
            value: v.into(),
        };
        let block = encode(&[h("X-Site", "north")]).unwrap().unwrap();
        assert_eq!(block, b"NATS/1.0\r\nX-Site: north\r\n\r\n");
        assert_eq!(encode(&[]).unwrap(), None);
        assert!(encode(&[h("a b", "x")]).is_err());
        assert!(encode(&[h("a", "x\r\nInjected: 1")]).is_err());
    }
}
