//! The cache's record of pulls: which model revisions its blobs were pulled
//! for, into which directories, and when last, so `granary cache ls` can group
//! the cache by model and `cache rm OWNER/NAME[:REF]` remove one model's blobs.
//!
//! ```text
//! $GRANARY_CACHE/pulls/OWNER/NAME/REVISION.json
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

/// One revision pulled through the cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullRecord {
    /// OWNER/NAME.
    pub model: String,
    /// The full revision id.
    pub revision: String,
    /// The branches or tags it was pulled by.
    #[serde(default)]
    pub refs: Vec<String>,
    /// Milliseconds since the epoch of the last pull.
    pub last_used: i64,
    /// The directories it was pulled into.
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
    pub files: Vec<PulledFile>,
}

/// A file of a pulled revision.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PulledFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

impl PullRecord {
    /// The bytes of its files.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

fn dir(root: &Path) -> PathBuf {
    root.join("pulls")
}

fn path_of(root: &Path, model: &str, revision: &str) -> PathBuf {
    model
        .split('/')
        .fold(dir(root), |p, s| p.join(s))
        .join(format!("{revision}.json"))
}

/// Records a pull, merging with an earlier one of the same revision.
pub fn record(root: &Path, mut new: PullRecord) -> Result<()> {
    let path = path_of(root, &new.model, &new.revision);
    if let Some(old) = fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<PullRecord>(&b).ok())
    {
        for r in old.refs {
            if !new.refs.contains(&r) {
                new.refs.push(r);
            }
        }
        for d in old.dirs {
            if !new.dirs.contains(&d) {
                new.dirs.push(d);
            }
        }
    }
    let parent = path.parent().expect("a record has a parent");
    fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    fs::write(&tmp, serde_json::to_vec_pretty(&new)?)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))
}

/// Every record, by model then newest first.
pub fn load_all(root: &Path) -> Vec<PullRecord> {
    let mut out: Vec<PullRecord> = walkdir::WalkDir::new(dir(root))
        .into_iter()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    out.sort_by(|a, b| a.model.cmp(&b.model).then(b.last_used.cmp(&a.last_used)));
    out
}

/// Forgets a record.
pub fn forget(root: &Path, record: &PullRecord) -> Result<()> {
    let path = path_of(root, &record.model, &record.revision);
    fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))
}
