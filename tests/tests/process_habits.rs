//! nats-server's process habits that wrappers and test harnesses rely on,
//! checked against both brokers: the ports file, `--signal`, `[FTL]` and a
//! non-zero exit on fatal start-up errors, and random ports (`-p -1`,
//! `-m -1`) reported in INFO, the logs and `/varz`.

mod common;

use std::net::TcpListener;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use common::{each_target_blocking, info_json, WAIT};
use tern_tests::{
    free_port, http_get, nats_server_binary, tern_binary, Broker, BrokerOptions, Kind, RawClient,
};

fn binary(kind: Kind) -> Result<std::path::PathBuf> {
    match kind {
        Kind::Tern => tern_binary(),
        Kind::NatsServer => nats_server_binary(),
    }
}

/// Run `kind --signal <arg>` to completion.
fn signal_command(kind: Kind, arg: &str) -> Result<Output> {
    Ok(Command::new(binary(kind)?)
        .args(["--signal", arg])
        .stdin(Stdio::null())
        .output()?)
}

fn start(kind: Kind, args: &[String], no_wait: bool) -> Result<Broker> {
    Broker::start_with(
        kind,
        BrokerOptions {
            args: args.to_vec(),
            no_wait,
            ..Default::default()
        },
    )
}

/// Wait until the broker's stderr contains `needle`; returns the log.
fn wait_log(b: &Broker, needle: &str) -> Result<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = b.stderr();
        if log.contains(needle) {
            return Ok(log);
        }
        if Instant::now() > deadline {
            bail!("{needle:?} not logged within {WAIT:?}:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The port after `prefix` in a log line like `... on 127.0.0.1:4222`.
fn logged_port(log: &str, prefix: &str) -> Result<u16> {
    let line = log
        .lines()
        .find(|l| l.contains(prefix))
        .with_context(|| format!("no {prefix:?} line in:\n{log}"))?;
    let port = line.rsplit(':').next().unwrap_or_default().trim();
    port.parse()
        .with_context(|| format!("no port at the end of {line:?}"))
}

fn wait_for(what: &str, cond: impl Fn() -> bool) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        if Instant::now() > deadline {
            bail!("{what} within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

#[test]
fn ports_file_lists_client_and_monitoring_urls() {
    each_target_blocking(|kind| {
        let dir = tempfile::tempdir()?;
        let http = free_port();
        let mut b = start(
            kind,
            &[
                "-m".into(),
                http.to_string(),
                "--ports_file_dir".into(),
                dir.path().display().to_string(),
            ],
            false,
        )?;
        let suffix = format!("_{}.ports", b.pid());
        let find = || -> Option<std::path::PathBuf> {
            std::fs::read_dir(dir.path())
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(&suffix))
        };
        wait_for("ports file written", || {
            find().is_some_and(|p| p.metadata().is_ok_and(|m| m.len() > 0))
        })?;
        let path = find().context("ports file")?;
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let exe = binary(kind)?;
        let exe_name = exe
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        ensure!(name == format!("{exe_name}{suffix}"), "file name {name}");
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        ensure!(
            doc["nats"] == serde_json::json!([format!("nats://127.0.0.1:{}", b.port)]),
            "{doc}"
        );
        ensure!(
            doc["monitoring"] == serde_json::json!([format!("http://127.0.0.1:{http}")]),
            "{doc}"
        );
        b.signal(libc::SIGTERM)?;
        b.wait_exit(WAIT)?;
        ensure!(!path.exists(), "ports file left behind after a clean exit");
        Ok(())
    });
}

#[test]
fn signal_flag_drives_a_running_server_through_its_pid_file() {
    each_target_blocking(|kind| {
        let dir = tempfile::tempdir()?;
        let pid_file = dir.path().join("b.pid");
        let log = dir.path().join("b.log");
        let mut b = start(
            kind,
            &[
                "-P".into(),
                pid_file.display().to_string(),
                "-l".into(),
                log.display().to_string(),
            ],
            false,
        )?;
        wait_for("pid file written", || pid_file.exists())?;
        let pid_arg = pid_file.display().to_string();

        // reopen: a rotated log file is created anew.
        let rotated = dir.path().join("b.log.1");
        std::fs::rename(&log, &rotated)?;
        let out = signal_command(kind, &format!("reopen={pid_arg}"))?;
        ensure!(out.status.success(), "reopen: {out:?}");
        wait_for("log file reopened", || log.exists())?;

        // Errors: unknown command, a pid that is not running.
        let out = signal_command(kind, "bogus=1")?;
        ensure!(out.status.code() == Some(1), "bogus: {out:?}");
        ensure!(
            String::from_utf8_lossy(&out.stderr).contains("unknown signal \"bogus\""),
            "bogus: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = signal_command(kind, "reload=999999999")?;
        ensure!(out.status.code() == Some(1), "no such process: {out:?}");

        // quit: a clean exit.
        let out = signal_command(kind, &format!("quit={}", b.pid()))?;
        ensure!(out.status.success(), "quit: {out:?}");
        let status = b.wait_exit(WAIT)?;
        ensure!(status.code() == Some(0), "quit: exit {status}");

        // stop: SIGKILL, found through the pid file.
        let pid_file2 = dir.path().join("c.pid");
        let mut c = start(kind, &["-P".into(), pid_file2.display().to_string()], false)?;
        wait_for("pid file written", || pid_file2.exists())?;
        let out = signal_command(kind, &format!("stop={}", pid_file2.display()))?;
        ensure!(out.status.success(), "stop: {out:?}");
        let status = c.wait_exit(WAIT)?;
        ensure!(status.signal() == Some(libc::SIGKILL), "stop: {status}");
        Ok(())
    });
}

fn exits_fatally(kind: Kind, args: &[String], what: &str) -> Result<String> {
    let mut b = start(kind, args, true)?;
    let status = b.wait_exit(WAIT)?;
    let log = b.stderr();
    ensure!(
        status.code() == Some(1),
        "{what}: exit {status}; log:\n{log}"
    );
    ensure!(log.contains("[FTL]"), "{what}: no [FTL] line:\n{log}");
    Ok(log)
}

#[test]
fn fatal_start_up_errors_log_ftl_and_exit_one() {
    each_target_blocking(|kind| {
        // A port another socket holds; a later `-p`/`-m` overrides the
        // harness's own.
        let taken = TcpListener::bind("127.0.0.1:0")?;
        let port = taken.local_addr()?.port().to_string();
        let log = exits_fatally(kind, &["-p".into(), port.clone()], "client port in use")?;
        ensure!(log.contains(&port), "the message names the port:\n{log}");
        let log = exits_fatally(kind, &["-m".into(), port.clone()], "monitor port in use")?;
        ensure!(
            log.contains("monitor"),
            "the message says monitoring:\n{log}"
        );
        drop(taken);
        Ok(())
    });
}

/// Wrappers grep start-up failures for nats-server's wording: "Parse
/// error" for a config syntax error, "storage directory is not a
/// directory" for a `store_dir` that is a file.
#[test]
fn launcher_wording_of_start_up_failures() {
    each_target_blocking(|kind| {
        let dir = tempfile::tempdir()?;
        let bad = dir.path().join("bad.conf");
        std::fs::write(&bad, "port: 4222\nmax_payload = \n}\n")?;
        let out = Command::new(binary(kind)?)
            .arg("-c")
            .arg(&bad)
            .stdin(Stdio::null())
            .output()?;
        let text = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        ensure!(!out.status.success(), "a syntax error started: {text}");
        ensure!(text.contains("Parse error"), "syntax error: {text}");

        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x")?;
        let args = ["-js".to_string(), "-sd".into(), file.display().to_string()];
        let mut b = start(kind, &args, true)?;
        let status = b.wait_exit(WAIT)?;
        let log = b.stderr() + &b.stdout();
        ensure!(!status.success(), "started on a file as store_dir:\n{log}");
        ensure!(
            log.contains("storage directory is not a directory"),
            "store_dir is a file:\n{log}"
        );
        Ok(())
    });
}

#[test]
fn random_ports_are_reported_in_info_logs_and_varz() {
    each_target_blocking(|kind| {
        let b = start(
            kind,
            &["-p".into(), "-1".into(), "-m".into(), "-1".into()],
            true,
        )?;
        let log = wait_log(&b, "Server is ready")?;
        let client = logged_port(&log, "Listening for client connections on 127.0.0.1:")?;
        let http = logged_port(&log, "Starting http monitor on 127.0.0.1:")?;
        ensure!(client != 0 && http != 0, "{log}");
        let c = RawClient::connect(&format!("127.0.0.1:{client}"))?;
        let info = info_json(&c.info)?;
        ensure!(
            info["port"] == client,
            "INFO port {} vs {client}",
            info["port"]
        );
        let varz = http_get(http, "/varz")?.json()?;
        ensure!(varz["port"] == client, "varz port {}", varz["port"]);
        ensure!(
            varz["http_port"] == http || varz["http_port"] == -1,
            "varz http_port {}",
            varz["http_port"]
        );
        Ok(())
    });
}

#[test]
fn monitoring_off_opens_no_http_port() -> Result<()> {
    if !Kind::targets().contains(&Kind::Tern) {
        return Ok(());
    }
    let b = start(Kind::Tern, &[], false)?;
    ensure!(!b.stderr().contains("http monitor"), "{}", b.stderr());
    Ok(())
}
