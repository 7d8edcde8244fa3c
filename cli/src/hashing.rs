//! Hashing the files of a push on every core, with a local cache of digests
//! keyed by (path, size, mtime, inode) so an unchanged file is never rehashed.
//!
//! The cache is `hashes.json` in the blob cache directory. A stale entry can
//! only name the wrong digest if a file changed without its size, mtime or
//! inode changing; the server checks every uploaded blob's digest anyway.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, Result};
use granary_core::Sha256;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use crate::scan::LocalFile;

/// What identifies an unchanged file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    pub size: u64,
    pub mtime_ns: i128,
    pub inode: u64,
}

impl FileStamp {
    pub fn of(meta: &fs::Metadata) -> Self {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Self {
            size: meta.len(),
            mtime_ns,
            inode,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    stamp: FileStamp,
    sha256: Sha256,
}

/// Digests of files hashed before.
#[derive(Debug, Default)]
pub struct HashCache {
    path: Option<PathBuf>,
    entries: Mutex<HashMap<PathBuf, Entry>>,
}

impl HashCache {
    /// Loads `dir/hashes.json`; an unreadable cache is an empty one.
    pub fn load(dir: &Path) -> Self {
        let path = dir.join("hashes.json");
        let entries = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Self {
            path: Some(path),
            entries: Mutex::new(entries),
        }
    }

    fn lookup(&self, abs: &Path, stamp: FileStamp) -> Option<Sha256> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(abs)
            .filter(|e| e.stamp == stamp)
            .map(|e| e.sha256)
    }

    fn insert(&self, abs: PathBuf, stamp: FileStamp, sha256: Sha256) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.insert(abs, Entry { stamp, sha256 });
    }

    /// Writes the cache back, dropping entries of files that are gone.
    pub fn save(&self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|p, _| p.exists());
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        fs::write(&tmp, serde_json::to_vec(&*entries)?)?;
        fs::rename(&tmp, path)?;
        Ok(())
    }
}

/// The digest of every file, in the order given; `hashed` counts the bytes
/// actually read (files found in the cache are skipped). Largest files go
/// first, and `on_hashed(index, digest)` is called as each file is done, so
/// its upload can start while the others are hashed.
pub fn hash_all(
    files: &[LocalFile],
    cache: &HashCache,
    bar: &ProgressBar,
    on_hashed: impl Fn(usize, Sha256) + Sync,
) -> Result<(Vec<Sha256>, u64)> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(files[i].size));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Sha256>>> = Mutex::new(vec![None; files.len()]);
    let hashed = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(files.len().max(1));
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| -> Result<()> {
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&i) = order.get(k) else {
                            return Ok(());
                        };
                        let (digest, read) = hash_one(&files[i], cache, bar)?;
                        hashed.fetch_add(read as usize, Ordering::Relaxed);
                        on_hashed(i, digest);
                        results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(digest);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a hashing thread failed"))??;
        }
        Ok(())
    })?;
    let digests = results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|d| d.expect("every file was hashed"))
        .collect();
    Ok((digests, hashed.into_inner() as u64))
}

fn hash_one(file: &LocalFile, cache: &HashCache, bar: &ProgressBar) -> Result<(Sha256, u64)> {
    let f =
        fs::File::open(&file.abs).with_context(|| format!("cannot read {}", file.abs.display()))?;
    let meta = f.metadata()?;
    let stamp = FileStamp::of(&meta);
    if let Some(d) = cache.lookup(&file.abs, stamp) {
        bar.inc(stamp.size);
        return Ok((d, 0));
    }
    let reader = Counting { inner: f, bar };
    let (digest, len) = granary_core::digest::hash_reader(reader)
        .with_context(|| format!("cannot read {}", file.abs.display()))?;
    if len != stamp.size {
        crate::fail!(
            Other,
            "{} changed while it was being read: push again once it is written",
            file.abs.display()
        );
    }
    cache.insert(file.abs.clone(), stamp, digest);
    Ok((digest, len))
}

/// A reader that advances a progress bar.
struct Counting<'a, R> {
    inner: R,
    bar: &'a ProgressBar,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use granary_core::RepoPath;

    #[test]
    fn hashes_in_parallel_and_caches() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for i in 0..5u8 {
            let abs = dir.path().join(format!("f{i}"));
            let body = vec![i; 1000 * i as usize];
            fs::write(&abs, &body).unwrap();
            files.push(LocalFile {
                path: RepoPath::parse(&format!("f{i}")).unwrap(),
                abs,
                size: body.len() as u64,
            });
        }
        let cache = HashCache::load(&dir.path().join("cache"));
        let seen = Mutex::new(Vec::new());
        let (digests, read) = hash_all(&files, &cache, &ProgressBar::hidden(), |i, _| {
            seen.lock().unwrap().push(i)
        })
        .unwrap();
        assert_eq!(digests[3], Sha256::of(&[3u8; 3000]));
        assert_eq!(read, 10_000);
        assert_eq!(
            seen.into_inner().unwrap().len(),
            5,
            "each file reported once"
        );
        cache.save().unwrap();
        let cache = HashCache::load(&dir.path().join("cache"));
        let (again, read) = hash_all(&files, &cache, &ProgressBar::hidden(), |_, _| ()).unwrap();
        assert_eq!((again, read), (digests.clone(), 0));
        fs::write(&files[2].abs, b"changed!").unwrap();
        let (third, _) = hash_all(&files, &cache, &ProgressBar::hidden(), |_, _| ()).unwrap();
        assert_eq!(third[2], Sha256::of(b"changed!"));
    }
}
