//! Running the Python programs under `tests/python/`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A program under `tests/python/`.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

/// Whether python3 can import `module` (installed by `.ci/run` from pip as
/// `package`); the error says what is missing, for a test to skip with.
pub fn python_ready(module: &str, package: &str) -> Result<(), String> {
    match Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        Ok(_) => Err(format!("{module} is not installed (pip install {package})")),
        Err(e) => Err(format!("python3 not runnable: {e}")),
    }
}
