//! Process lifecycle: signals (TERM, INT, HUP reload, USR2 lame duck), the
//! `-t` config check, `--pid`, and Tern's refusal of features it does not
//! support yet.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use common::*;
use tern_tests::{nats_server_binary, tern_binary, Broker, BrokerOptions, Kind, RawClient};

struct Output {
    code: Option<i32>,
    text: String,
}

/// Run a broker binary to completion (for `-t` and refused starts), killing
/// it if it runs longer than `timeout`.
fn run_binary(kind: Kind, args: &[&str], timeout: Duration) -> Result<Output> {
    let bin = match kind {
        Kind::Tern => tern_binary()?,
        Kind::NatsServer => nats_server_binary()?,
    };
    let dir = tempfile::tempdir()?;
    let out_path = dir.path().join("out.log");
    let out = std::fs::File::create(&out_path)?;
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out))
        .spawn()?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{} {args:?} still running after {timeout:?}", kind.name());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut text = String::new();
    std::fs::File::open(&out_path)?.read_to_string(&mut text)?;
    Ok(Output {
        code: status.code(),
        text,
    })
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

#[test]
fn sigterm_exits_zero_promptly() {
    each_target_blocking(|kind| {
        let mut b = Broker::start(kind)?;
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        b.signal(libc::SIGTERM)?;
        let status = b.wait_exit(Duration::from_secs(5))?;
        ensure!(status.code() == Some(0), "exit status {status}");
        ensure!(
            c.is_closed(Duration::from_secs(2)),
            "client still connected after shutdown"
        );
        Ok(())
    });
}

#[test]
fn sigint_exits_zero_promptly() {
    each_target_blocking(|kind| {
        let mut b = Broker::start(kind)?;
        b.signal(libc::SIGINT)?;
        let status = b.wait_exit(Duration::from_secs(5))?;
        ensure!(status.code() == Some(0), "exit status {status}");
        Ok(())
    });
}

