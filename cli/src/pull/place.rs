//! Putting cached blobs into the pulled directory: a hard link when the cache
//! and the directory share a file system, else a copy. A file already there
//! is replaced atomically (never left half-written).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use granary_core::RepoPath;

/// How a file was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// Already the same file (same inode).
    Unchanged,
    Linked,
    Copied,
}

/// `dir/a/b` for the repo path `a/b`.
pub fn target(dir: &Path, path: &RepoPath) -> PathBuf {
    path.as_str()
        .split('/')
        .fold(dir.to_path_buf(), |p, seg| p.join(seg))
}

/// Places `blob` at `dest`.
pub fn place(blob: &Path, dest: &Path) -> Result<Placed> {
    let parent = dest.parent().expect("a target has a parent");
    fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    if same_file(blob, dest) {
        return Ok(Placed::Unchanged);
    }
    let name = dest
        .file_name()
        .expect("a target has a name")
        .to_string_lossy();
    let tmp = parent.join(format!(".{name}.granary-{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let how = match fs::hard_link(blob, &tmp) {
        Ok(()) => Placed::Linked,
        Err(_) => {
            fs::copy(blob, &tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
            let mut perms = fs::metadata(&tmp)?.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            fs::set_permissions(&tmp, perms)?;
            Placed::Copied
        }
    };
    if fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) {
        let _ = fs::remove_file(&tmp);
        crate::fail!(
            Other,
            "cannot write {}: a directory is in the way",
            dest.display()
        );
    }
    fs::rename(&tmp, dest).with_context(|| format!("cannot write {}", dest.display()))?;
    Ok(how)
}

#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::symlink_metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &Path, _: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_then_recognises_then_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let blob = dir.path().join("blob");
        fs::write(&blob, b"weights").unwrap();
        let dest = target(
            &dir.path().join("out"),
            &RepoPath::parse("sub/w.bin").unwrap(),
        );
        assert_eq!(place(&blob, &dest).unwrap(), Placed::Linked);
        assert_eq!(fs::read(&dest).unwrap(), b"weights");
        assert_eq!(place(&blob, &dest).unwrap(), Placed::Unchanged);
        let other = dir.path().join("other");
        fs::write(&other, b"new").unwrap();
        assert_eq!(place(&other, &dest).unwrap(), Placed::Linked);
        assert_eq!(fs::read(&dest).unwrap(), b"new");
    }
}
