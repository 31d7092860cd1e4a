//! Running the Node programs in tests/js (nats.js, nats.ws) against a
//! broker, and telling whether Node and their npm packages are there.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{ensure, Context, Result};
use tern_tests::Kind;

/// tests/js: the npm project (`npm ci --prefix tests/js`).
pub fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// `Err(why)` when node or one of `packages` is missing.
pub fn node_ready(packages: &[&str]) -> Result<(), String> {
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => return Err("node is not installed".into()),
    }
    for pkg in packages {
        if !js_dir().join("node_modules").join(pkg).is_dir() {
            return Err(format!(
                "the {pkg} package is not installed (npm ci --prefix tests/js)"
            ));
        }
    }
    Ok(())
}

/// Run tests/js/`script` with the broker's `url`; its standard output, or
/// an error with both outputs when it fails.
pub fn run_script(script: &str, url: &str, kind: Kind) -> Result<String> {
    run_script_with_env(script, url, kind, &[])
}

/// [`run_script`] with extra environment variables (`NODE_EXTRA_CA_CERTS`
/// for a test CA, say).
pub fn run_script_with_env(
    script: &str,
    url: &str,
    kind: Kind,
    env: &[(&str, &str)],
) -> Result<String> {
    let out = Command::new("node")
        .arg(js_dir().join(script))
        .arg(url)
        .envs(env.iter().copied())
        .output()
        .context("run node")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "{}: node exited with {}\n{text}{}",
        kind.name(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(text)
}