/// SIGHUP re-reads the config file; new connections see the new settings.
#[test]
fn sighup_reloads_config() {
    each_target_blocking(|kind| {
        let b = start_with_config(kind, "max_payload: 1024\n")?;
        let old = raw(&b.addr(), CONNECT_PLAIN)?;
        ensure!(info_json(&old.info)?["max_payload"] == 1024);
        write(&b.dir().join("broker.conf"), "max_payload: 2048\n")?;
        b.signal(libc::SIGHUP)?;
        let deadline = Instant::now() + WAIT;
        loop {
            let c = RawClient::connect(&b.addr())?;
            let v = info_json(&c.info)?["max_payload"].clone();
            if v == 2048 {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "max_payload still {v} after SIGHUP; stderr:\n{}",
                    b.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // A new client may now publish 2048 bytes.
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        let body = "y".repeat(2048);
        c.send(format!("SUB r 1\r\nPUB r 2048\r\n{body}\r\n").as_bytes())?;
        ensure!(sync(&mut c)? == format!("MSG r 1 2048\r\n{body}\r\nPONG\r\n"));
        Ok(())
    });
}

/// A config with an error in it is refused on reload; the server keeps
/// running with the old settings.
#[test]
fn sighup_with_broken_config_keeps_running() {
    each_target_blocking(|kind| {
        let mut b = start_with_config(kind, "max_payload: 1024\n")?;
        write(
            &b.dir().join("broker.conf"),
            "max_payload: 2048\nmax_payload_typo: {\n",
        )?;
        b.signal(libc::SIGHUP)?;
        std::thread::sleep(Duration::from_millis(500));
        ensure!(
            b.wait_exit(Duration::ZERO).is_err(),
            "broker exited after a bad reload"
        );
        let mut c = raw(&b.addr(), CONNECT_PLAIN)?;
        ensure!(
            info_json(&c.info)?["max_payload"] == 1024,
            "settings changed by a bad reload"
        );
        ensure!(sync(&mut c)? == "PONG\r\n");
        Ok(())
    });
}

#[test]
fn check_config_flag() {
    each_target_blocking(|kind| {
        let dir = tempfile::tempdir()?;
        let good = dir.path().join("good.conf");
        write(
            &good,
            "# fine\nmax_payload: 2048\nauthorization { user: a, password: b }\n",
        )?;
        let out = run_binary(kind, &["-t", "-c", good.to_str().unwrap()], WAIT)?;
        ensure!(
            out.code == Some(0),
            "good config: exit {:?}, output:\n{}",
            out.code,
            out.text
        );

        // An unknown key: refused, naming the file and the line.
        let bad = dir.path().join("bad.conf");
        write(&bad, "max_payload: 2048\nno_such_option: 5\n")?;
        let out = run_binary(kind, &["-t", "-c", bad.to_str().unwrap()], WAIT)?;
        ensure!(
            out.code.is_some_and(|c| c != 0),
            "unknown key: exit {:?}, output:\n{}",
            out.code,
            out.text
        );
        let location = format!("{}:2", bad.display());
        ensure!(
            out.text.contains(&location),
            "unknown key: output does not name {location}:\n{}",
            out.text
        );

        // A syntax error: refused.
        let broken = dir.path().join("broken.conf");
        write(&broken, "port: 4222\nfoo {\n  bar: \n")?;
        let out = run_binary(kind, &["-t", "-c", broken.to_str().unwrap()], WAIT)?;
        ensure!(
            out.code.is_some_and(|c| c != 0),
            "syntax error: exit {:?}, output:\n{}",
            out.code,
            out.text
        );

        // A value of the wrong type: refused, naming the file and line.
        let typed = dir.path().join("typed.conf");
        write(&typed, "port: 4222\nmax_payload: \"lots\"\n")?;
        let out = run_binary(kind, &["-t", "-c", typed.to_str().unwrap()], WAIT)?;
        ensure!(
            out.code.is_some_and(|c| c != 0),
            "wrong type: exit {:?}, output:\n{}",
            out.code,
            out.text
        );
        let location = format!("{}:2", typed.display());
        ensure!(
            out.text.contains(&location),
            "wrong type: output does not name {location}:\n{}",
            out.text
        );
        Ok(())
    });
}

/// A broken config file also stops a normal start.
#[test]
fn broken_config_refuses_to_start() {
    each_target_blocking(|kind| {
        let dir = tempfile::tempdir()?;
        let bad = dir.path().join("bad.conf");
        write(&bad, "max_payload: 2048\nno_such_option: 5\n")?;
        let port = tern_tests::free_port().to_string();
        let out = run_binary(
            kind,
            &["-c", bad.to_str().unwrap(), "-a", "127.0.0.1", "-p", &port],
            WAIT,
        )?;
        ensure!(
            out.code.is_some_and(|c| c != 0),
            "exit {:?}, output:\n{}",
            out.code,
            out.text
        );
        ensure!(
            out.text.contains(&format!("{}:2", bad.display())),
            "output does not name the line:\n{}",
            out.text
        );
        Ok(())
    });
}

#[test]
fn pid_file() {
    each_target_blocking(|kind| {
        let dir = tempfile::tempdir()?;
        let pid_path = dir.path().join("broker.pid");
        let b = start_with_args(kind, &["--pid", pid_path.to_str().unwrap()])?;
        let text = std::fs::read_to_string(&pid_path).context("pid file not written")?;
        ensure!(
            text.trim() == b.pid().to_string(),
            "pid file says {text:?}, pid is {}",
            b.pid()
        );
        Ok(())
    });
}

/// SIGUSR2: lame duck mode. The listener closes at once, clients that
/// understand async INFO (protocol 1) are told `"ldm":true`, and after the
/// grace period the clients are closed and the server exits.
#[test]
fn lame_duck_mode() {
    each_target_blocking(|kind| {
        let mut b = start_with_config(
            kind,
            "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\n",
        )?;
        let mut c = raw(
            &b.addr(),
            r#"{"verbose":false,"pedantic":false,"protocol":1}"#,
        )?;
        let started = Instant::now();
        b.signal(libc::SIGUSR2)?;
        // The client hears about it.
        let deadline = Instant::now() + WAIT;
        loop {
            ensure!(
                Instant::now() < deadline,
                "no INFO with ldm:true within {WAIT:?}"
            );
            let line = c.line().context("waiting for the lame duck INFO")?;
            if line.starts_with("INFO ") && info_json(&line)?["ldm"] == true {
                break;
            }
        }
        // New clients are refused.
        let deadline = Instant::now() + WAIT;
        while RawClient::connect(&b.addr()).is_ok() {
            ensure!(
                Instant::now() < deadline,
                "still accepting clients in lame duck mode"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The old client is closed after the grace period, and the server exits.
        ensure!(
            c.read_to_close(Duration::from_secs(15)).is_ok(),
            "client not closed"
        );
        let took = started.elapsed();
        ensure!(
            took >= Duration::from_millis(900),
            "client closed after {took:?}, before the 1s grace period"
        );
        let status = b.wait_exit(Duration::from_secs(15))?;
        ensure!(status.code() == Some(0), "exit status {status}");
        Ok(())
    });
}

/// Tern only: a feature Tern does not implement yet stops it with a clear
/// message instead of being silently ignored (nats-server supports these).
#[test]
fn unsupported_features_refuse_to_start() -> Result<()> {
    if !Kind::targets().contains(&Kind::Tern) {
        return Ok(());
    }
    let port = tern_tests::free_port().to_string();
    let out = run_binary(
        Kind::Tern,
        &["--cluster_name", "C", "-a", "127.0.0.1", "-p", &port],
        WAIT,
    )?;
    ensure!(
        out.code.is_some_and(|c| c != 0),
        "--cluster_name: exit {:?}, output:\n{}",
        out.code,
        out.text
    );
    ensure!(
        out.text.contains("not supported yet"),
        "--cluster_name: output:\n{}",
        out.text
    );

    let dir = tempfile::tempdir()?;
    let conf = dir.path().join("cluster.conf");
    write(&conf, "port: 4222\ncluster {\n  name: c\n}\n")?;
    let out = run_binary(
        Kind::Tern,
        &["-c", conf.to_str().unwrap(), "-a", "127.0.0.1", "-p", &port],
        WAIT,
    )?;
    ensure!(
        out.code.is_some_and(|c| c != 0),
        "cluster block: exit {:?}, output:\n{}",
        out.code,
        out.text
    );
    ensure!(
        out.text.contains("not supported yet"),
        "cluster block: output:\n{}",
        out.text
    );
    ensure!(
        out.text.contains(&format!("{}:2", conf.display())),
        "cluster block: output does not name the line:\n{}",
        out.text
    );
    let out = run_binary(Kind::Tern, &["-t", "-c", conf.to_str().unwrap()], WAIT)?;
    ensure!(
        out.code.is_some_and(|c| c != 0),
        "-t with cluster: exit {:?}, output:\n{}",
        out.code,
        out.text
    );
    ensure!(
        out.text.contains("not supported yet"),
        "-t with cluster: output:\n{}",
        out.text
    );

    // The broker did not start.
    let b = Broker::start_with(
        Kind::Tern,
        BrokerOptions {
            args: vec!["--cluster_name".into(), "C".into()],
            no_wait: true,
            ..Default::default()
        },
    )?;
    std::thread::sleep(Duration::from_millis(300));
    ensure!(
        RawClient::connect(&b.addr()).is_err(),
        "tern --cluster_name accepted a client"
    );
    Ok(())
}
