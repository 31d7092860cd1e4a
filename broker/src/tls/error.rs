//! What can go wrong loading TLS files and building a TLS configuration.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("error parsing X509 certificate/key pair: {path}: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("error parsing X509 certificate/key pair: {path}: {reason}")]
    PrivateKey { path: PathBuf, reason: String },
    #[error("failed to parse root ca certificate: {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("missing 'cert_file' in TLS configuration")]
    NoCertificate,
    #[error("'verify' needs a 'ca_file' naming the roots client certificates must chain to")]
    VerifyWithoutCa,
    #[error("none of the configured {what} is available in Tern's TLS library")]
    NothingUsable { what: &'static str },
    #[error("error building TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("error building client certificate verifier: {0}")]
    Verifier(String),
}
