//! Malformed protocol input: for each bad line, the exact server response
//! (an `-ERR '...'` text, or nothing) and whether the connection closes — as
//! nats-server does it. Parse errors in an op's arguments close silently;
//! an unknown op closes with `-ERR 'Unknown Protocol Operation'`; invalid
//! subjects in SUB get `-ERR 'Invalid Subject'` and the connection stays up.

mod common;

use std::time::Duration;

use anyhow::{bail, Result};
use common::*;
use tern_tests::{Broker, RawClient};

/// What the server must do with one input.
#[derive(Clone, Copy)]
enum Expect {
    /// Send exactly these bytes, then close the connection.
    Close(&'static str),
    /// Send exactly these bytes and stay open (checked with a PING).
    Open(&'static str),
}
use Expect::*;

struct Case {
    name: &'static str,
    /// CONNECT JSON sent (and acknowledged with PONG) before `input`;
    /// `None` sends `input` straight after INFO.
    connect: Option<&'static str>,
    input: Vec<u8>,
    expect: Expect,
}

const UPO: &str = "-ERR 'Unknown Protocol Operation'\r\n";
const MCL: &str = "-ERR 'maximum control line exceeded'\r\n";
const INVALID_SUBJECT: &str = "-ERR 'Invalid Subject'\r\n";
const HDR: &str = r#"{"verbose":false,"pedantic":false,"headers":true}"#;

fn case(name: &'static str, input: &[u8], expect: Expect) -> Case {
    Case {
        name,
        connect: Some(CONNECT_PLAIN),
        input: input.to_vec(),
        expect,
    }
}

fn cases() -> Vec<Case> {
    let mut long_pub = b"PUB ".to_vec();
    long_pub.extend(std::iter::repeat_n(b'a', 5000));
    long_pub.extend_from_slice(b" 1\r\nx\r\n");
    let mut endless = b"PUB ".to_vec();
    endless.extend(std::iter::repeat_n(b'a', 8000));
    let mut long_sub = b"SUB foo ".to_vec();
    long_sub.extend(std::iter::repeat_n(b'q', 5000));
    long_sub.extend_from_slice(b" 1\r\n");
    // Arguments (everything after "PUB ") of exactly 4096 bytes are fine;
    // one more is over the default max_control_line.
    let at_limit = format!("PUB foo {} 1\r\nx\r\n", "a".repeat(4090)).into_bytes();
    let over_limit = format!("PUB foo {} 1\r\nx\r\n", "a".repeat(4091)).into_bytes();

    vec![
        // Unknown operations.
        case("unknown op", b"FOO bar\r\n", Close(UPO)),
        case("garbage bytes", b"\x00\x01\x02\xff\r\n", Close(UPO)),
        case("MSG from a client", b"MSG foo 1 1\r\nx\r\n", Close(UPO)),
        case("PUB without arguments", b"PUB\r\n", Close(UPO)),
        case("SUB without arguments", b"SUB\r\n", Close(UPO)),
        case("UNSUB without arguments", b"UNSUB\r\n", Close(UPO)),
        // Bad PUB arguments: silent close.
        case("PUB missing size", b"PUB foo\r\n", Close("")),
        case(
            "PUB too many arguments",
            b"PUB foo bar baz 1\r\n",
            Close(""),
        ),
        case("PUB negative size", b"PUB foo -1\r\n", Close("")),
        case("PUB non-numeric size", b"PUB foo x\r\nx\r\n", Close("")),
        case("PUB size with trailing junk", b"PUB foo 1x\r\n", Close("")),
        case(
            "PUB size overflows",
            b"PUB foo 99999999999999999999\r\n",
            Close(""),
        ),
        case(
            "PUB payload longer than announced",
            b"PUB foo 3\r\nabcdef\r\n",
            Close(UPO),
        ),
        // Bad HPUB.
        Case {
            name: "HPUB header size larger than total",
            connect: Some(HDR),
            input: b"HPUB foo 20 10\r\n0123456789\r\n".to_vec(),
            expect: Close(""),
        },
        Case {
            name: "HPUB with only one size",
            connect: Some(HDR),
            input: b"HPUB foo 10\r\n0123456789\r\n".to_vec(),
            expect: Close(""),
        },
        case(
            "HPUB from a client that did not declare headers",
            b"HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n",
            Close(""),
        ),
        // Bad SUB / UNSUB.
        case("SUB missing sid", b"SUB foo\r\n", Close("")),
        case(
            "SUB too many arguments",
            b"SUB foo q 1 extra\r\n",
            Close(""),
        ),
        case(
            "SUB empty token",
            b"SUB foo..bar 1\r\n",
            Open(INVALID_SUBJECT),
        ),
        case(
            "SUB > not last",
            b"SUB foo.>.bar 1\r\n",
            Open(INVALID_SUBJECT),
        ),
        case("SUB trailing dot", b"SUB foo. 1\r\n", Open(INVALID_SUBJECT)),
        case("SUB leading dot", b"SUB .foo 1\r\n", Open(INVALID_SUBJECT)),
        case(
            "SUB wildcard inside a token is a literal",
            b"SUB foo.*bar 1\r\n",
            Open(""),
        ),
        case(
            "UNSUB non-numeric max is ignored",
            b"UNSUB 1 x\r\n",
            Open(""),
        ),
        // Control line length.
        case(
            "control line longer than max_control_line",
            &long_pub,
            Close(MCL),
        ),
        case(
            "control line without end beyond the limit",
            &endless,
            Close(MCL),
        ),
        case(
            "SUB line longer than max_control_line",
            &long_sub,
            Close(MCL),
        ),
        case("arguments of exactly max_control_line", &at_limit, Open("")),
        case(
            "arguments one byte over max_control_line",
            &over_limit,
            Close(MCL),
        ),
        // Leniency nats-server has and clients rely on.
        case("lowercase ping", b"ping\r\n", Open("PONG\r\n")),
        case("lowercase pub", b"pub foo 1\r\nx\r\n", Open("")),
        case(
            "tabs and repeated spaces",
            b"PUB\tfoo  1\r\nx\r\n",
            Open(""),
        ),
        case(
            "bare LF line ending",
            b"PUB foo 1\nx\r\nPING\n",
            Open("PONG\r\n"),
        ),
        case("zero-length payload", b"PUB foo 0\r\n\r\n", Open("")),
        case("+OK from a client is ignored", b"+OK\r\n", Open("")),
        case("PONG from a client is ignored", b"PONG\r\n", Open("")),
        case("INFO from a client is ignored", b"INFO {}\r\n", Open("")),
        case("-ERR from a client closes", b"-ERR 'x'\r\n", Close("")),
        // Bad CONNECT.
        Case {
            name: "CONNECT with bad JSON",
            connect: None,
            input: b"CONNECT {bad json\r\n".to_vec(),
            expect: Close(""),
        },
        Case {
            name: "CONNECT with a JSON array",
            connect: None,
            input: b"CONNECT []\r\n".to_vec(),
            expect: Close(""),
        },
        Case {
            name: "CONNECT with a wrongly typed field",
            connect: None,
            input: b"CONNECT {\"verbose\":\"yes\"}\r\n".to_vec(),
            expect: Close(""),
        },
        Case {
            name: "CONNECT without arguments",
            connect: None,
            input: b"CONNECT\r\n".to_vec(),
            expect: Close(""),
        },
        Case {
            name: "CONNECT with protocol 5",
            connect: None,
            input: b"CONNECT {\"verbose\":false,\"protocol\":5}\r\n".to_vec(),
            expect: Close("-ERR 'invalid client protocol'\r\n"),
        },
        Case {
            name: "CONNECT no_responders without headers",
            connect: None,
            input: b"CONNECT {\"verbose\":false,\"no_responders\":true}\r\n".to_vec(),
            expect: Close("-ERR 'no responders requires headers support'\r\n"),
        },
        Case {
            name: "CONNECT no_responders with headers:false",
            connect: None,
            input: b"CONNECT {\"verbose\":false,\"no_responders\":true,\"headers\":false}\r\n"
                .to_vec(),
            expect: Close("-ERR 'no responders requires headers support'\r\n"),
        },
        Case {
            name: "CONNECT line longer than max_control_line",
            connect: None,
            input: format!(
                "CONNECT {{\"verbose\":false,\"name\":\"{}\"}}\r\n",
                "n".repeat(8000)
            )
            .into_bytes(),
            expect: Close(MCL),
        },
    ]
}

fn run_case(addr: &str, c: &Case) -> Result<()> {
    let mut client = match c.connect {
        Some(json) => raw(addr, json)?,
        None => RawClient::connect(addr)?,
    };
    client.send(&c.input)?;
    match c.expect {
        Close(want) => {
            let got = client.read_to_close(Duration::from_secs(3))?;
            if got != want.as_bytes() {
                bail!(
                    "expected {want:?} then close, got {:?} then close",
                    String::from_utf8_lossy(&got)
                );
            }
        }
        Open(want) => {
            client.send(b"PING\r\n")?;
            let want = format!("{want}PONG\r\n");
            let got = client.read_until_suffix(want.as_bytes(), Duration::from_secs(3))?;
            if got != want.as_bytes() {
                bail!(
                    "expected {want:?} (and open), got {:?}",
                    String::from_utf8_lossy(&got)
                );
            }
            if client.is_closed(Duration::from_millis(100)) {
                bail!("connection closed after replying {want:?}");
            }
        }
    }
    Ok(())
}

/// Every case on its own connection to one broker per target; reports all
/// mismatches at once.
#[test]
fn malformed_input_table() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut failures = Vec::new();
        for c in cases() {
            if let Err(e) = run_case(&b.addr(), &c) {
                failures.push(format!("  {}: {e:#}", c.name));
            }
        }
        if !failures.is_empty() {
            bail!(
                "{} of {} cases:\n{}",
                failures.len(),
                cases().len(),
                failures.join("\n")
            );
        }
        Ok(())
    });
}

