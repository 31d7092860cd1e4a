//! A listener's rustls configuration from its `tls {}` block: the
//! certificate and key, the client-certificate roots when `verify` is on,
//! the protocol versions, cipher suites and curves allowed.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::{ring, CryptoProvider};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{TlsConfig, TlsVersion};

use super::TlsError;

/// The TLS 1.2 suites nats-server (Go's `tls.CipherSuites()`) accepts by
/// name. rustls offers the AEAD ones; the others are accepted in a config
/// and simply never negotiated.
const GO_SECURE_SUITES: &[&str] = &[
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
];

/// Go's curve names and the rustls group each means (`None`: not offered
/// by rustls's ring provider).
const GO_CURVES: &[(&str, Option<&str>)] = &[
    ("X25519", Some("X25519")),
    ("CurveP256", Some("secp256r1")),
    ("CurveP384", Some("secp384r1")),
    ("CurveP521", None),
];

/// Whether nats-server would accept `name` in `cipher_suites`.
pub fn is_known_cipher_suite(name: &str) -> bool {
    GO_SECURE_SUITES.contains(&name)
}

/// Whether nats-server would accept `name` in `curve_preferences`.
pub fn is_known_curve(name: &str) -> bool {
    GO_CURVES.iter().any(|(go, _)| *go == name)
}

/// The rustls configuration a listener with `tc` serves.
pub fn server_config(tc: &TlsConfig) -> Result<Arc<ServerConfig>, TlsError> {
    let pair = tc.certs.first().ok_or(TlsError::NoCertificate)?;
    let certs = load_certs(&pair.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&pair.key_file).map_err(|e| TlsError::PrivateKey {
        path: pair.key_file.clone(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(provider(tc)?);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(protocol_versions(tc))?;
    let builder = if tc.verify {
        let ca = tc.ca_file.as_ref().ok_or(TlsError::VerifyWithoutCa)?;
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider)
            .build()
            .map_err(|e| TlsError::Verifier(e.to_string()))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Certificate {
            path: pair.cert_file.clone(),
            reason: e.to_string(),
        })?;
    Ok(Arc::new(config))
}

/// The versions `min_version` allows.
pub(super) fn protocol_versions(tc: &TlsConfig) -> &'static [&'static SupportedProtocolVersion] {
    const TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
    const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
    match tc.min_version {
        Some(TlsVersion::V1_3) => TLS13_ONLY,
        _ => BOTH,
    }
}

/// rustls's ring provider narrowed to the configured suites and curves.
/// TLS 1.3's suites are never narrowed: Go does not let a config choose
/// them either.
pub(super) fn provider(tc: &TlsConfig) -> Result<CryptoProvider, TlsError> {
    let mut provider = ring::default_provider();
    if !tc.cipher_suites.is_empty() {
        let wanted: Vec<String> = tc
            .cipher_suites
            .iter()
            .map(|n| {
                if n.ends_with("_POLY1305") {
                    format!("{n}_SHA256")
                } else {
                    n.clone()
                }
            })
            .collect();
        provider.cipher_suites.retain(|s| {
            let name = format!("{:?}", s.suite());
            name.starts_with("TLS13_") || wanted.contains(&name)
        });
    }
    if !tc.curve_preferences.is_empty() {
        let wanted: Vec<&str> = tc
            .curve_preferences
            .iter()
            .filter_map(|n| {
                GO_CURVES
                    .iter()
                    .find(|(go, _)| go == n)
                    .and_then(|(_, r)| *r)
            })
            .collect();
        // Keep the configured order: it is the server's preference.
        let mut groups = Vec::new();
        for name in wanted {
            if let Some(g) = provider
                .kx_groups
                .iter()
                .find(|g| format!("{:?}", g.name()) == name)
            {
                groups.push(*g);
            }
        }
        if groups.is_empty() {
            return Err(TlsError::NothingUsable {
                what: "curve_preferences",
            });
        }
        provider.kx_groups = groups;
    }
    Ok(provider)
}

pub(super) fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |reason: String| TlsError::Certificate {
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate found in the file".to_string()));
    }
    Ok(certs)
}

/// The roots of a `ca_file`.
pub(super) fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let bad = |reason: String| TlsError::CaFile {
        path: path.to_path_buf(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    for cert in certs {
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no certificate found in the file".to_string()));
    }
    Ok(roots)
}
