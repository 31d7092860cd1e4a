//! Certificates the TLS tests make for themselves (none is committed): a
//! test CA, a server certificate for `localhost`/`127.0.0.1` signed by it,
//! a client certificate, an expired server certificate, and a second CA
//! that nobody trusts with its own client certificate. Written as PEM files
//! into a directory the caller owns.

use std::path::{Path, PathBuf};

use anyhow::Result;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

/// Paths of the PEM files [`make`] wrote.
#[derive(Debug, Clone)]
pub struct TestPki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub expired_cert: PathBuf,
    pub expired_key: PathBuf,
    /// A CA the servers do not trust, and a client certificate it signed.
    pub other_ca: PathBuf,
    pub other_client_cert: PathBuf,
    pub other_client_key: PathBuf,
    /// A server certificate the untrusted CA signed (for reload tests).
    pub other_server_cert: PathBuf,
    pub other_server_key: PathBuf,
}

fn ca(name: &str) -> Result<CertifiedIssuer<'static, KeyPair>> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(CertifiedIssuer::self_signed(params, KeyPair::generate()?)?)
}

/// A leaf certificate signed by `issuer`, written to `<stem>-cert.pem` and
/// `<stem>-key.pem`.
fn leaf(
    dir: &Path,
    stem: &str,
    issuer: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    expired: bool,
) -> Result<(PathBuf, PathBuf)> {
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    params.distinguished_name.push(DnType::CommonName, stem);
    params.extended_key_usages = vec![usage];
    if expired {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    let (cert_path, key_path) = (
        dir.join(format!("{stem}-cert.pem")),
        dir.join(format!("{stem}-key.pem")),
    );
    std::fs::write(&cert_path, cert.pem())?;
    std::fs::write(&key_path, key.serialize_pem())?;
    Ok((cert_path, key_path))
}

/// Make the whole set in `dir`.
pub fn make(dir: &Path) -> Result<TestPki> {
    let root = ca("Tern Test CA")?;
    let other = ca("Untrusted Test CA")?;
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, root.pem())?;
    let other_ca = dir.join("other-ca.pem");
    std::fs::write(&other_ca, other.pem())?;
    let names = ["localhost", "127.0.0.1"];
    let server = ExtendedKeyUsagePurpose::ServerAuth;
    let client = ExtendedKeyUsagePurpose::ClientAuth;
    let (server_cert, server_key) = leaf(dir, "server", &root, &names, server.clone(), false)?;
    let (expired_cert, expired_key) = leaf(dir, "expired", &root, &names, server, true)?;
    let (client_cert, client_key) = leaf(dir, "client", &root, &[], client.clone(), false)?;
    let (other_client_cert, other_client_key) = leaf(dir, "stranger", &other, &[], client, false)?;
    let (other_server_cert, other_server_key) = leaf(
        dir,
        "renewed",
        &other,
        &names,
        ExtendedKeyUsagePurpose::ServerAuth,
        false,
    )?;
    Ok(TestPki {
        ca: ca_path,
        server_cert,
        server_key,
        client_cert,
        client_key,
        expired_cert,
        expired_key,
        other_ca,
        other_client_cert,
        other_client_key,
        other_server_cert,
        other_server_key,
    })
}

/// A fresh set made in a temp dir, which lives as long as the returned
/// handle (panics if it cannot be made: nothing in a TLS test can run
/// without it).
pub fn in_temp_dir() -> (tempfile::TempDir, TestPki) {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = make(dir.path()).expect("test certificates");
    (dir, pki)
}

/// A path as configs spell it.
pub fn text(path: &Path) -> String {
    path.display().to_string()
}
