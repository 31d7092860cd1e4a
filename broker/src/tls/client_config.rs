//! A dialer's rustls configuration (a leafnode remote's `tls {}`): the
//! roots the server's certificate must chain to (the block's `ca_file`,
//! else the system's), the client certificate when the block has one, and
//! `insecure`, which accepts any server certificate as nats-server's does.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::config::TlsConfig;

use super::server_config::{load_certs, protocol_versions, provider, roots};
use super::TlsError;

/// The rustls configuration a dialer with `tc` uses.
pub fn client_config(tc: &TlsConfig) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(provider(tc)?);
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(protocol_versions(tc))?;
    let builder = if tc.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCertificate(provider)))
    } else {
        let roots = match &tc.ca_file {
            Some(ca) => roots(ca)?,
            None => system_roots(),
        };
        builder.with_root_certificates(roots)
    };
    let config = match tc.certs.first() {
        None => builder.with_no_client_auth(),
        Some(pair) => {
            let certs = load_certs(&pair.cert_file)?;
            let key =
                PrivateKeyDer::from_pem_file(&pair.key_file).map_err(|e| TlsError::PrivateKey {
                    path: pair.key_file.clone(),
                    reason: e.to_string(),
                })?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| TlsError::Certificate {
                    path: pair.cert_file.clone(),
                    reason: e.to_string(),
                })?
        }
    };
    Ok(Arc::new(config))
}

/// The operating system's trusted roots (`SSL_CERT_FILE` and
/// `SSL_CERT_DIR` are honoured, as by Go). A machine without any still
/// gets a configuration: its handshakes then fail on the unknown issuer,
/// which is logged with each attempt.
fn system_roots() -> RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "none found".to_string());
        tracing::warn!("No trusted root certificates on this system ({why}): a TLS remote without a ca_file cannot be verified");
    }
    roots
}

/// `insecure: true`: any certificate is taken for the server's, but the
/// handshake's signatures are still checked against it, so the session
/// is encrypted to whoever holds that certificate's key.
#[derive(Debug)]
struct AnyServerCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
