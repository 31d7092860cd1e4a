//! A `tls {}` block: nats-server's keys, aliases and error texts. The
//! block's files are loaded here too (through [`crate::tls`]), so a missing
//! or unreadable certificate is a config error at the block's file and
//! line, and `tern -t` finds it. Keys of features Tern lacks (OS certificate
//! stores, OCSP, cluster URL checks) are recorded as unsupported.

use std::path::PathBuf;
use std::time::Duration;

use super::apply::{Applier, Field};
use super::error::ConfigError;
use super::model_tls::{CertKeyPair, TlsConfig, TlsVersion, DEFAULT_HANDSHAKE_FIRST_FALLBACK};
use super::value::Kind;

/// A listener's `tls { ... }`, checked and with its files loaded.
pub(super) fn tls_block(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<TlsConfig, ConfigError> {
    let tc = block_keys(cx, f)?;
    crate::tls::server_config(&tc).map_err(|e| f.invalid(e.to_string()))?;
    Ok(tc)
}

/// A dialer's `tls { ... }` (a leafnode remote's): no certificate is
/// needed, and one given is the client certificate.
pub(super) fn dialer_tls_block(
    cx: &mut Applier<'_>,
    f: &Field<'_>,
) -> Result<TlsConfig, ConfigError> {
    let tc = block_keys(cx, f)?;
    crate::tls::client_config(&tc).map_err(|e| f.invalid(e.to_string()))?;
    Ok(tc)
}

/// The keys of a block, for either side.
fn block_keys(cx: &mut Applier<'_>, f: &Field<'_>) -> Result<TlsConfig, ConfigError> {
    let table = f
        .table()
        .map_err(|_| f.wrong_type("a map (tls { cert_file: ..., key_file: ... })"))?;
    let mut tc = TlsConfig::default();
    let (mut cert_file, mut key_file) = (None, None);
    for entry in &table.entries {
        let child = f.child(entry);
        let key = entry.key.to_lowercase();
        let file = |what: &str| -> Result<PathBuf, ConfigError> {
            child.string().map(PathBuf::from).map_err(|_| {
                child.invalid(format!(
                    "error parsing tls config, expected '{what}' to be filename"
                ))
            })
        };
        let flag = |what: &str| -> Result<bool, ConfigError> {
            child.bool().map_err(|_| {
                child.invalid(format!(
                    "error parsing tls config, expected '{what}' to be a boolean"
                ))
            })
        };
        match key.as_str() {
            "cert_file" => cert_file = Some(file("cert_file")?),
            "key_file" => key_file = Some(file("key_file")?),
            "ca_file" => tc.ca_file = Some(file("ca_file")?),
            "verify" => tc.verify = flag("verify")?,
            "verify_and_map" => {
                let on = flag("verify_and_map")?;
                tc.verify |= on;
                tc.verify_and_map = on;
                if on {
                    cx.unsupported("tls verify_and_map", &child);
                }
            }
            // Only dialers skip verification; a listener ignores it.
            "insecure" => tc.insecure = flag("insecure")?,
            "timeout" => tc.timeout = Some(timeout(&child)?),
            "handshake_first" | "first" | "immediate" => handshake_first(&child, &mut tc)?,
            "pinned_certs" => {
                tc.pinned_certs = pinned_certs(&child)?;
                if !tc.pinned_certs.is_empty() {
                    cx.unsupported("tls pinned_certs", &child);
                }
            }
            "min_version" => tc.min_version = Some(min_version(&child)?),
            "cipher_suites" => {
                let names = child.strings()?;
                if names.is_empty() {
                    return Err(
                        child.invalid("error parsing tls config, 'cipher_suites' cannot be empty")
                    );
                }
                for name in &names {
                    if !crate::tls::is_known_cipher_suite(name) {
                        return Err(child.invalid(format!("unrecognized cipher {name}")));
                    }
                }
                tc.cipher_suites = names;
            }
            "curve_preferences" => {
                let names = child.strings()?;
                if names.is_empty() {
                    return Err(child
                        .invalid("error parsing tls config, 'curve_preferences' cannot be empty"));
                }
                for name in &names {
                    if !crate::tls::is_known_curve(name) {
                        return Err(child.invalid(format!("unrecognized curve preference {name}")));
                    }
                }
                tc.curve_preferences = names;
            }
            "certs" | "certificates" => {
                tc.certs.extend(cert_pairs(&child)?);
                // Choosing among several by SNI needs each one's names.
                if tc.certs.len() > 1 {
                    cx.unsupported("tls certs (more than one)", &child);
                }
            }
            // Insecure suites are not in rustls at all, so there is
            // nothing for this to allow.
            "allow_insecure_cipher_suites" => {
                flag("allow_insecure_cipher_suites")?;
            }
            "connection_rate_limit" => {
                if child.int()? != 0 {
                    cx.unsupported("tls connection_rate_limit", &child);
                }
            }
            "verify_cert_and_check_known_urls" => {
                if flag("verify_cert_and_check_known_urls")? {
                    cx.unsupported("tls verify_cert_and_check_known_urls", &child);
                }
            }
            "cert_store"
            | "cert_match_by"
            | "cert_match"
            | "ca_certs_match"
            | "cert_match_skip_invalid" => cx.unsupported("tls cert_store", &child),
            "ocsp_peer" => cx.unsupported("ocsp", &child),
            _ if entry.used_as_variable => {}
            _ => {
                return Err(child.invalid(format!(
                    "error parsing tls config, unknown field {:?}",
                    entry.key
                )))
            }
        }
    }
    match (cert_file, key_file) {
        (Some(_), _) if !tc.certs.is_empty() => {
            return Err(f.invalid(
                "error parsing tls config, cannot combine 'cert_file' option with 'certs' option",
            ))
        }
        (Some(cert_file), Some(key_file)) => tc.certs.push(CertKeyPair {
            cert_file,
            key_file,
        }),
        (None, None) => {}
        (Some(c), None) => {
            return Err(f.invalid(format!(
                "error parsing X509 certificate/key pair: {} has no key_file beside it",
                c.display()
            )))
        }
        (None, Some(_)) => {
            return Err(
                f.invalid("error parsing X509 certificate/key pair: key_file without cert_file")
            )
        }
    }
    // The caller loads the files now, so a bad one is a config error
    // with a line.
    Ok(tc)
}

/// `timeout`: seconds (integer or float) or a duration string.
fn timeout(f: &Field<'_>) -> Result<Duration, ConfigError> {
    let secs = match &f.value.kind {
        Kind::Integer { value, .. } => *value as f64,
        Kind::Float(v) => *v,
        Kind::String(_) => {
            let nanos = f
                .go_duration()
                .map_err(|e| f.invalid(format!("error parsing tls config, 'timeout' {e}")))?;
            nanos as f64 / 1e9
        }
        _ => return Err(f.invalid("error parsing tls config, 'timeout' wrong type")),
    };
    Duration::try_from_secs_f64(secs.max(0.0))
        .map_err(|_| f.invalid("error parsing tls config, 'timeout' out of range"))
}

/// `handshake_first`: a boolean, `auto` (fall back to INFO first after
/// 50 ms of silence) or a fallback duration.
fn handshake_first(f: &Field<'_>, tc: &mut TlsConfig) -> Result<(), ConfigError> {
    let name = f.path.rsplit('.').next().unwrap_or(&f.path).to_string();
    match &f.value.kind {
        Kind::Bool(b) => tc.handshake_first = *b,
        Kind::String(s) => match s.to_lowercase().as_str() {
            "true" | "on" => tc.handshake_first = true,
            "false" | "off" => tc.handshake_first = false,
            "auto" | "auto_fallback" => {
                tc.handshake_first = true;
                tc.handshake_first_fallback = Some(DEFAULT_HANDSHAKE_FIRST_FALLBACK);
            }
            _ => match crate::config::parse_go_duration(s) {
                Ok(nanos) if nanos > 0 => {
                    tc.handshake_first = true;
                    tc.handshake_first_fallback = Some(Duration::from_nanos(nanos as u64));
                }
                _ => return Err(f.invalid(format!("field {name:?}'s value {s:?} is invalid"))),
            },
        },
        other => {
            return Err(f.invalid(format!(
                "field {name:?} should be a boolean or a string, got {}",
                kind_name(other)
            )))
        }
    }
    Ok(())
}

fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Integer { .. } => "int64",
        Kind::Float(_) => "float64",
        Kind::Array(_) => "[]interface {}",
        Kind::Table(_) => "map[string]interface {}",
        _ => "value",
    }
}

