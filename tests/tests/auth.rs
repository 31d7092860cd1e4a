//! Authentication and authorization: users with plain and bcrypt passwords
//! (the seed guide's nats-auth.conf style), tokens, `--user/--pass/--auth`
//! flags, and publish/subscribe permissions with nats-server's exact
//! `-ERR 'Permissions Violation ...'` texts.

mod common;

use anyhow::{bail, ensure, Result};
use async_nats::{ConnectErrorKind, ConnectOptions};
use bytes::Bytes;
use common::*;
use tern_tests::{Kind, RawClient};

/// bcrypt (cost 11, `$2a$` like the guide's) of "bcrypt-pass"; verified by
/// nats-server in `users_with_plain_and_bcrypt_passwords`.
const BCRYPT_PASS_HASH: &str = "$2a$11$J7sA416Uhttbnz6k/rWK5eup0vo1Eau8ILx8pL2f6tU2VobvcZHFC";

fn users_config() -> String {
    format!(
        r#"
authorization {{
  users = [
    {{ user: "alice", password: "plain-pass" }}
    {{ user: "bob", password: "{BCRYPT_PASS_HASH}" }}
  ]
}}
"#
    )
}

/// Connecting must fail with an authorization error.
async fn expect_refused(url: &str, opts: ConnectOptions, what: &str) -> Result<()> {
    match tokio::time::timeout(WAIT * 2, opts.connection_timeout(WAIT).connect(url)).await {
        Err(_) => bail!("{what}: connect neither succeeded nor failed"),
        Ok(Ok(_)) => bail!("{what}: connection accepted"),
        Ok(Err(e)) => {
            ensure!(
                e.kind() == ConnectErrorKind::AuthorizationViolation,
                "{what}: expected an authorization violation, got {e:?}"
            );
            Ok(())
        }
    }
}

async fn expect_works(url: &str, opts: ConnectOptions, what: &str) -> Result<()> {
    let client = connect_with(url, opts)
        .await
        .map_err(|e| e.context(what.to_string()))?;
    let mut sub = subscribe(&client, "auth.check").await?;
    client.publish("auth.check", Bytes::from("ok")).await?;
    flush(&client).await?;
    let m = next_msg(&mut sub).await?;
    ensure!(m.payload == "ok", "{what}: got {:?}", m.payload);
    Ok(())
}

