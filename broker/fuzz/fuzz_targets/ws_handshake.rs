//! The WebSocket upgrade request (`tern::websocket::handshake::accept`):
//! the HTTP request a browser, a nats.ws client or a leaf sends to the
//! websocket port, under several listener settings (origin checks,
//! compression, auth cookies).
//!
//! Input: a byte choosing the settings, then the request bytes.
//!
//! Checked beyond "no panic": an accepted upgrade's response is a
//! complete `101` head; compression is only agreed when configured;
//! cookies only come from client paths; every refusal has a response;
//! a prefix of an accepted request is still waiting or refused, never
//! accepted with different results.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tern::websocket::handshake::{accept, error_response, PathKind, Settings};
use tern::websocket::origin::OriginPolicy;
use tern::websocket::WsError;

fn settings(select: u8) -> Settings {
    let allowed: &[String] = &[
        "http://localhost:8080".to_string(),
        "https://example.com".to_string(),
        "http://[::1]:9222".to_string(),
    ];
    let origins = if select & 2 != 0 { allowed } else { &[] };
    let cookie = |name: &str| (select & 8 != 0).then(|| name.to_string());
    Settings {
        origins: OriginPolicy::new(select & 1 != 0, origins),
        compression: select & 4 != 0,
        jwt_cookie: cookie("jwt"),
        user_cookie: cookie("user"),
        pass_cookie: cookie("pass"),
        token_cookie: cookie("token"),
        extra_headers: if select & 16 != 0 {
            "X-Tern: fuzz\r\n".to_string()
        } else {
            String::new()
        },
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&select, request)) = data.split_first() else {
        return;
    };
    let settings = settings(select);
    match accept(request, &settings) {
        Ok(Some(up)) => {
            assert!(up
                .response
                .starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
            assert!(up.response.ends_with(b"\r\n\r\n"));
            assert!(!up.compress || settings.compression);
            assert!(!up.safari || up.browser);
            if up.kind != PathKind::Client {
                assert!(up.cookies.is_empty());
            }
            // A shorter read of the same request is not accepted: the
            // request ends with its blank line, and nothing may follow it.
            if let Ok(Some(_)) = accept(&request[..request.len() - 1], &settings) {
                panic!("a prefix of an accepted request was accepted too");
            }
        }
        Ok(None) => {}
        Err(WsError::Handshake { status, .. }) => {
            let response = error_response(status);
            assert!(response.starts_with(format!("HTTP/1.1 {status} ").as_bytes()));
        }
        Err(other) => panic!("a handshake fails only with a handshake error, got {other:?}"),
    }
});