/// With auth required, anything before a valid CONNECT is an
/// `Authorization Violation` and closes the connection.
#[test]
fn ops_before_connect_with_auth_required() {
    each_target_blocking(|kind| {
        let b = start_with_args(kind, &["--user", "u", "--pass", "p"])?;
        let table: &[(&str, &[u8])] = &[
            ("PING", b"PING\r\n"),
            ("SUB", b"SUB foo 1\r\n"),
            ("PUB", b"PUB foo 1\r\nx\r\n"),
            (
                "CONNECT without credentials",
                b"CONNECT {\"verbose\":false}\r\n",
            ),
            (
                "CONNECT with a wrong password",
                b"CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"x\"}\r\n",
            ),
            (
                "CONNECT with an unknown user",
                b"CONNECT {\"verbose\":false,\"user\":\"x\",\"pass\":\"p\"}\r\n",
            ),
        ];
        let mut failures = Vec::new();
        for (name, input) in table {
            let mut c = RawClient::connect(&b.addr())?;
            c.send(input)?;
            match c.read_to_close(Duration::from_secs(3)) {
                Ok(got) if got == b"-ERR 'Authorization Violation'\r\n" => {}
                Ok(got) => {
                    failures.push(format!("  {name}: got {:?}", String::from_utf8_lossy(&got)))
                }
                Err(e) => failures.push(format!("  {name}: {e:#}")),
            }
        }
        // The right credentials work.
        let mut c = raw(
            &b.addr(),
            r#"{"verbose":false,"pedantic":false,"user":"u","pass":"p"}"#,
        )?;
        c.send(b"SUB foo 1\r\nPUB foo 1\r\nx\r\n")?;
        let got = sync(&mut c)?;
        if got != "MSG foo 1 1\r\nx\r\nPONG\r\n" {
            failures.push(format!("  correct credentials: got {got:?}"));
        }
        if !failures.is_empty() {
            bail!("{}", failures.join("\n"));
        }
        Ok(())
    });
}

/// A client that never sends CONNECT to a server requiring auth is cut off
/// after the auth timeout (nats-server's default: 2 seconds).
#[test]
fn auth_timeout() {
    each_target_blocking(|kind| {
        let b = start_with_args(kind, &["--user", "u", "--pass", "p"])?;
        let mut c = RawClient::connect(&b.addr())?;
        let started = std::time::Instant::now();
        let got = c.read_to_close(Duration::from_secs(6))?;
        let took = started.elapsed();
        if got != b"-ERR 'Authentication Timeout'\r\n" {
            bail!("got {:?}", String::from_utf8_lossy(&got));
        }
        if !(Duration::from_millis(1500)..Duration::from_millis(4000)).contains(&took) {
            bail!("closed after {took:?}, expected about 2s");
        }
        Ok(())
    });
}

/// Without auth there is no CONNECT deadline.
#[test]
fn no_connect_deadline_without_auth() {
    each_target_blocking(|kind| {
        let b = Broker::start(kind)?;
        let mut c = RawClient::connect(&b.addr())?;
        if c.is_closed(Duration::from_millis(2500)) {
            bail!("idle client without CONNECT was disconnected");
        }
        Ok(())
    });
}
