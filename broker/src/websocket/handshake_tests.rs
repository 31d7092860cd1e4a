use super::*;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn request(extra: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

fn status_of(req: &str, settings: &Settings) -> u16 {
    match accept(req.as_bytes(), settings) {
        Err(WsError::Handshake { status, .. }) => status,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn rfc_sample_key() {
    assert_eq!(accept_key(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

#[test]
fn accepts_a_plain_upgrade() {
    let up = accept(request("").as_bytes(), &Settings::default())
        .unwrap()
        .unwrap();
    assert_eq!(up.kind, PathKind::Client);
    assert!(!up.compress && !up.no_masking && !up.browser);
    let text = String::from_utf8(up.response).unwrap();
    assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert!(text.ends_with("\r\n\r\n"));
}

#[test]
fn partial_requests_wait() {
    let full = request("");
    assert!(accept(&full.as_bytes()[..20], &Settings::default())
        .unwrap()
        .is_none());
}

#[test]
fn refusals_carry_nats_server_statuses() {
    let s = Settings::default();
    assert_eq!(status_of(&request("").replace("GET", "POST"), &s), 405);
    assert_eq!(
        status_of(&request("").replace("Upgrade: websocket\r\n", ""), &s),
        400
    );
    assert_eq!(
        status_of(&request("").replace("keep-alive, Upgrade", "close"), &s),
        400
    );
    assert_eq!(
        status_of(&request("").replace("Version: 13", "Version: 8"), &s),
        400
    );
    assert_eq!(status_of(&request("").replace(KEY, "c2hvcnQ="), &s), 400);
    assert_eq!(
        status_of(&request("").replace("GET /", "GET /mqtt"), &s),
        404
    );
    assert_eq!(status_of("garbage\0\r\n\r\n", &s), 400);
    let mut early = request("");
    early.push_str("CONNECT {}\r\n");
    assert_eq!(status_of(&early, &s), 400);
}

#[test]
fn origins() {
    let s = Settings {
        origins: OriginPolicy::new(false, &["http://app.example".into()]),
        ..Settings::default()
    };
    assert_eq!(
        status_of(&request("Origin: http://evil.example\r\n"), &s),
        403
    );
    assert!(accept(request("Origin: http://app.example\r\n").as_bytes(), &s).is_ok());
}

#[test]
fn compression_is_negotiated_only_when_on_and_offered() {
    let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    let on = Settings {
        compression: true,
        ..Settings::default()
    };
    let up = accept(request(offer).as_bytes(), &on).unwrap().unwrap();
    assert!(up.compress);
    let text = String::from_utf8(up.response).unwrap();
    assert!(
        text.contains("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    assert!(
        !accept(request("").as_bytes(), &on)
            .unwrap()
            .unwrap()
            .compress
    );
    assert!(
        !accept(request(offer).as_bytes(), &Settings::default())
            .unwrap()
            .unwrap()
            .compress
    );
}

#[test]
fn cookies_and_browsers() {
    let s = Settings {
        user_cookie: Some("nu".into()),
        pass_cookie: Some("np".into()),
        token_cookie: Some("nt".into()),
        ..Settings::default()
    };
    let up = accept(
        request("Cookie: other=1; nu=alice; np=\"s3cret\"\r\nUser-Agent: Mozilla/5.0 Chrome/120 Safari/537\r\n").as_bytes(),
        &s,
    )
    .unwrap()
    .unwrap();
    assert!(up.browser && !up.safari);
    assert_eq!(up.cookies.user.as_deref(), Some("alice"));
    assert_eq!(up.cookies.pass.as_deref(), Some("s3cret"));
    assert_eq!(up.cookies.token, None);
    let mut opts = ConnectOptions {
        pass: Some("given".into()),
        ..ConnectOptions::default()
    };
    up.cookies.fill(&mut opts);
    assert_eq!(opts.user.as_deref(), Some("alice"));
    assert_eq!(
        opts.pass.as_deref(),
        Some("given"),
        "CONNECT's own value wins"
    );
}

#[test]
fn leaf_path_and_no_masking() {
    let req = request("Nats-No-Masking: true\r\n").replace("GET /", "GET /leafnode");
    let up = accept(req.as_bytes(), &Settings::default())
        .unwrap()
        .unwrap();
    assert_eq!(up.kind, PathKind::Leaf);
    assert!(up.no_masking);
    assert!(String::from_utf8(up.response)
        .unwrap()
        .contains("Nats-No-Masking: true\r\n"));
}

#[test]
fn error_response_shape() {
    let r = String::from_utf8(error_response(403)).unwrap();
    assert!(r.starts_with("HTTP/1.1 403 Forbidden\r\n"));
    assert!(r.ends_with("\r\n\r\nForbidden\n"));
}
