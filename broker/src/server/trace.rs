//! Protocol tracing (`-V`, `trace: true`) of what clients send, in
//! nats-server's shape: `<<- [PUB foo 5]`, then, for a message,
//! `<<- MSG_PAYLOAD: ["hello"]` — cut to `max_traced_msg_len` bytes
//! (ending in `...`), or only the headers with `trace_headers`.

use crate::protocol::ClientOp;

use super::session::Session;

/// Trace one operation `raw` (its bytes in the read buffer) parsed as `op`.
pub(crate) fn inbound(session: &Session, raw: &[u8], op: &ClientOp<'_>) {
    let line_end = memchr::memchr(b'\n', raw).unwrap_or(raw.len());
    let line = String::from_utf8_lossy(&raw[..line_end]);
    let (addr, cid) = (session.handle.addr, session.handle.id);
    tracing::trace!("{addr} - cid:{cid} - <<- [{}]", line.trim_end());
    if let ClientOp::Pub {
        headers, payload, ..
    } = op
    {
        let log = &session.config.log;
        if let Some(shown) =
            payload_text(*headers, payload, log.trace_headers, log.max_traced_msg_len)
        {
            tracing::trace!("{addr} - cid:{cid} - <<- MSG_PAYLOAD: [{shown}]");
        }
    }
}

/// What a `MSG_PAYLOAD` line shows of a message, quoted as Go's `%q`
/// does; `None` when there is nothing to show.
fn payload_text(
    headers: Option<&[u8]>,
    payload: &[u8],
    headers_only: bool,
    max_len: usize,
) -> Option<String> {
    let shown: Vec<u8> = match (headers_only, headers) {
        // The header block without its closing blank line.
        (true, Some(h)) => h.strip_suffix(b"\r\n\r\n").unwrap_or(h).to_vec(),
        (true, None) => return None,
        (false, h) => [h.unwrap_or_default(), payload].concat(),
    };
    if shown.is_empty() {
        return None;
    }
    if max_len > 0 && shown.len() > max_len {
        let quoted = go_quote(&shown[..max_len]);
        return Some(format!("{}...\"", &quoted[..quoted.len() - 1]));
    }
    Some(go_quote(&shown))
}

/// `bytes` as a double-quoted string with Go's escapes: printable text as
/// is, `\n` `\r` `\t` `\"` `\\`, other control characters and invalid
/// UTF-8 as `\xNN`.
fn go_quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_quoted_and_cut_like_nats_server() {
        assert_eq!(
            payload_text(None, b"hello", false, 0).as_deref(),
            Some("\"hello\"")
        );
        assert_eq!(payload_text(None, b"", false, 0), None);
        assert_eq!(
            payload_text(None, b"a \"b\"\r\n\x01\xff\\", false, 0).as_deref(),
            Some(r#""a \"b\"\r\n\x01\xff\\""#)
        );
        assert_eq!(
            payload_text(None, b"hello world", false, 5).as_deref(),
            Some("\"hello...\"")
        );
        let h: &[u8] = b"NATS/1.0\r\nA: b\r\n\r\n";
        assert_eq!(
            payload_text(Some(h), b"data", true, 0).as_deref(),
            Some(r#""NATS/1.0\r\nA: b""#)
        );
        assert_eq!(payload_text(None, b"data", true, 0), None);
        assert_eq!(
            payload_text(Some(h), b"data", false, 0).as_deref(),
            Some(r#""NATS/1.0\r\nA: b\r\n\r\ndata""#)
        );
    }
}
