//! Git object ids of files, as the Hub shows them: the git blob SHA-1
//! (`sha1("blob <size>\0" + content)`) of small files, computed once per blob
//! and cached in `hf_git_oids`; for `lfs` files the blob id of their Git LFS
//! pointer file, which needs only the SHA-256 and the size.

use futures::StreamExt;
use granary_core::Sha256;
use sha1::{Digest, Sha1};

use super::HfResult;
use crate::app::App;
use crate::db::{blobs, git_oids};
use crate::error::AppError;

/// The Git LFS pointer file of a blob.
pub fn lfs_pointer(sha256: &Sha256, size: u64) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n")
}

/// The git blob id of some bytes.
pub fn git_blob_oid(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex::encode(h.finalize())
}

/// The `oid` of a file in tree listings: the content's blob id below the
/// inline threshold, the LFS pointer's blob id above it.
pub async fn tree_oid(app: &App, sha256: &Sha256, size: u64) -> HfResult<String> {
    if size > super::inline_max(app) {
        Ok(git_blob_oid(lfs_pointer(sha256, size).as_bytes()))
    } else {
        content_oid(app, sha256).await
    }
}

/// The git blob id of a stored blob's content (read once, then cached).
pub async fn content_oid(app: &App, sha256: &Sha256) -> HfResult<String> {
    if let Some(oid) = git_oids::find(&app.db, sha256).await? {
        return Ok(oid);
    }
    let layout = blobs::find(&app.db, sha256).await?.ok_or_else(|| {
        AppError::internal(anyhow::anyhow!("blob {sha256} of a revision is missing"))
    })?;
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", layout.size).as_bytes());
    let mut stream = app.storage.blob_range_stream(layout, 0..layout.size);
    while let Some(chunk) = stream.next().await {
        h.update(&chunk?);
    }
    let oid = hex::encode(h.finalize());
    git_oids::insert(&app.db, sha256, &oid).await?;
    Ok(oid)
}

/// The id of a directory of a revision (stable; the clients only carry it).
pub fn directory_oid(revision_id: &str, path: &str) -> String {
    let mut h = Sha1::new();
    h.update(format!("tree {revision_id} {path}").as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    #[test]
    fn git_blob_ids() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            super::git_blob_oid(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(
            super::git_blob_oid(b""),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
    }
}
