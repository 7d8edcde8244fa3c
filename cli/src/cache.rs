//! The content-addressed blob cache shared by every pull on this machine.
//!
//! ```text
//! $GRANARY_CACHE/                      (default: the user's cache dir + /granary)
//!   blobs/sha256/ab/abcdef…            a verified blob, read-only, hard-linked into pulled dirs
//!   blobs/sha256/ab/abcdef….stamp      size, mtime and inode when it was last verified
//!   partial/abcdef…                    a download in progress (preallocated to the full size)
//!   partial/abcdef….chunks             its chunk size, then one line per chunk received
//!   hashes.json                        digests of pushed files by (path, size, mtime, inode)
//! ```
//!
//! A blob enters `blobs/` only after its SHA-256 matched. Before a cached blob
//! is used its size is checked, and its stamp: a blob modified since it was
//! verified (through a hard link, say) is rehashed, and removed if it no
//! longer matches.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use granary_core::Sha256;

use crate::hashing::FileStamp;

/// The cache rooted at one directory.
#[derive(Debug, Clone)]
pub struct BlobCache {
    root: PathBuf,
}

/// A cached blob as `cache ls` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CachedBlob {
    pub sha256: String,
    pub size: u64,
    /// Hard links to it, the cache's own included.
    pub links: u64,
    #[serde(skip)]
    pub path: PathBuf,
}

impl BlobCache {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, sha: &Sha256) -> PathBuf {
        let hex = sha.hex();
        self.root.join("blobs/sha256").join(&hex[..2]).join(hex)
    }

    fn stamp_path(&self, sha: &Sha256) -> PathBuf {
        let mut p = self.blob_path(sha).into_os_string();
        p.push(".stamp");
        PathBuf::from(p)
    }

    pub fn partial_dir(&self) -> PathBuf {
        self.root.join("partial")
    }

    /// The path of an in-progress download and of its chunk log.
    pub fn partial_paths(&self, sha: &Sha256) -> (PathBuf, PathBuf) {
        let dir = self.partial_dir();
        (
            dir.join(sha.hex()),
            dir.join(format!("{}.chunks", sha.hex())),
        )
    }

    /// The cached blob, if present and still intact.
    pub fn lookup(&self, sha: &Sha256, size: u64) -> Result<Option<PathBuf>> {
        let path = self.blob_path(sha);
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        if meta.len() != size {
            self.remove(sha);
            return Ok(None);
        }
        let stamp = FileStamp::of(&meta);
        let recorded: Option<FileStamp> = fs::read(self.stamp_path(sha))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if recorded == Some(stamp) {
            return Ok(Some(path));
        }
        // Changed (or never stamped) since it was verified: check the bytes.
        let (actual, _) = granary_core::digest::hash_reader(fs::File::open(&path)?)?;
        if actual != *sha {
            self.remove(sha);
            return Ok(None);
        }
        self.write_stamp(sha, &path)?;
        Ok(Some(path))
    }

    /// Moves a verified file into the cache (read-only) and answers its cache path.
    pub fn insert_verified(&self, sha: &Sha256, file: &Path) -> Result<PathBuf> {
        let dest = self.blob_path(sha);
        fs::create_dir_all(dest.parent().expect("blob paths have a parent"))?;
        let mut perms = fs::metadata(file)?.permissions();
        perms.set_readonly(true);
        fs::set_permissions(file, perms)?;
        fs::rename(file, &dest)
            .with_context(|| format!("cannot move a download into {}", dest.display()))?;
        self.write_stamp(sha, &dest)?;
        Ok(dest)
    }

    fn write_stamp(&self, sha: &Sha256, path: &Path) -> Result<()> {
        let stamp = FileStamp::of(&fs::metadata(path)?);
        fs::write(self.stamp_path(sha), serde_json::to_vec(&stamp)?)?;
        Ok(())
    }

    /// Removes a blob and its stamp; a missing one is fine.
    pub fn remove(&self, sha: &Sha256) {
        let _ = fs::remove_file(self.blob_path(sha));
        let _ = fs::remove_file(self.stamp_path(sha));
    }

    /// Every cached blob.
    pub fn list(&self) -> Result<Vec<CachedBlob>> {
        let mut out = Vec::new();
        let dir = self.root.join("blobs/sha256");
        if !dir.exists() {
            return Ok(out);
        }
        for entry in walkdir::WalkDir::new(&dir)
            .min_depth(2)
            .max_depth(2)
            .sort_by_file_name()
        {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if !entry.file_type().is_file() || name.parse::<Sha256>().is_err() {
                continue;
            }
            let meta = entry.metadata()?;
            #[cfg(unix)]
            let links = std::os::unix::fs::MetadataExt::nlink(&meta);
            #[cfg(not(unix))]
            let links = 1;
            out.push(CachedBlob {
                sha256: name,
                size: meta.len(),
                links,
                path: entry.path().to_path_buf(),
            });
        }
        Ok(out)
    }

    /// In-progress downloads: (path, bytes on disk).
    pub fn partials(&self) -> Result<Vec<(PathBuf, u64)>> {
        let dir = self.partial_dir();
        let Ok(rd) = fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry?;
            out.push((entry.path(), entry.metadata()?.len()));
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_blobs_are_found_and_tampered_ones_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(dir.path().to_path_buf());
        let body = b"hello weights";
        let sha = Sha256::of(body);
        assert_eq!(cache.lookup(&sha, 13).unwrap(), None);
        let tmp = dir.path().join("dl");
        fs::write(&tmp, body).unwrap();
        let stored = cache.insert_verified(&sha, &tmp).unwrap();
        assert!(stored.ends_with(format!("blobs/sha256/{}/{}", &sha.hex()[..2], sha.hex())));
        assert_eq!(cache.lookup(&sha, 13).unwrap(), Some(stored.clone()));
        assert_eq!(cache.list().unwrap().len(), 1);

        // Same size, different bytes, written later: the stamp no longer matches.
        let mut perms = fs::metadata(&stored).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        fs::set_permissions(&stored, perms).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&stored, b"hellO weights").unwrap();
        assert_eq!(cache.lookup(&sha, 13).unwrap(), None);
        assert!(!stored.exists());
    }

    #[test]
    fn wrong_size_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(dir.path().to_path_buf());
        let sha = Sha256::of(b"abc");
        let tmp = dir.path().join("dl");
        fs::write(&tmp, b"abc").unwrap();
        cache.insert_verified(&sha, &tmp).unwrap();
        assert_eq!(cache.lookup(&sha, 4).unwrap(), None);
    }
}
