//! The deployment files in edge-configs/ (Dockerfile, docker-compose.yml,
//! kubernetes.yaml), checked without a container engine (none runs on the
//! test machines):
//!
//! - tests/python/check_deploy_files.py parses them (PyYAML) and checks their
//!   structure: two Dockerfile stages (official rust image, then BusyBox),
//!   EXPOSE 4222 8222, a HEALTHCHECK on /healthz with an HTTP client the
//!   runtime image has; one compose service with `-m 8222`; Kubernetes
//!   objects in one namespace, selectors matching the pod labels, liveness
//!   and readiness on GET /healthz port 8222, the config file mounted from
//!   the ConfigMap.
//! - The Dockerfile's build step runs here as a script: everything after its
//!   `cargo build --release --locked -p tern` (which tests/run.sh has
//!   already done) runs with `/out` moved to a temp dir, and the binary it
//!   copies must be static (the runtime image has no libc) and start.
//! - The command lines the image, compose and StatefulSet give Tern pass
//!   `tern ... -t`; the ConfigMap's nats.conf passes `tern -t -c` (and
//!   nats-server's `-t`, where installed), and Tern started with it, as the
//!   pod would, answers the probes' /healthz with 200.
//!
//! Skipped, with a message, when python3 or PyYAML is not installed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use tern_tests::{free_port, http_get, nats_server_binary, tern_binary};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The checker's JSON summary, or None (after saying why) when python3 or
/// PyYAML is missing.
fn checked_files() -> Option<Value> {
    match Command::new("python3")
        .args(["-c", "import yaml"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => {}
        Ok(_) => {
            eprintln!("SKIPPED: PyYAML is not installed (pip install pyyaml)");
            return None;
        }
        Err(e) => {
            eprintln!("SKIPPED: python3 not runnable: {e}");
            return None;
        }
    }
    let root = repo_root();
    let out = Command::new("python3")
        .arg(root.join("tests/python/check_deploy_files.py"))
        .arg(&root)
        .output()
        .expect("run check_deploy_files.py");
    assert!(
        out.status.success(),
        "edge-configs/ failed the structural checks:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("checker prints JSON"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `tern -c <minimal config> <args> -t`: Tern accepts `args` (unknown and
/// not-yet-supported flags make it fail).
fn tern_accepts_args(args: &[String]) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let conf = dir.path().join("args-check.conf");
    std::fs::write(&conf, "server_name: \"deploy-args-check\"\n")?;
    let out = Command::new(tern_binary()?)
        .arg("-c")
        .arg(&conf)
        .args(args)
        .arg("-t")
        .output()?;
    ensure!(
        out.status.success(),
        "tern rejects {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// True when the ELF file has no PT_INTERP program header (no dynamic
/// loader: it runs in an image without a libc).
fn is_static_elf(path: &Path) -> Result<bool> {
    let b = std::fs::read(path)?;
    ensure!(
        b.len() > 64 && &b[..4] == b"\x7fELF" && b[4] == 2 && b[5] == 1,
        "{} is not a 64-bit little-endian ELF file",
        path.display()
    );
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into()?) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        let p_type = u32::from_le_bytes(b[o..o + 4].try_into()?);
        if p_type == 3 {
            return Ok(false); // PT_INTERP
        }
    }
    Ok(true)
}

#[test]
fn dockerfile_build_step_produces_a_static_binary_that_runs() -> Result<()> {
    let Some(files) = checked_files() else {
        return Ok(());
    };
    let d = &files["dockerfile"];
    let run = d["build_run"].as_str().context("build RUN")?;
    let steps: Vec<&str> = run.split(" && ").map(str::trim).collect();
    ensure!(
        steps[0] == "cargo build --release --locked -p tern",
        "the build stage's RUN should start with the release build: {run}"
    );
    let copy_src = d["copy_src"].as_str().context("COPY --from source")?;
    ensure!(
        copy_src.starts_with("/out/"),
        "the runtime stage copies {copy_src}, not from /out"
    );
    // The cargo build is the one tests/run.sh has done (a second cargo here
    // would wait on the lock of the cargo running this test); the rest of
    // the step runs as written, with /out in a temp dir. tests/run.sh builds
    // the `ci` profile (release code without fat LTO) and says so in
    // TERN_RELEASE_PROFILE: the step then copies from that profile's
    // directory instead of `release`.
    let out_dir = tempfile::tempdir()?;
    let profile = std::env::var("TERN_RELEASE_PROFILE").unwrap_or_else(|_| "release".into());
    let script = steps[1..]
        .join(" && ")
        .replace("/out", &out_dir.path().display().to_string())
        .replace("/release/", &format!("/{profile}/"));
    let ran = Command::new("sh")
        .args(["-ec", &script])
        .current_dir(repo_root())
        .output()?;
    ensure!(
        ran.status.success(),
        "the Dockerfile's build step failed here (has `cargo build --release -p tern` run, \
         or the profile in TERN_RELEASE_PROFILE? tests/run.sh does it):\n{script}\n{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let binary = out_dir.path().join(copy_src.trim_start_matches("/out/"));
    ensure!(binary.is_file(), "{} was not produced", binary.display());
    ensure!(
        is_static_elf(&binary)?,
        "{} is dynamically linked; the BusyBox runtime image has no glibc",
        binary.display()
    );
    let version = Command::new(&binary).arg("--version").output()?;
    ensure!(
        version.status.success() && String::from_utf8_lossy(&version.stdout).contains("tern"),
        "the copied binary does not run: {version:?}"
    );
    // The image's default CMD (arguments to the tern entrypoint).
    tern_accepts_args(&strings(&d["cmd_args"]))
}

#[test]
fn compose_command_is_accepted_by_tern() -> Result<()> {
    let Some(files) = checked_files() else {
        return Ok(());
    };
    let services = files["compose"].as_object().context("compose services")?;
    ensure!(!services.is_empty(), "no compose services");
    for (name, args) in services {
        // The compose command is appended to the image's entrypoint (tern).
        tern_accepts_args(&strings(args)).with_context(|| format!("compose service {name}"))?;
    }
    Ok(())
}

/// Kills the child (through `Child`, by its PID) when the test ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn kubernetes_config_loads_and_serves_healthz() -> Result<()> {
    let Some(files) = checked_files() else {
        return Ok(());
    };
    let k = &files["kubernetes"];
    let command = strings(&k["command"]);
    let image_binary = files["dockerfile"]["binary"].as_str().unwrap_or_default();
    ensure!(
        Path::new(image_binary).file_name().and_then(|s| s.to_str()) == Some(command[0].as_str()),
        "the container runs {:?}, the image installs {image_binary}",
        command[0]
    );
    let env: Vec<(String, String)> = k["env"]
        .as_object()
        .context("env")?
        .iter()
        .map(|(n, v)| (n.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let dir = tempfile::tempdir()?;
    let conf = dir.path().join("nats.conf");
    // The leafnode and websocket ports move to free loopback ones, like
    // the client and monitoring ports below.
    let (leaf_port, ws_port) = (free_port(), free_port());
    let text = k["nats_conf"]
        .as_str()
        .context("nats.conf")?
        .replace("0.0.0.0:7422", &format!("127.0.0.1:{leaf_port}"))
        .replace("0.0.0.0:8080", &format!("127.0.0.1:{ws_port}"));
    std::fs::write(&conf, text)?;

    // The container's own command line, pointed at the file written here.
    let mut args = command[1..].to_vec();
    let at = args
        .iter()
        .position(|a| a == "--config" || a == "-c")
        .context("no --config")?;
    args[at + 1] = conf.display().to_string();
    let checked = Command::new(tern_binary()?)
        .args(&args)
        .arg("-t")
        .envs(env.iter().cloned())
        .output()?;
    ensure!(
        checked.status.success(),
        "tern -t rejects the ConfigMap's nats.conf: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    // The file is in nats-server's syntax and meant to run there unchanged.
    if let Ok(ns) = nats_server_binary() {
        let out = Command::new(ns)
            .arg("-t")
            .arg("-c")
            .arg(&conf)
            .envs(env.iter().cloned())
            .output()?;
        ensure!(
            out.status.success(),
            "nats-server -t rejects the ConfigMap's nats.conf: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Started as the pod starts it, with loopback ports instead of the
    // pod's and the pid file and JetStream store in the temp dir (flags
    // override the file).
    let (port, http) = (free_port(), free_port());
    let pid_file = dir.path().join("tern.pid");
    let child = Command::new(tern_binary()?)
        .args(&args)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .args(["-m", &http.to_string()])
        .arg("-P")
        .arg(&pid_file)
        .arg("-sd")
        .arg(dir.path().join("store"))
        .envs(env.iter().cloned())
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let mut tern = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    let health = loop {
        if let Some(status) = tern.0.try_wait()? {
            bail!("tern exited with {status} on the ConfigMap's nats.conf");
        }
        match http_get(http, "/healthz") {
            Ok(r) if r.status == 200 => break r,
            _ if Instant::now() > deadline => bail!("/healthz did not answer 200 within 10s"),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    ensure!(
        health.json()?["status"] == "ok",
        "/healthz body: {}",
        health.body
    );
    let jsz = http_get(http, "/jsz")?.json()?;
    ensure!(
        jsz["config"]["max_storage"] == 2u64 << 30 && jsz["config"]["max_memory"] == 256u64 << 20,
        "JetStream as the ConfigMap configures it: {jsz}"
    );
    let varz = http_get(http, "/varz")?.json()?;
    let pod_name = env
        .iter()
        .find(|(n, _)| n == "POD_NAME")
        .map(|(_, v)| v.as_str());
    ensure!(
        varz["server_name"].as_str() == pod_name,
        "server_name {} is not the pod name {pod_name:?}",
        varz["server_name"]
    );
    ensure!(
        varz["leaf"]["port"] == leaf_port && varz["websocket"]["port"] == ws_port,
        "leafnode and websocket listeners as configured: {} {}",
        varz["leaf"],
        varz["websocket"]
    );
    let written = std::fs::read_to_string(&pid_file)?;
    ensure!(
        written.trim() == tern.0.id().to_string(),
        "pid file holds {written:?}"
    );
    Ok(())
}
