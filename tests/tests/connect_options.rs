//! CONNECT options: echo, verbose (+OK), pedantic (subject checks), their
//! defaults when a client leaves them out (nats-server: verbose and pedantic
//! default to true), and operations sent before CONNECT.

mod common;

use anyhow::{ensure, Context};
use async_nats::ConnectOptions;
use bytes::Bytes;
use common::*;
use tern_tests::{Broker, RawClient};

#[test]
fn echo_false_suppresses_own_messages_only() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut quiet = raw(
            &b.addr(),
            r#"{"verbose":false,"pedantic":false,"echo":false}"#,
        )?;
        let mut other = raw(&b.addr(), CONNECT_PLAIN)?;
        quiet.send(b"SUB foo 1\r\nPUB foo 4\r\nmine\r\n")?;
        ensure!(
            sync(&mut quiet)? == "PONG\r\n",
            "echo=false client got its own message"
        );
        other.send(b"PUB foo 6\r\ntheirs\r\n")?;
        sync(&mut other)?;
        let got = sync(&mut quiet)?;
        ensure!(got == "MSG foo 1 6\r\ntheirs\r\nPONG\r\n", "got {got:?}");
        // The default is echo on.
        other.send(b"SUB foo 1\r\nPUB foo 4\r\nmine\r\n")?;
        let got = sync(&mut other)?;
        ensure!(got == "MSG foo 1 4\r\nmine\r\nPONG\r\n", "got {got:?}");
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_nats_no_echo() {
    each_target(|kind| async move {
        let b = Broker::start(kind)?;
        let quiet = connect_with(&b.url(), ConnectOptions::new().no_echo()).await?;
        let mut sub = subscribe(&quiet, "e").await?;
        quiet.publish("e", Bytes::from("mine")).await?;
        flush(&quiet).await?;
        expect_no_msg(&mut sub).await?;
        let other = connect(&b.url()).await?;
        other.publish("e", Bytes::from("theirs")).await?;
        flush(&other).await?;
        let m = next_msg(&mut sub).await?;
        ensure!(m.payload == "theirs");
        Ok(())
    })
    .await;
}

#[test]
fn verbose_acknowledges_every_op() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = RawClient::connect(&b.addr())?;
        c.send(b"CONNECT {\"verbose\":true,\"pedantic\":false,\"headers\":true}\r\n")?;
        ensure!(c.line()? == "+OK", "no +OK for CONNECT");
        c.send(b"SUB foo 1\r\n")?;
        ensure!(c.line()? == "+OK", "no +OK for SUB");
        c.send(b"SUB foo q 2\r\n")?;
        ensure!(c.line()? == "+OK", "no +OK for queue SUB");
        c.send(b"PUB other 1\r\nx\r\n")?;
        ensure!(c.line()? == "+OK", "no +OK for PUB");
        c.send(b"HPUB other 12 12\r\nNATS/1.0\r\n\r\n\r\n")?;
        ensure!(c.line()? == "+OK", "no +OK for HPUB");
        c.send(b"UNSUB 1\r\n")?;
        ensure!(c.line()? == "+OK", "no +OK for UNSUB");
        c.send(b"UNSUB 2 5\r\n")?;
        ensure!(c.line()? == "+OK", "no +OK for UNSUB with max");
        // PING is answered with PONG only.
        ensure!(sync(&mut c)? == "PONG\r\n");
        // The +OK for a PUB comes before the message it delivers.
        c.send(b"SUB bar 3\r\nPUB bar 2\r\nhi\r\n")?;
        let got = sync(&mut c)?;
        ensure!(
            got == "+OK\r\n+OK\r\nMSG bar 3 2\r\nhi\r\nPONG\r\n",
            "got {got:?}"
        );
        // An error replaces the +OK.
        c.send(b"SUB foo..bar 4\r\n")?;
        let got = sync(&mut c)?;
        ensure!(got == "-ERR 'Invalid Subject'\r\nPONG\r\n", "got {got:?}");
        Ok(())
    });
}

