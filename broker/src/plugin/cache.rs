//! Compiled plugin code, kept in memory (a reload does not recompile an
//! unchanged file) and on disk (a restart does not either: an edge box
//! comes back up in milliseconds instead of recompiling every plugin).
//!
//! Entries are named by the SHA-256 of the component's bytes and of the
//! engine's compatibility hash (wasmtime version and settings), so a changed
//! file or a new broker build simply misses. The cache directory must be as
//! well protected as the broker binary: loading a cached file runs the
//! native code in it.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Where the component came from, for the load log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Memory,
    Disk,
    Compiled,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Memory => "already loaded",
            Source::Disk => "from the compile cache",
            Source::Compiled => "compiled",
        })
    }
}

type Key = [u8; 32];

fn loaded() -> &'static Mutex<HashMap<Key, Component>> {
    static LOADED: OnceLock<Mutex<HashMap<Key, Component>>> = OnceLock::new();
    LOADED.get_or_init(Default::default)
}

/// Feeds `Hash` output into SHA-256.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn key(engine: &Engine, wasm: &[u8]) -> Key {
    let mut h = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    h.0.update(wasm);
    h.0.finalize().into()
}

fn file_name(key: &Key) -> String {
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.cwasm")
}

/// The compiled form of `wasm`, from memory, from `dir`, or compiled now
/// (and then written to `dir`). Disk trouble only costs a recompile.
pub fn component(
    engine: &Engine,
    wasm: &[u8],
    dir: Option<&Path>,
) -> wasmtime::Result<(Component, Source)> {
    let key = key(engine, wasm);
    if let Some(c) = loaded().lock().get(&key) {
        return Ok((c.clone(), Source::Memory));
    }
    let path: Option<PathBuf> = dir.map(|d| d.join(file_name(&key)));
    let from_disk = path.as_deref().filter(|p| p.is_file()).and_then(|p| {
        // SAFETY: the file was written by `Component::serialize` of an
        // engine with the same compatibility hash (it is in the name); the
        // cache directory is trusted like the binary (see the module docs).
        match unsafe { Component::deserialize_file(engine, p) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!("plugin cache: ignoring {}: {e:#}", p.display());
                None
            }
        }
    });
    let (component, source) = match from_disk {
        Some(c) => (c, Source::Disk),
        None => {
            let c = Component::new(engine, wasm)?;
            if let Some(p) = &path {
                store(&c, p);
            }
            (c, Source::Compiled)
        }
    };
    loaded().lock().insert(key, component.clone());
    Ok((component, source))
}

/// Write a compiled component next to its final name, then rename, so a
/// crash never leaves a half-written entry.
fn store(component: &Component, path: &Path) {
    let result = (|| -> Result<(), String> {
        let bytes = component.serialize().map_err(|e| format!("{e:#}"))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, path).map_err(|e| e.to_string())
    })();
    if let Err(e) = result {
        tracing::warn!("plugin cache: cannot write {}: {e}", path.display());
    }
}

/// Forget what is held in memory (tests measure cold loads with it).
pub fn clear_memory() {
    loaded().lock().clear();
}