fn user(u: &str, p: &str) -> ConnectOptions {
    ConnectOptions::new().user_and_password(u.into(), p.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_with_plain_and_bcrypt_passwords() {
    each_target(|kind| async move {
        let b = start_with_config(kind, &users_config())?;
        let url = b.url();
        let info = info_json(&RawClient::connect(&b.addr())?.info)?;
        ensure!(
            info["auth_required"] == true,
            "INFO auth_required is {}",
            info["auth_required"]
        );
        expect_works(&url, user("alice", "plain-pass"), "alice, plain password").await?;
        expect_works(&url, user("bob", "bcrypt-pass"), "bob, bcrypt password").await?;
        expect_refused(&url, user("alice", "wrong"), "alice, wrong password").await?;
        expect_refused(&url, user("bob", "wrong"), "bob, wrong password").await?;
        expect_refused(
            &url,
            user("bob", BCRYPT_PASS_HASH),
            "bob, the hash itself as password",
        )
        .await?;
        expect_refused(&url, user("carol", "plain-pass"), "unknown user").await?;
        expect_refused(&url, ConnectOptions::new(), "no credentials").await?;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_auth() {
    each_target(|kind| async move {
        let b = start_with_config(kind, "authorization { token: \"s3cr3t-token\" }\n")?;
        let url = b.url();
        expect_works(
            &url,
            ConnectOptions::new().token("s3cr3t-token".into()),
            "right token",
        )
        .await?;
        expect_refused(
            &url,
            ConnectOptions::new().token("wrong".into()),
            "wrong token",
        )
        .await?;
        expect_refused(&url, ConnectOptions::new(), "no token").await?;
        expect_refused(
            &url,
            user("s3cr3t-token", "s3cr3t-token"),
            "user/pass instead of token",
        )
        .await?;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_user_in_config() {
    each_target(|kind| async move {
        let b = start_with_config(
            kind,
            "authorization {\n  user: admin\n  password: \"adm1n\"\n}\n",
        )?;
        let url = b.url();
        expect_works(&url, user("admin", "adm1n"), "right password").await?;
        expect_refused(&url, user("admin", "nope"), "wrong password").await?;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_pass_flags() {
    each_target(|kind| async move {
        let b = start_with_args(kind, &["--user", "flaguser", "--pass", "flagpass"])?;
        let url = b.url();
        expect_works(&url, user("flaguser", "flagpass"), "flag credentials").await?;
        expect_refused(&url, user("flaguser", "wrong"), "wrong password").await?;
        expect_refused(&url, ConnectOptions::new(), "no credentials").await?;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_token_flag() {
    each_target(|kind| async move {
        let b = start_with_args(kind, &["--auth", "flagtoken"])?;
        let url = b.url();
        expect_works(
            &url,
            ConnectOptions::new().token("flagtoken".into()),
            "flag token",
        )
        .await?;
        expect_refused(
            &url,
            ConnectOptions::new().token("nope".into()),
            "wrong token",
        )
        .await?;
        Ok(())
    })
    .await;
}

/// Permissions in the guide's style: string or list `publish`/`subscribe`
/// (allow lists), and the `{ allow, deny }` map form.
fn permissions_config() -> String {
    format!(
        r#"
authorization {{
  users = [
    {{
      user: "admin"
      password: "{BCRYPT_PASS_HASH}"
      permissions: {{
        publish: ">"
        subscribe: ">"
      }}
    }}
    {{
      user: "publisher"
      password: "pub-pass"
      permissions: {{
        publish: ["orders.*", "events.*"]
        subscribe: ["responses.*"]
      }}
    }}
    {{
      user: "mixed"
      password: "mixed-pass"
      permissions: {{
        publish: {{ allow: ["data.>"], deny: ["data.secret", "data.private.>"] }}
        subscribe: {{ deny: "admin.>" }}
      }}
    }}
  ]
}}
"#
    )
}

fn connect_as(addr: &str, user: &str, pass: &str) -> Result<RawClient> {
    raw(
        addr,
        &format!(r#"{{"verbose":false,"pedantic":false,"user":"{user}","pass":"{pass}"}}"#),
    )
}

#[test]
fn publish_and_subscribe_permissions() {
    each_target_blocking(|kind| {
        let b = start_with_config(kind, &permissions_config())?;
        let addr = b.addr();
        let mut admin = connect_as(&addr, "admin", "bcrypt-pass")?;
        admin.send(b"SUB > 1\r\n")?;
        sync(&mut admin)?;

        let mut p = connect_as(&addr, "publisher", "pub-pass")?;
        p.send(b"PUB orders.new 1\r\na\r\nPUB orders.new.x 1\r\nb\r\nPUB billing 1\r\nc\r\nPUB events.click 1\r\nd\r\n")?;
        let got = sync(&mut p)?;
        ensure!(
            got == "-ERR 'Permissions Violation for Publish to \"orders.new.x\"'\r\n\
                    -ERR 'Permissions Violation for Publish to \"billing\"'\r\n\
                    PONG\r\n",
            "publisher: got {got:?}"
        );
        p.send(b"SUB responses.a 1\r\nSUB orders.* 2\r\nSUB responses.* q 4\r\nSUB responses.a.b 5\r\n")?;
        let got = sync(&mut p)?;
        ensure!(
            got == "-ERR 'Permissions Violation for Subscription to \"orders.*\"'\r\n\
                    -ERR 'Permissions Violation for Subscription to \"responses.a.b\"'\r\n\
                    PONG\r\n",
            "publisher subscribing: got {got:?}"
        );
        // Only the allowed publishes reached the admin's `>` subscription.
        let got = sync(&mut admin)?;
        ensure!(
            got == "MSG orders.new 1 1\r\na\r\nMSG events.click 1 1\r\nd\r\nPONG\r\n",
            "admin saw {got:?}"
        );
        // Allowed subscriptions work; the denied one does not exist.
        admin.send(b"PUB responses.a 1\r\nr\r\nPUB orders.x 1\r\no\r\n")?;
        sync(&mut admin)?;
        let got = sync(&mut p)?;
        let mut msgs: Vec<&str> = got
            .split("\r\n")
            .filter(|l| l.starts_with("MSG "))
            .collect();
        msgs.sort();
        ensure!(
            msgs == ["MSG responses.a 1 1", "MSG responses.a 4 1"]
                && got.matches("\r\nr\r\n").count() == 2
                && got.ends_with("PONG\r\n"),
            "publisher received {got:?}"
        );

        let mut m = connect_as(&addr, "mixed", "mixed-pass")?;
        m.send(b"PUB data.x 1\r\n1\r\nPUB data.secret 1\r\n2\r\nPUB data.private.a 1\r\n3\r\nPUB other 1\r\n4\r\n")?;
        let got = sync(&mut m)?;
        ensure!(
            got == "-ERR 'Permissions Violation for Publish to \"data.secret\"'\r\n\
                    -ERR 'Permissions Violation for Publish to \"data.private.a\"'\r\n\
                    -ERR 'Permissions Violation for Publish to \"other\"'\r\n\
                    PONG\r\n",
            "mixed: got {got:?}"
        );
        m.send(b"SUB anything.at.all 1\r\nSUB admin.x 2\r\n")?;
        let got = sync(&mut m)?;
        ensure!(
            got == "-ERR 'Permissions Violation for Subscription to \"admin.x\"'\r\nPONG\r\n",
            "mixed subscribing: got {got:?}"
        );
        // Violations never close the connection.
        for c in [&mut admin, &mut p, &mut m] {
            ensure!(
                !c.is_closed(std::time::Duration::from_millis(50)),
                "connection closed"
            );
        }
        Ok(())
    });
}

/// A deliberate difference from nats-server. nats-server checks a wildcard
/// subscription against the subscribe allow list as if it were a literal:
/// with `allow: ["responses.*"]` it accepts `SUB responses.>` and then
/// delivers `responses.x.y`, which the allow list does not cover. Tern only
/// accepts a subscription that the allow list covers completely.
#[test]
fn wildcard_subscription_must_be_covered_by_allow_list() {
    let kind = Kind::Tern;
    let run = || -> Result<()> {
        let b = start_with_config(kind, &permissions_config())?;
        let mut p = connect_as(&b.addr(), "publisher", "pub-pass")?;
        p.send(b"SUB responses.> 1\r\nSUB > 2\r\nSUB responses.*.* 3\r\nSUB responses.* 4\r\n")?;
        let got = sync(&mut p)?;
        ensure!(
            got == "-ERR 'Permissions Violation for Subscription to \"responses.>\"'\r\n\
                    -ERR 'Permissions Violation for Subscription to \">\"'\r\n\
                    -ERR 'Permissions Violation for Subscription to \"responses.*.*\"'\r\n\
                    PONG\r\n",
            "got {got:?}"
        );
        let mut admin = connect_as(&b.addr(), "admin", "bcrypt-pass")?;
        admin.send(b"PUB responses.x 1\r\n1\r\nPUB responses.x.y 1\r\n2\r\n")?;
        sync(&mut admin)?;
        let got = sync(&mut p)?;
        ensure!(got == "MSG responses.x 4 1\r\n1\r\nPONG\r\n", "got {got:?}");
        Ok(())
    };
    run().expect("tern");
}

/// In verbose mode a denied publish gets the -ERR and no +OK.
#[test]
fn permission_violation_in_verbose_mode() {
    each_target_blocking(|kind| {
        let b = start_with_config(kind, &permissions_config())?;
        let mut c = RawClient::connect(&b.addr())?;
        c.send(b"CONNECT {\"verbose\":true,\"pedantic\":false,\"user\":\"publisher\",\"pass\":\"pub-pass\"}\r\n")?;
        ensure!(c.line()? == "+OK");
        c.send(b"PUB billing 1\r\nx\r\nPUB orders.a 1\r\nx\r\n")?;
        let got = sync(&mut c)?;
        ensure!(
            got == "-ERR 'Permissions Violation for Publish to \"billing\"'\r\n+OK\r\nPONG\r\n",
            "got {got:?}"
        );
        Ok(())
    });
}

/// The guide's nats-auth.conf `authorization` block, verbatim (we do not
/// know its passwords): the server starts, requires auth, and refuses
/// guesses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_auth_config_loads() {
    const SEED: &str = r#"
# nats-auth.conf
authorization {
  users = [
    {
      user: "admin"
      password: "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG"
      permissions: {
        publish: ">"
        subscribe: ">"
      }
    }
    {
      user: "publisher"
      password: "$2a$11$xH8dkGrty1cBNtZjhze6/.Jk3LH6OVF5BBFN0rWG2SnE.FUEiLCLT"
      permissions: {
        publish: ["orders.*", "events.*"]
        subscribe: ["responses.*"]
      }
    }
    {
      user: "consumer"
      password: "$2a$11$UKtT4rj0nT5LuFiTLjIwGOe8J6vfUQ4/YZGpqvJWN.QhKrh8aVPpe"
      permissions: {
        publish: ["responses.*"]
        subscribe: ["orders.*", "events.*"]
      }
    }
  ]
}
"#;
    each_target(|kind: Kind| async move {
        let b = start_with_config(kind, SEED)?;
        let info = info_json(&RawClient::connect(&b.addr())?.info)?;
        ensure!(
            info["auth_required"] == true,
            "INFO auth_required is {}",
            info["auth_required"]
        );
        expect_refused(&b.url(), user("admin", "admin"), "guessed password").await?;
        expect_refused(&b.url(), ConnectOptions::new(), "no credentials").await?;
        Ok(())
    })
    .await;
}

/// `allowed_connection_types`: a user limited to WebSocket (or to leaf
/// links) is refused on the client port, one allowed STANDARD gets in;
/// the names are case-insensitive.
#[tokio::test]
async fn allowed_connection_types_limit_where_a_user_connects() {
    each_target(|kind| async move {
        let broker = start_with_config(
            kind,
            r#"
authorization {
  users = [
    { user: ws, password: p, allowed_connection_types: ["WEBSOCKET"] }
    { user: leaf, password: p, allowed_connection_types: ["LEAFNODE"] }
    { user: tcp, password: p, allowed_connection_types: ["standard", "websocket"] }
  ]
}
"#,
        )?;
        let url = broker.url();
        expect_refused(&url, user("ws", "p"), "WEBSOCKET only, over TCP").await?;
        expect_refused(&url, user("leaf", "p"), "LEAFNODE only, over TCP").await?;
        expect_works(&url, user("tcp", "p"), "STANDARD").await?;
        Ok(())
    })
    .await;
}

/// `allow_responses`: a service that may publish nothing else answers the
/// requests delivered to it, once each by default (`max: 2` allows two),
/// and never an inbox nobody asked it about.
#[test]
fn allow_responses_lets_a_service_answer_only_its_requests() {
    each_target_blocking(|kind| {
        let b = start_with_config(
            kind,
            r#"
authorization {
  users = [
    { user: svc, password: s, permissions: { subscribe: "svc.>", allow_responses: true } }
    { user: svc2, password: s, permissions: { subscribe: "svc.>", allow_responses: { max: 2, expires: "1m" } } }
    { user: app, password: a }
  ]
}
"#,
        )?;
        let addr = b.addr();
        for (who, answers) in [("svc", 1), ("svc2", 2)] {
            let mut svc = connect_as(&addr, who, "s")?;
            svc.send(b"SUB svc.echo 1\r\n")?;
            sync(&mut svc)?;
            let mut app = connect_as(&addr, "app", "a")?;
            app.send(b"SUB _INBOX.r 9\r\nPUB svc.echo _INBOX.r 2\r\nhi\r\n")?;
            sync(&mut app)?;
            svc.read_until_suffix(b"hi\r\n", WAIT)?;
            svc.send(b"PUB _INBOX.r 1\r\na\r\nPUB _INBOX.r 1\r\nb\r\nPUB _INBOX.r 1\r\nc\r\nPUB other 1\r\nx\r\nPUB _INBOX.never 1\r\ny\r\n")?;
            let got = sync(&mut svc)?;
            let denied =
                |s: &str| format!("-ERR 'Permissions Violation for Publish to \"{s}\"'\r\n");
            let want = format!(
                "{}{}{}PONG\r\n",
                denied("_INBOX.r").repeat(3 - answers),
                denied("other"),
                denied("_INBOX.never")
            );
            ensure!(got == want, "{who}: got {got:?}, want {want:?}");
            let (got, _) = app.read_until_quiet(QUIET);
            let got = String::from_utf8_lossy(&got);
            let replies = got.matches("MSG _INBOX.r 9 1\r\n").count();
            ensure!(replies == answers, "{who}: app got {got:?}");
        }
        Ok(())
    })
}