/// nats-server starts every client with verbose and pedantic on; a CONNECT
/// only changes the fields it names.
#[test]
fn connect_defaults_are_verbose_and_pedantic() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = RawClient::connect(&b.addr())?;
        c.send(b"CONNECT {}\r\n")?;
        let line = c
            .line()
            .context("no +OK after CONNECT {} (verbose should default to true)")?;
        ensure!(
            line == "+OK",
            "CONNECT {{}} should be verbose by default; got {line:?}"
        );
        c.send(b"PUB foo.* 1\r\nx\r\n")?;
        let got = sync(&mut c)?;
        ensure!(
            got == "-ERR 'Invalid Publish Subject'\r\n+OK\r\nPONG\r\n",
            "CONNECT {{}} should be pedantic by default; got {got:?}"
        );

        let mut c = RawClient::connect(&b.addr())?;
        c.send(b"CONNECT {\"verbose\":false}\r\nPUB foo.> 1\r\nx\r\n")?;
        let got = sync(&mut c)?;
        ensure!(
            got == "-ERR 'Invalid Publish Subject'\r\nPONG\r\n",
            "pedantic should default on; got {got:?}"
        );

        let mut c = RawClient::connect(&b.addr())?;
        c.send(b"CONNECT {\"pedantic\":false}\r\nPUB foo.> 1\r\nx\r\n")?;
        let got = sync(&mut c)?;
        ensure!(
            got == "+OK\r\n+OK\r\nPONG\r\n",
            "verbose should default on; got {got:?}"
        );
        Ok(())
    });
}

/// Without auth, a client may skip CONNECT; it is then verbose.
#[test]
fn ops_before_connect_without_auth() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = RawClient::connect(&b.addr())?;
        c.send(b"SUB foo 1\r\nPUB foo 1\r\nx\r\n")?;
        let got = sync(&mut c)?;
        ensure!(
            got == "+OK\r\n+OK\r\nMSG foo 1 1\r\nx\r\nPONG\r\n",
            "got {got:?}"
        );
        Ok(())
    });
}

/// Pedantic mode reports a publish subject that is not a valid literal
/// subject with `-ERR 'Invalid Publish Subject'`; the connection stays open.
/// (nats-server only reports it: the message is still routed, and a
/// wildcard subject still reaches matching subscribers.)
#[test]
fn pedantic_rejects_wildcard_publish_subjects() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), r#"{"verbose":false,"pedantic":true}"#)?;
        c.send(b"PUB foo.* 1\r\nx\r\n")?;
        let got = sync(&mut c)?;
        ensure!(
            got == "-ERR 'Invalid Publish Subject'\r\nPONG\r\n",
            "got {got:?}"
        );
        for subject in ["foo.>", ">", "*", "foo..bar", "foo.", ".foo"] {
            c.send(format!("PUB {subject} 1\r\nx\r\n").as_bytes())?;
            let got = sync(&mut c)?;
            ensure!(
                got == "-ERR 'Invalid Publish Subject'\r\nPONG\r\n",
                "PUB {subject}: got {got:?}"
            );
        }
        // Still open and working.
        c.send(b"SUB ok 1\r\nPUB ok 1\r\nx\r\n")?;
        let got = sync(&mut c)?;
        ensure!(got == "MSG ok 1 1\r\nx\r\nPONG\r\n", "got {got:?}");

        // In verbose mode the -ERR comes first, then the +OK for the PUB.
        let mut v = raw(&b.addr(), r#"{"verbose":true,"pedantic":true}"#)?;
        v.send(b"PUB foo.> 1\r\nx\r\n")?;
        let got = sync(&mut v)?;
        ensure!(
            got == "-ERR 'Invalid Publish Subject'\r\n+OK\r\nPONG\r\n",
            "verbose: got {got:?}"
        );
        Ok(())
    });
}

