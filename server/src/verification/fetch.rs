//! Copies a revision's files out of the store into a work directory,
//! checking each file's SHA-256 on the way.

use std::path::Path;

use futures::StreamExt;
use granary_core::manifest::Manifest;
use granary_core::{RepoPath, Sha256Hasher};
use tokio::io::AsyncWriteExt;

use crate::app::App;
use crate::db::{blobs, revisions};

pub enum Fetched {
    Ok,
    /// Stored bytes do not match the manifest: the revision fails, with this reason.
    Corrupt(String),
}

pub async fn materialize(
    app: &App,
    model_id: &str,
    revision_id: &str,
    dir: &Path,
) -> anyhow::Result<Fetched> {
    let row = revisions::find(&app.db, model_id, revision_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("revision {revision_id} is gone"))?;
    let manifest: Manifest = serde_json::from_str(&row.manifest)?;
    for file in &manifest.files {
        let Some(layout) = blobs::find(&app.db, &file.sha256).await? else {
            return Ok(Fetched::Corrupt(format!(
                "blob of `{}` is missing from the registry",
                file.path
            )));
        };
        let target = local_path(dir, &file.path);
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let mut out = tokio::fs::File::create(&target).await?;
        let mut hasher = Sha256Hasher::new();
        let mut stream = app.storage.blob_range_stream(layout, 0..layout.size);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        let digest = hasher.finish();
        if digest != file.sha256 {
            return Ok(Fetched::Corrupt(format!(
                "stored bytes of `{}` hash to {digest}, not {}",
                file.path, file.sha256
            )));
        }
    }
    Ok(Fetched::Ok)
}

/// A validated repo path under `dir` (RepoPath cannot escape it).
fn local_path(dir: &Path, path: &RepoPath) -> std::path::PathBuf {
    path.as_str()
        .split('/')
        .fold(dir.to_path_buf(), |p, seg| p.join(seg))
}