/// `pinned_certs`: hex SHA-256 digests, lower-cased.
fn pinned_certs(f: &Field<'_>) -> Result<Vec<String>, ConfigError> {
    let list = f.strings().map_err(|_| {
        f.invalid("error parsing tls config, expected 'pinned_certs' to be a list of hex-encoded sha256 of DER encoded SubjectPublicKeyInfo")
    })?;
    list.into_iter()
        .map(|entry| {
            let entry = entry.to_lowercase();
            if entry.len() == 64 && entry.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(entry)
            } else {
                Err(f.invalid(format!("error parsing tls config, 'pinned_certs' key {entry} does not look like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo")))
            }
        })
        .collect()
}

/// `min_version`: "1.2" or "1.3" (older versions are not offered by
/// rustls, and nats-server refuses them too).
fn min_version(f: &Field<'_>) -> Result<TlsVersion, ConfigError> {
    let text = match &f.value.kind {
        Kind::String(s) => s.clone(),
        Kind::Float(v) => format!("{v}"),
        _ => return Err(f.invalid(
            "error parsing tls config: 'min_version' wrong type: expected a string such as \"1.2\"",
        )),
    };
    match text.as_str() {
        "1.2" => Ok(TlsVersion::V1_2),
        "1.3" => Ok(TlsVersion::V1_3),
        "1.0" | "1.1" => Err(f.invalid(format!(
            "error parsing tls config: unsupported TLS version: {text}"
        ))),
        _ => Err(f.invalid(format!("error parsing tls config: unknown version: {text}"))),
    }
}

/// `certs: [{cert_file, key_file}, ...]`.
fn cert_pairs(f: &Field<'_>) -> Result<Vec<CertKeyPair>, ConfigError> {
    let mut pairs = Vec::new();
    for (i, value) in f.array()?.iter().enumerate() {
        let item = f.index(i, value);
        let table = item.table().map_err(|_| {
            item.invalid("error parsing certificates config: unsupported type, expected a map")
        })?;
        let (mut cert, mut key) = (None, None);
        for entry in &table.entries {
            let child = item.child(entry);
            let path = PathBuf::from(child.string()?);
            match entry.key.as_str() {
                "cert_file" => cert = Some(path),
                "key_file" => key = Some(path),
                other => {
                    return Err(child.invalid(format!(
                        "error parsing tls certs config, unknown field {other:?}"
                    )))
                }
            }
        }
        match (cert, key) {
            (Some(cert_file), Some(key_file)) => pairs.push(CertKeyPair {
                cert_file,
                key_file,
            }),
            _ => {
                return Err(item.invalid(
                    "error parsing certificates config: both 'cert_file' and 'cert_key' options are required",
                ))
            }
        }
    }
    Ok(pairs)
}
