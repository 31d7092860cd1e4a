//! A `tls {}` block as configured: nats-server's keys, with their defaults.
//! Building the rustls configuration from it is the `tls` module's work.

use std::path::PathBuf;
use std::time::Duration;

/// nats-server's TLS handshake timeout when a block sets none.
pub const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a `handshake_first: auto` listener waits for a client's TLS
/// hello before sending INFO in the clear (nats-server's 50 ms).
pub const DEFAULT_HANDSHAKE_FIRST_FALLBACK: Duration = Duration::from_millis(50);

/// The oldest protocol version a TLS block accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    V1_2,
    V1_3,
}

/// One certificate and its key (`cert_file`/`key_file`, or one entry of
/// `certs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertKeyPair {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// `tls { ... }` on the client port (and, later, other listeners and
/// dialers).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsConfig {
    /// The server's certificates: `cert_file`/`key_file` or `certs`.
    pub certs: Vec<CertKeyPair>,
    /// Roots that client certificates must chain to.
    pub ca_file: Option<PathBuf>,
    /// Clients must present a certificate signed by `ca_file`'s roots.
    pub verify: bool,
    /// `verify_and_map`: the certificate also names the user.
    pub verify_and_map: bool,
    /// Handshake timeout; `None` = [`DEFAULT_TLS_TIMEOUT`].
    pub timeout: Option<Duration>,
    /// The TLS handshake comes before INFO (`handshake_first`).
    pub handshake_first: bool,
    /// `handshake_first: auto` (or a duration): clients that send nothing
    /// for this long get INFO in the clear and the usual TLS upgrade.
    pub handshake_first_fallback: Option<Duration>,
    /// Hex SHA-256 digests of the SubjectPublicKeyInfo a peer certificate
    /// must have one of (`pinned_certs`); empty = any.
    pub pinned_certs: Vec<String>,
    pub min_version: Option<TlsVersion>,
    /// IANA names of the cipher suites allowed (`cipher_suites`); empty =
    /// rustls's defaults, all of which nats-server counts as secure.
    pub cipher_suites: Vec<String>,
    /// `curve_preferences` names; empty = rustls's defaults.
    pub curve_preferences: Vec<String>,
    /// `insecure`: a dialer accepts any server certificate (listeners
    /// ignore it, as nats-server does).
    pub insecure: bool,
}

impl TlsConfig {
    pub fn handshake_timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_TLS_TIMEOUT)
    }
}
