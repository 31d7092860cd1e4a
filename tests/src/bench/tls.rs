//! TLS rows: an async-nats burst 1→1 over TLS (the client port with a
//! `tls {}` block, certificates made for the run), and TLS handshakes per
//! second: connect, read INFO, complete the handshake, close, one after
//! another. Both brokers get the same certificates.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::burst::{self, Pattern};
use crate::certs::{make, TestPki};
use crate::{Broker, BrokerOptions, Kind};

/// A broker of `kind` whose client port requires TLS, and the PKI it uses
/// (the directory goes when the guard is dropped).
pub fn start(kind: Kind) -> Result<(Broker, TestPki, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let pki = make(dir.path())?;
    let config = format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
        pki.server_cert.display(),
        pki.server_key.display()
    );
    let broker = Broker::start_with(
        kind,
        BrokerOptions {
            config: Some(config),
            ..Default::default()
        },
    )?;
    Ok((broker, pki, dir))
}

/// An async-nats burst 1→1 over TLS: deliveries per second and the share
/// delivered.
pub fn burst(broker: &Broker, pki: &TestPki, payload: usize, count: u64) -> Result<Vec<f64>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let ca = pki.ca.clone();
    let got = rt.block_on(burst::run_with(
        &broker.url(),
        Pattern::FanOut(1),
        payload,
        count,
        move || {
            async_nats::ConnectOptions::new()
                .require_tls(true)
                .add_root_certificates(ca.clone())
        },
    ))?;
    Ok(vec![
        got.rate(),
        100.0 * got.delivered() as f64 / count as f64,
    ])
}

/// Handshakes per second over `count` sequential connections.
pub fn handshakes(broker: &Broker, pki: &TestPki, count: usize) -> Result<f64> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&pki.ca)? {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let addr = broker.addr();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let started = Instant::now();
        for i in 0..count {
            let one = async {
                let mut sock = TcpStream::connect(&addr).await?;
                sock.set_nodelay(true)?;
                // INFO comes in the clear, then the client upgrades.
                let mut info = Vec::with_capacity(1024);
                let mut byte = [0u8; 1];
                while !info.ends_with(b"\r\n") {
                    if sock.read(&mut byte).await? == 0 {
                        anyhow::bail!("closed before INFO");
                    }
                    info.push(byte[0]);
                }
                let name = ServerName::try_from("localhost")?;
                connector.connect(name, sock).await?;
                anyhow::Ok(())
            };
            tokio::time::timeout(Duration::from_secs(5), one)
                .await
                .with_context(|| format!("handshake {i} timed out"))?
                .with_context(|| format!("handshake {i}"))?;
        }
        Ok(count as f64 / started.elapsed().as_secs_f64())
    })
}
