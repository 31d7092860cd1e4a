//! The acknowledgement protocol: the reply subject every delivered message
//! carries (`$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.
//! <pending>`, which clients also parse for message metadata) and the ack
//! bodies a client answers with (`+ACK`, `-NAK`, `+WPI`, `+NXT`, `+TERM`).

use bytes::Bytes;
use serde::Deserialize;

use super::pull::PullRequest;

/// The prefix of every ack subject.
pub const ACK_PREFIX: &str = "$JS.ACK.";

/// The ack subject for one delivery.
pub fn ack_subject(
    stream: &str,
    consumer: &str,
    delivery_count: u64,
    stream_seq: u64,
    consumer_seq: u64,
    timestamp: i64,
    pending: u64,
) -> String {
    format!(
        "{ACK_PREFIX}{stream}.{consumer}.{delivery_count}.{stream_seq}.{consumer_seq}.{timestamp}.{pending}"
    )
}

/// The sequences an ack subject names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckTarget {
    pub delivery_count: u64,
    pub stream_seq: u64,
    pub consumer_seq: u64,
}

/// Reads the numbers back out of an ack subject (the five tokens after
/// stream and consumer); `None` for anything else.
pub fn parse_ack_subject(subject: &[u8]) -> Option<AckTarget> {
    let text = std::str::from_utf8(subject).ok()?;
    let rest = text.strip_prefix(ACK_PREFIX)?;
    let tokens: Vec<&str> = rest.split('.').collect();
    if tokens.len() != 7 {
        return None;
    }
    Some(AckTarget {
        delivery_count: tokens[2].parse().ok()?,
        stream_seq: tokens[3].parse().ok()?,
        consumer_seq: tokens[4].parse().ok()?,
    })
}

/// What an ack body asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum AckKind {
    /// `+ACK` (or an empty body).
    Ack,
    /// `-NAK`, optionally redelivered after a delay (ns).
    Nak { delay: Option<i64> },
    /// `+WPI`: still working, restart the ack timer.
    Progress,
    /// `+NXT`: ack, and treat the reply subject as a pull request.
    Next(PullRequest),
    /// `+TERM`: never redeliver.
    Term,
}

#[derive(Deserialize)]
struct NakBody {
    #[serde(default)]
    delay: i64,
}

/// Parses an ack body; unknown bodies are `None` (nats-server ignores them).
pub fn parse_ack(body: &[u8]) -> Option<AckKind> {
    let body = body.trim_ascii();
    if body.is_empty() || body == b"+ACK" {
        return Some(AckKind::Ack);
    }
    let (verb, rest) = match body.iter().position(|b| *b == b' ') {
        Some(i) => (&body[..i], body[i + 1..].trim_ascii()),
        None => (body, &b""[..]),
    };
    match verb {
        b"+ACK" => Some(AckKind::Ack),
        b"-NAK" => {
            let delay = if rest.is_empty() {
                None
            } else if rest.starts_with(b"{") {
                serde_json::from_slice::<NakBody>(rest)
                    .ok()
                    .map(|b| b.delay)
                    .filter(|d| *d > 0)
            } else {
                std::str::from_utf8(rest)
                    .ok()
                    .and_then(|t| crate::config::parse_go_duration(t).ok())
                    .filter(|d| *d > 0)
            };
            Some(AckKind::Nak { delay })
        }
        b"+WPI" => Some(AckKind::Progress),
        b"+NXT" => PullRequest::parse(rest).ok().map(AckKind::Next),
        b"+TERM" => Some(AckKind::Term),
        _ => None,
    }
}

/// An ack as the consumer task receives it.
#[derive(Debug)]
pub struct Ack {
    pub target: AckTarget,
    pub kind: AckKind,
    /// Where to confirm it (`AckSync`), or where `+NXT` wants messages.
    pub reply: Option<Bytes>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip() {
        let s = ack_subject("ORDERS", "d", 2, 40, 12, 1_700_000_000_000_000_000, 5);
        assert_eq!(s, "$JS.ACK.ORDERS.d.2.40.12.1700000000000000000.5");
        assert_eq!(
            parse_ack_subject(s.as_bytes()),
            Some(AckTarget {
                delivery_count: 2,
                stream_seq: 40,
                consumer_seq: 12
            })
        );
        assert_eq!(parse_ack_subject(b"$JS.ACK.S.d.x.1.1.1.1"), None);
        assert_eq!(parse_ack_subject(b"$JS.ACK.S.d.1.1.1.1"), None);
    }

    #[test]
    fn bodies() {
        assert_eq!(parse_ack(b""), Some(AckKind::Ack));
        assert_eq!(parse_ack(b"+ACK"), Some(AckKind::Ack));
        assert_eq!(parse_ack(b"-NAK"), Some(AckKind::Nak { delay: None }));
        assert_eq!(
            parse_ack(br#"-NAK {"delay": 2000000000}"#),
            Some(AckKind::Nak {
                delay: Some(2_000_000_000)
            })
        );
        assert_eq!(
            parse_ack(b"-NAK 1s"),
            Some(AckKind::Nak {
                delay: Some(1_000_000_000)
            })
        );
        assert_eq!(parse_ack(b"+WPI"), Some(AckKind::Progress));
        assert_eq!(parse_ack(b"+TERM some reason"), Some(AckKind::Term));
        assert!(matches!(parse_ack(b"+NXT {\"batch\":5}"), Some(AckKind::Next(r)) if r.batch == 5));
        assert!(matches!(parse_ack(b"+NXT"), Some(AckKind::Next(r)) if r.batch == 1));
        assert_eq!(parse_ack(b"whatever"), None);
    }
}
