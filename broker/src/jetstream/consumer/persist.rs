//! Consumer configs on disk: `<stream dir>/consumers/<name>.json` holds a
//! consumer's config and creation time (written atomically: temp file, then
//! rename); its delivery state is kept by the stream's store
//! ([`crate::jetstream::store::ConsumerStateStore`]). Memory streams and
//! consumers with `mem_storage` keep nothing on disk.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::jetstream::store::Timestamp;

use super::ConsumerConfig;

const DIR: &str = "consumers";

/// What a consumer file holds.
#[derive(Serialize, Deserialize)]
pub(crate) struct Persisted {
    pub config: ConsumerConfig,
    pub created: Timestamp,
}

fn path(stream_dir: &Path, name: &str) -> PathBuf {
    stream_dir.join(DIR).join(format!("{name}.json"))
}

/// Writes (or replaces) the file of consumer `name`.
pub(crate) async fn write(
    stream_dir: &Path,
    name: &str,
    config: &ConsumerConfig,
    created: Timestamp,
) -> std::io::Result<()> {
    let dir = stream_dir.join(DIR);
    tokio::fs::create_dir_all(&dir).await?;
    let text = serde_json::to_vec_pretty(&Persisted {
        config: config.clone(),
        created,
    })
    .map_err(std::io::Error::other)?;
    let tmp = dir.join(format!("{name}.json.tmp"));
    tokio::fs::write(&tmp, text).await?;
    tokio::fs::rename(&tmp, path(stream_dir, name)).await
}

/// Removes the file of consumer `name` (missing is fine).
pub(crate) async fn remove(stream_dir: &Path, name: &str) -> std::io::Result<()> {
    match tokio::fs::remove_file(path(stream_dir, name)).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Every consumer file of a stream: name and contents, or what is wrong
/// with it.
pub(crate) async fn read_all(stream_dir: &Path) -> Vec<(String, Result<Persisted, String>)> {
    let mut out = Vec::new();
    let Ok(mut entries) = tokio::fs::read_dir(stream_dir.join(DIR)).await else {
        return out;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = file.strip_suffix(".json") else {
            continue;
        };
        let parsed = match tokio::fs::read(entry.path()).await {
            Ok(text) => serde_json::from_slice::<Persisted>(&text).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        out.push((name.to_string(), parsed));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
