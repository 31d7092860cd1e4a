//! Query strings, decoded like Go's `url.ParseQuery` (`+` is a space, bad
//! `%` escapes drop the pair, the first value of a key wins), and
//! nats-server's parameter decoders with their exact error texts.

use super::error::RequestError;

/// The decoded `key=value` pairs of a query string.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: &str) -> Query {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .filter_map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                Some((unescape(k)?, unescape(v)?))
            })
            .collect();
        Query { pairs }
    }

    /// A query made of already-decoded pairs.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Query {
        Query { pairs }
    }

    /// The first value of `key`, or "" (Go's `Query().Get`).
    pub fn get(&self, key: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// nats-server's `decodeBool`: empty is false; otherwise Go's
    /// `strconv.ParseBool`.
    pub fn bool(&self, key: &str) -> Result<bool, RequestError> {
        let s = self.get(key);
        match s {
            "" => Ok(false),
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
            _ => Err(RequestError::BadQuery(format!(
                "Error decoding boolean for '{key}': strconv.ParseBool: parsing {}: invalid syntax",
                go_quote(s)
            ))),
        }
    }

    /// nats-server's `decodeInt`: empty is 0; otherwise Go's `strconv.Atoi`.
    pub fn int(&self, key: &str) -> Result<i64, RequestError> {
        let s = self.get(key);
        if s.is_empty() {
            return Ok(0);
        }
        let err = |why: &str| {
            RequestError::BadQuery(format!(
                "Error decoding int for '{key}': strconv.Atoi: parsing {}: {why}",
                go_quote(s)
            ))
        };
        let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("invalid syntax"));
        }
        s.parse::<i64>().map_err(|_| err("value out of range"))
    }

    /// nats-server's `decodeUint64`: empty is 0; otherwise Go's
    /// `strconv.ParseUint(s, 10, 64)`.
    pub fn uint64(&self, key: &str) -> Result<u64, RequestError> {
        let s = self.get(key);
        if s.is_empty() {
            return Ok(0);
        }
        let err = |why: &str| {
            RequestError::BadQuery(format!(
                "Error decoding uint64 for '{key}': strconv.ParseUint: parsing {}: {why}",
                go_quote(s)
            ))
        };
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("invalid syntax"));
        }
        s.parse::<u64>().map_err(|_| err("value out of range"))
    }

    /// nats-server's `decodeSubs`: `detail` asks for subscription details,
    /// anything else is a boolean. Returns (subs, detail).
    pub fn subs(&self) -> Result<(bool, bool), RequestError> {
        if self.get("subs").eq_ignore_ascii_case("detail") {
            return Ok((false, true));
        }
        Ok((self.bool("subs")?, false))
    }
}

/// Go's `%q` for the strings that reach an error message.
pub fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// Percent-decoding with `+` as space; `None` for a malformed escape or
/// bytes that are not UTF-8.
fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Percent-decoding of a URL path (`+` stays a plus).
pub fn unescape_path(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    unescape(&s.replace('+', "%2B"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_decode_like_go() {
        let q = Query::parse("a=1&b=x+y&c=%24G&a=2&bad=%zz&flag");
        assert_eq!(q.get("a"), "1");
        assert_eq!(q.get("b"), "x y");
        assert_eq!(q.get("c"), "$G");
        assert_eq!(q.get("bad"), "");
        assert_eq!(q.get("flag"), "");
        assert_eq!(q.get("missing"), "");
    }

    #[test]
    fn decoders_give_nats_server_errors() {
        let q = Query::parse("subs=2&limit=abc&cid=-1&ok=T&big=99999999999999999999&det=DETAIL");
        assert_eq!(
            q.bool("subs").unwrap_err().to_string(),
            "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"2\": invalid syntax"
        );
        assert_eq!(
            q.int("limit").unwrap_err().to_string(),
            "Error decoding int for 'limit': strconv.Atoi: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            q.uint64("cid").unwrap_err().to_string(),
            "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"-1\": invalid syntax"
        );
        assert_eq!(
            q.int("big").unwrap_err().to_string(),
            "Error decoding int for 'big': strconv.Atoi: parsing \"99999999999999999999\": value out of range"
        );
        assert_eq!(q.bool("ok"), Ok(true));
        assert_eq!(q.int("none"), Ok(0));
        assert_eq!(Query::parse("subs=DETAIL").subs(), Ok((false, true)));
        assert_eq!(Query::parse("subs=1").subs(), Ok((true, false)));
    }
}