/// What nats-server does with the message after the pedantic -ERR: a
/// wildcard-looking subject is still delivered (as a literal) to matching
/// subscribers; a subject with an empty token matches nothing.
#[test]
fn pedantic_error_does_not_drop_the_message() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), r#"{"verbose":false,"pedantic":true}"#)?;
        c.send(b"SUB > 1\r\nPUB foo.* 1\r\nx\r\nPUB foo..bar 1\r\ny\r\nPUB foo 1\r\nz\r\n")?;
        let got = sync(&mut c)?;
        ensure!(
            got == "-ERR 'Invalid Publish Subject'\r\nMSG foo.* 1 1\r\nx\r\n-ERR 'Invalid Publish Subject'\r\nMSG foo 1 1\r\nz\r\nPONG\r\n",
            "got {got:?}"
        );
        Ok(())
    });
}

/// Without pedantic, any publish subject is accepted silently. A subject
/// with an empty token (`foo..bar`, `.bar`, `foo.`, `.`) matches no
/// subscription at all, not even `>`; a `*` or `>` in a published subject is
/// an ordinary token.
#[test]
fn non_pedantic_accepts_any_publish_subject() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        c.send(b"SUB > 1\r\nSUB *.bar 2\r\nPUB foo.* 1\r\nx\r\nPUB foo..bar 1\r\ny\r\nPUB foo 1\r\nz\r\n")?;
        let got = sync(&mut c)?;
        ensure!(
            got == "MSG foo.* 1 1\r\nx\r\nMSG foo 1 1\r\nz\r\nPONG\r\n",
            "got {got:?}"
        );
        c.send(b"PUB .bar 1\r\na\r\nPUB foo. 1\r\nb\r\nPUB . 1\r\nc\r\nPUB x.bar 1\r\nd\r\n")?;
        let got = sync(&mut c)?;
        let mut msgs: Vec<&str> = got
            .split("\r\n")
            .filter(|l| l.starts_with("MSG "))
            .collect();
        msgs.sort();
        ensure!(msgs == ["MSG x.bar 1 1", "MSG x.bar 2 1"], "got {got:?}");
        Ok(())
    });
}

/// Fields Tern does not use (name, lang, version, tls_required, unknown
/// keys) are accepted.
#[test]
fn connect_accepts_descriptive_and_unknown_fields() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = raw(
            &b.addr(),
            r#"{"verbose":false,"pedantic":false,"name":"me","lang":"rust","version":"1.0","protocol":0,"tls_required":false,"echo":true,"unknown":[1,{"x":2}]}"#,
        )?;
        c.send(b"SUB foo 1\r\nPUB foo 1\r\nx\r\n")?;
        ensure!(sync(&mut c)? == "MSG foo 1 1\r\nx\r\nPONG\r\n");
        Ok(())
    });
}

/// The INFO fields clients rely on, with the values both brokers give.
#[test]
fn info_core_fields() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let c = RawClient::connect(&b.addr())?;
        let info = info_json(&c.info)?;
        ensure!(
            info["server_id"].as_str().is_some_and(|s| !s.is_empty()),
            "server_id {}",
            info["server_id"]
        );
        ensure!(info["version"].is_string(), "version {}", info["version"]);
        ensure!(info["proto"] == 1, "proto {}", info["proto"]);
        ensure!(info["headers"] == true, "headers {}", info["headers"]);
        ensure!(
            info["max_payload"] == 1024 * 1024,
            "max_payload {}",
            info["max_payload"]
        );
        ensure!(info["host"] == "127.0.0.1", "host {}", info["host"]);
        ensure!(info["port"] == b.port, "port {}", info["port"]);
        ensure!(
            info["client_id"].is_u64(),
            "client_id {}",
            info["client_id"]
        );
        ensure!(
            info["client_ip"] == "127.0.0.1",
            "client_ip {}",
            info["client_ip"]
        );
        ensure!(
            info.get("auth_required").is_none_or(|v| v == false),
            "auth_required {}",
            info["auth_required"]
        );
        // Each connection gets its own client_id.
        let other = info_json(&RawClient::connect(&b.addr())?.info)?;
        ensure!(other["client_id"] != info["client_id"], "client_id reused");
        Ok(())
    });
}
