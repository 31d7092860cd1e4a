//! Routing replies of a service import back to the requester. A request
//! crossing into the exporting account gets a reply subject of that
//! account, `_R_.<import>.<token>`; one subscription per import on
//! `_R_.<import>.>` takes the replies, and the token finds the requester's
//! own reply subject. A singleton export allows one reply per request; a
//! stream or chunked export any number until the threshold (2 minutes by
//! default, as nats-server). Tokens are unpredictable, so a service sees
//! only the replies it was asked for and cannot reply into other requests.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::config::ResponseType;

/// nats-server's default response threshold.
pub const DEFAULT_THRESHOLD: Duration = Duration::from_secs(120);

/// How often expired routes are swept (when requests keep coming).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The reply routes of one service import.
pub struct Responses {
    /// `_R_.<6 characters>.`
    prefix: Vec<u8>,
    kind: ResponseType,
    threshold: Duration,
    /// Mixed into tokens so they cannot be guessed from one another.
    key: u64,
    table: Mutex<Table>,
}

struct Table {
    next: u64,
    routes: FxHashMap<u64, Route>,
    last_sweep: Instant,
}

struct Route {
    reply: Box<[u8]>,
    expires: Instant,
}

impl Responses {
    pub fn new(kind: ResponseType, threshold: Option<Duration>) -> Responses {
        let key = random_u64();
        let mut prefix = b"_R_.".to_vec();
        let mut v = random_u64();
        for _ in 0..6 {
            prefix.push(ALPHABET[(v % ALPHABET.len() as u64) as usize]);
            v /= ALPHABET.len() as u64;
        }
        prefix.push(b'.');
        Responses {
            prefix,
            kind,
            threshold: threshold.unwrap_or(DEFAULT_THRESHOLD),
            key,
            table: Mutex::new(Table {
                next: 0,
                routes: FxHashMap::default(),
                last_sweep: Instant::now(),
            }),
        }
    }

    /// The subject filter the reply subscription uses.
    pub fn filter(&self) -> String {
        format!("{}>", String::from_utf8_lossy(&self.prefix))
    }

    /// Remember `reply` (the requester's reply subject); returns the token
    /// and the reply subject the service is given.
    pub fn register(&self, reply: &[u8]) -> (u64, Vec<u8>) {
        let now = Instant::now();
        let mut t = self.table.lock();
        if now.duration_since(t.last_sweep) >= SWEEP_EVERY {
            t.routes.retain(|_, r| r.expires > now);
            t.last_sweep = now;
        }
        t.next += 1;
        let token = splitmix64(t.next ^ self.key);
        t.routes.insert(
            token,
            Route {
                reply: reply.into(),
                expires: now + self.threshold,
            },
        );
        drop(t);
        let mut subject = self.prefix.clone();
        subject.extend_from_slice(token_text(token).as_bytes());
        (token, subject)
    }

    /// Drop a route whose request reached nobody.
    pub fn forget(&self, token: u64) {
        self.table.lock().routes.remove(&token);
    }

    /// The requester's reply subject for a reply sent to `subject`; a
    /// singleton route is used up by it.
    pub fn route(&self, subject: &[u8]) -> Option<Box<[u8]>> {
        let rest = subject.strip_prefix(self.prefix.as_slice())?;
        let token = parse_token(rest)?;
        let mut t = self.table.lock();
        let now = Instant::now();
        match self.kind {
            ResponseType::Singleton => {
                let route = t.routes.remove(&token)?;
                (route.expires > now).then_some(route.reply)
            }
            ResponseType::Stream | ResponseType::Chunked => {
                let route = t.routes.get(&token)?;
                if route.expires > now {
                    Some(route.reply.clone())
                } else {
                    t.routes.remove(&token);
                    None
                }
            }
        }
    }

    /// Routes waiting for a reply.
    pub fn pending(&self) -> usize {
        self.table.lock().routes.len()
    }
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn token_text(token: u64) -> String {
    let mut out = Vec::with_capacity(11);
    let mut v = token;
    loop {
        out.push(ALPHABET[(v % 62) as usize]);
        v /= 62;
        if v == 0 {
            break;
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

fn parse_token(text: &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for &b in text.iter().rev() {
        let digit = ALPHABET.iter().position(|a| *a == b)? as u64;
        v = v.checked_mul(62)?.checked_add(digit)?;
    }
    (!text.is_empty()).then_some(v)
}

/// A bijection on u64 that scatters consecutive inputs.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seeded by the standard library's per-process random keys.
fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for v in [0, 1, 61, 62, u64::MAX, 1234567890123] {
            assert_eq!(parse_token(token_text(v).as_bytes()), Some(v));
        }
        assert_eq!(parse_token(b""), None);
        assert_eq!(parse_token(b"a.b"), None);
    }

    #[test]
    fn singleton_routes_are_used_once() {
        let r = Responses::new(ResponseType::Singleton, None);
        let (_, subject) = r.register(b"_INBOX.me");
        assert!(subject.starts_with(b"_R_."));
        assert_eq!(r.route(&subject).as_deref(), Some(&b"_INBOX.me"[..]));
        assert_eq!(r.route(&subject), None);
        let (token, _) = r.register(b"_INBOX.other");
        r.forget(token);
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn stream_routes_last_until_the_threshold() {
        let r = Responses::new(ResponseType::Stream, Some(Duration::from_millis(30)));
        let (_, subject) = r.register(b"_INBOX.s");
        assert!(r.route(&subject).is_some());
        assert!(r.route(&subject).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(r.route(&subject), None);
        let mut guessed = subject.clone();
        guessed.push(b'x');
        assert_eq!(r.route(&guessed), None);
    }
}
