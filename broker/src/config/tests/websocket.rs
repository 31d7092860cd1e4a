//! The `websocket` block.

use std::time::Duration;

use super::*;

#[test]
fn conf_and_toml_give_the_same_settings() {
    let c = conf(
        "websocket {\n  listen: \"127.0.0.1:8080\"\n  no_tls: true\n  compression: true\n  same_origin: false\n  allowed_origins: [\"http://app.example:8000\", \"https://app.example\"]\n  handshake_timeout: \"5s\"\n  user_cookie: nu\n  pass_cookie: np\n  token_cookie: nt\n  advertise: \"ws.example:443\"\n  headers { Strict-Transport-Security: \"max-age=1\" }\n}\n",
    );
    let t = toml(
        "[websocket]\nhost = \"127.0.0.1\"\nport = 8080\nno_tls = true\ncompression = true\nsame_origin = false\nallowed_origins = [\"http://app.example:8000\", \"https://app.example\"]\nhandshake_timeout = \"5s\"\nuser_cookie = \"nu\"\npass_cookie = \"np\"\ntoken_cookie = \"nt\"\nadvertise = \"ws.example:443\"\n[websocket.headers]\nStrict-Transport-Security = \"max-age=1\"\n",
    );
    let ws = c.websocket.clone().expect("websocket on");
    assert_eq!(c.websocket, t.websocket);
    assert_eq!(ws.host, "127.0.0.1");
    assert_eq!(ws.port, 8080);
    assert!(ws.no_tls && ws.compression && !ws.same_origin);
    assert_eq!(ws.allowed_origins.len(), 2);
    assert_eq!(ws.handshake_timeout, Some(Duration::from_secs(5)));
    assert_eq!(ws.username_cookie.as_deref(), Some("nu"));
    assert_eq!(ws.token_cookie.as_deref(), Some("nt"));
    assert_eq!(
        ws.headers,
        vec![("Strict-Transport-Security".into(), "max-age=1".into())]
    );
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
}

#[test]
fn port_rules() {
    assert_eq!(
        conf("websocket { no_tls: true }\n").websocket,
        None,
        "no port: off"
    );
    assert_eq!(conf("ws { port: 0, no_tls: true }\n").websocket, None);
    let c = conf("ws { port: -1, no_tls: true, handshake_timeout: 3 }\n");
    let ws = c.websocket.expect("on");
    assert_eq!(ws.port, 0, "random port");
    assert_eq!(ws.host, "0.0.0.0");
    assert_eq!(ws.handshake_timeout, Some(Duration::from_secs(3)));
}

#[test]
fn tls_is_required_unless_no_tls() {
    let err = conf_err("port: 4222\nwebsocket {\n  port: 8080\n}\n");
    assert_error(
        &err,
        "test.conf:2",
        "websocket",
        "websocket requires TLS configuration",
    );
    // A block whose files are missing is refused where it is written.
    let err = conf_err("websocket {\n  port: 8080\n  tls { cert_file: a, key_file: b }\n}\n");
    assert!(err.to_string().contains("test.conf:3"), "{err}");
    assert!(err.to_string().contains("error parsing X509"), "{err}");
}

#[test]
fn bad_values() {
    let err = conf_err("websocket { port: 8080, no_tls: true, allowed_origins: [\"ftp://x\"] }\n");
    assert!(err.to_string().contains("http or https scheme"), "{err}");
    let err = conf_err("websocket { port: 8080, no_tls: true, origins: \"http://\" }\n");
    assert!(err.to_string().contains("host is required"), "{err}");
    let err = conf_err("websocket { port: 8080, no_tls: true, headers { Upgrade: x } }\n");
    assert!(
        err.to_string()
            .contains("invalid header \"Upgrade\" not allowed"),
        "{err}"
    );
    let err = conf_err("websocket { port: 8080, no_tls: true, colour: 1 }\n");
    assert!(
        err.to_string()
            .contains("unknown field \"websocket.colour\""),
        "{err}"
    );
    let err = conf_err("websocket: 8080\n");
    assert!(err.to_string().contains("expected a map"), "{err}");
}

#[test]
fn features_tern_lacks_are_unsupported() {
    let c = conf("websocket {\n  port: 8080\n  no_tls: true\n  jwt_cookie: j\n  no_auth_user: u\n  authorization { token: t }\n}\n");
    let got: Vec<_> = unsupported(&c).into_iter().map(|(f, _, _)| f).collect();
    assert_eq!(
        got,
        [
            "websocket jwt_cookie",
            "no_auth_user",
            "websocket authorization"
        ]
    );
}
