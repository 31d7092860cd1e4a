//! The client port's `tls {}` block and `allow_non_tls`: nats-server's
//! keys, defaults and error texts. Certificates are made here (rcgen).

use std::path::Path;
use std::time::Duration;

use super::{conf, conf_err, toml};
use crate::config::TlsVersion;

struct Files {
    _dir: tempfile::TempDir,
    cert: String,
    key: String,
}

fn files() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let cert = write("cert.pem", made.cert.pem());
    let key = write("key.pem", made.signing_key.serialize_pem());
    Files {
        _dir: dir,
        cert,
        key,
    }
}

fn block(f: &Files, extra: &str) -> String {
    format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  {extra}\n}}\n",
        f.cert, f.key
    )
}

#[test]
fn a_block_with_nats_server_keys_is_read_and_loaded() {
    let f = files();
    let c = conf(&format!(
        "{}allow_non_tls: true\n",
        block(
            &f,
            "timeout: 5\n  handshake_first: auto\n  min_version: \"1.3\"\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305]\n  curve_preferences: [X25519, CurveP256]"
        )
    ));
    let tls = c.tls.expect("tls");
    assert!(
        c.allow_non_tls && c.unsupported.is_empty(),
        "{:?}",
        c.unsupported
    );
    assert_eq!(tls.handshake_timeout(), Duration::from_secs(5));
    assert!(tls.handshake_first);
    assert_eq!(
        tls.handshake_first_fallback,
        Some(Duration::from_millis(50))
    );
    assert_eq!(tls.min_version, Some(TlsVersion::V1_3));
    assert_eq!(tls.certs[0].cert_file, Path::new(&f.cert));
    // Defaults: 2 s, INFO first, no client certificates asked for.
    let plain = conf(&block(&f, "")).tls.unwrap();
    assert_eq!(plain.handshake_timeout(), Duration::from_secs(2));
    assert!(!plain.handshake_first && !plain.verify);
    // Timeouts as floats and duration strings, handshake_first as a delay.
    let t = conf(&block(&f, "timeout: 0.5\n  handshake_first: \"300ms\""))
        .tls
        .unwrap();
    assert_eq!(t.handshake_timeout(), Duration::from_millis(500));
    assert_eq!(t.handshake_first_fallback, Some(Duration::from_millis(300)));
    let t = conf(&block(&f, "timeout: \"3s\"")).tls.unwrap();
    assert_eq!(t.handshake_timeout(), Duration::from_secs(3));
}

#[test]
fn toml_takes_the_same_block() {
    let f = files();
    let c = toml(&format!(
        "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nhandshake_first = true\n",
        f.cert, f.key
    ));
    assert!(c.tls.unwrap().handshake_first);
}

#[test]
fn bad_values_get_nats_server_errors() {
    let f = files();
    for (extra, expected) in [
        (
            "colour: red",
            "error parsing tls config, unknown field \"colour\"",
        ),
        (
            "verify: 3",
            "error parsing tls config, expected 'verify' to be a boolean",
        ),
        (
            "handshake_first: sometimes",
            "field \"handshake_first\"'s value \"sometimes\" is invalid",
        ),
        ("min_version: \"1.1\"", "unsupported TLS version: 1.1"),
        ("min_version: \"2.0\"", "unknown version: 2.0"),
        (
            "cipher_suites: [TLS_FANCY]",
            "unrecognized cipher TLS_FANCY",
        ),
        ("cipher_suites: []", "'cipher_suites' cannot be empty"),
        (
            "curve_preferences: [CurveP999]",
            "unrecognized curve preference CurveP999",
        ),
        (
            "pinned_certs: [abc]",
            "does not look like hex-encoded sha256",
        ),
        ("timeout: true", "'timeout' wrong type"),
        ("verify: true", "'verify' needs a 'ca_file'"),
    ] {
        let err = conf_err(&block(&f, extra)).to_string();
        assert!(err.contains(expected), "{extra}: {err}");
    }
}

#[test]
fn files_are_loaded_when_the_config_is() {
    let f = files();
    let missing = format!(
        "tls {{ cert_file: \"/nonexistent/cert.pem\", key_file: \"{}\" }}\n",
        f.key
    );
    let err = conf_err(&missing).to_string();
    assert!(
        err.contains("error parsing X509 certificate/key pair"),
        "{err}"
    );
    assert!(err.contains("/nonexistent/cert.pem"), "{err}");
    assert!(err.contains("test.conf:1"), "{err}");
    let swapped = format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
        f.cert, f.cert
    );
    assert!(conf_err(&swapped)
        .to_string()
        .contains("error parsing X509"));
    let lone = format!("tls {{ cert_file: \"{}\" }}\n", f.cert);
    assert!(conf_err(&lone).to_string().contains("no key_file"));
}

#[test]
fn features_tern_lacks_inside_the_block_are_recorded() {
    let f = files();
    let c = conf(&block(
        &f,
        "cert_store: WindowsCurrentUser\n  ocsp_peer: true",
    ));
    let got: Vec<_> = c.unsupported.iter().map(|u| u.feature.as_str()).collect();
    assert_eq!(got, ["tls cert_store", "ocsp"]);
}

#[test]
fn leafnode_port_and_remotes_take_tls_blocks() {
    let f = files();
    let c = conf(&format!(
        "leafnodes {{\n  port: 7422\n  {}  remotes [\n    {{ url: \"tls://hub.example:7422\", tls {{ ca_file: \"{}\", handshake_first: true, timeout: 3 }} }}\n    {{ url: \"wss://hub.example\" }}\n    {{ url: \"nats-leaf://hub.example\", tls {{ insecure: true }} }}\n  ]\n}}\n",
        block(&f, "verify: false"),
        f.cert
    ));
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    let listener = c.leafnodes.tls.as_ref().expect("leafnode tls");
    assert_eq!(listener.certs[0].cert_file, Path::new(&f.cert));
    let remotes = &c.leafnodes.remotes;
    let first = remotes[0].tls.as_ref().expect("remote tls");
    assert!(first.handshake_first && first.certs.is_empty());
    assert_eq!(first.handshake_timeout(), Duration::from_secs(3));
    assert_eq!(first.ca_file.as_deref(), Some(Path::new(&f.cert)));
    assert!(remotes[1].tls.is_none(), "wss:// alone needs no block");
    assert!(remotes[2].tls.as_ref().is_some_and(|t| t.insecure));
    // A remote's client certificate is loaded like a listener's.
    let err = conf_err(
        "leafnodes { remotes [ { url: \"tls://h\", tls { cert_file: \"/nonexistent/c.pem\", key_file: \"/nonexistent/k.pem\" } } ] }\n",
    );
    assert!(
        err.to_string()
            .contains("error parsing X509 certificate/key pair: /nonexistent/c.pem"),
        "{err}"
    );
    // The leafnode port needs its certificate, as the client port does.
    let err = conf_err("leafnodes { port: 7422, tls { ca_file: \"/nonexistent/ca.pem\" } }\n");
    assert!(err.to_string().contains("leafnodes.tls"), "{err}");
}
