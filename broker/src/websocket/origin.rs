//! Origin checks of the upgrade request (`same_origin`,
//! `allowed_origins`), with nats-server's rules: a request without an
//! `Origin` header is accepted (only browsers send one, and any other
//! client could send anything); otherwise the origin's scheme, host and
//! port must match the request's `Host` and/or an allowed origin.

use std::collections::HashMap;

/// The origin rules in force for a listener.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    same_origin: bool,
    /// Allowed origins by lower-case host: (scheme, port) pairs.
    allowed: HashMap<String, Vec<(String, String)>>,
}

impl OriginPolicy {
    /// Build from the config (origins were validated when it was read; an
    /// unparsable one is skipped with an error log).
    pub fn new(same_origin: bool, allowed_origins: &[String]) -> Self {
        let mut allowed: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for origin in allowed_origins {
            match split_origin(origin) {
                Ok((scheme, host, port)) => allowed.entry(host).or_default().push((scheme, port)),
                Err(e) => tracing::error!("error parsing allowed origin: {e}"),
            }
        }
        OriginPolicy {
            same_origin,
            allowed,
        }
    }

    /// Whether checks apply at all.
    pub fn is_open(&self) -> bool {
        !self.same_origin && self.allowed.is_empty()
    }

    /// Check the request's `Origin` against `Host`. `Err` carries why (the
    /// listener logs it; the client gets a bare 403).
    pub fn check(&self, origin: Option<&str>, host: &str) -> Result<(), String> {
        if self.is_open() {
            return Ok(());
        }
        let Some(origin) = origin.filter(|o| !o.is_empty()) else {
            return Ok(());
        };
        let (scheme, oh, op) = split_origin(origin)?;
        if self.same_origin {
            // Tern has no TLS: the request came over plain http.
            let (rh, rp) = host_and_port(false, host)?;
            if oh != rh || op != rp || !scheme.eq_ignore_ascii_case("http") {
                return Err("not same origin".into());
            }
        }
        if !self.allowed.is_empty() {
            let ok = self
                .allowed
                .get(&oh)
                .is_some_and(|list| list.iter().any(|(s, p)| *s == scheme && *p == op));
            if !ok {
                return Err("not in the allowed list".into());
            }
        }
        Ok(())
    }
}

/// `scheme://host[:port][/...]` → (scheme, lower-case host, port).
fn split_origin(origin: &str) -> Result<(String, String, String), String> {
    let (scheme, rest) = origin
        .split_once("://")
        .ok_or_else(|| format!("parse {origin:?}: invalid URI for request"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = host_and_port(scheme == "https", authority)?;
    Ok((scheme.to_string(), host, port))
}

/// Split `host[:port]` (IPv6 in brackets); a missing port is the scheme's
/// default, 443 with TLS and 80 without. The host is lower-cased.
pub fn host_and_port(tls: bool, hostport: &str) -> Result<(String, String), String> {
    let default_port = if tls { "443" } else { "80" };
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("address {hostport}: missing ']' in address"))?;
        match after {
            "" => (h, default_port),
            a => (
                h,
                a.strip_prefix(':')
                    .ok_or_else(|| format!("address {hostport}: unexpected text after ']'"))?,
            ),
        }
    } else {
        match hostport.matches(':').count() {
            0 => (hostport, default_port),
            1 => hostport.split_once(':').unwrap_or((hostport, default_port)),
            _ => return Err(format!("address {hostport}: too many colons in address")),
        }
    };
    Ok((host.to_lowercase(), port.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_policy_accepts_anything() {
        let p = OriginPolicy::new(false, &[]);
        assert!(p.check(Some("http://evil.example"), "x:1").is_ok());
    }

    #[test]
    fn allowed_list() {
        let p = OriginPolicy::new(
            false,
            &[
                "http://app.example:8080".into(),
                "https://app.example".into(),
            ],
        );
        assert!(p.check(Some("http://APP.example:8080"), "h").is_ok());
        assert!(p.check(Some("https://app.example:443"), "h").is_ok());
        assert!(p.check(Some("https://app.example"), "h").is_ok());
        assert_eq!(
            p.check(Some("http://app.example"), "h"),
            Err("not in the allowed list".into())
        );
        assert_eq!(
            p.check(Some("http://other:8080"), "h"),
            Err("not in the allowed list".into())
        );
        assert!(
            p.check(None, "h").is_ok(),
            "no Origin header: not a browser"
        );
        assert!(p.check(Some("null"), "h").is_err());
    }

    #[test]
    fn same_origin() {
        let p = OriginPolicy::new(true, &[]);
        assert!(p
            .check(Some("http://localhost:8080"), "localhost:8080")
            .is_ok());
        assert!(p.check(Some("http://localhost"), "localhost:80").is_ok());
        assert_eq!(
            p.check(Some("http://localhost:9"), "localhost:8080"),
            Err("not same origin".into())
        );
        assert!(p
            .check(Some("https://localhost:8080"), "localhost:8080")
            .is_err());
    }

    #[test]
    fn ipv6_hosts() {
        assert_eq!(
            host_and_port(false, "[::1]:80").unwrap(),
            ("::1".into(), "80".into())
        );
        assert_eq!(
            host_and_port(true, "[::1]").unwrap(),
            ("::1".into(), "443".into())
        );
        assert!(host_and_port(false, "::1:80").is_err());
    }
}
