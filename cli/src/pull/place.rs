//! Putting cached blobs into the pulled directory: a copy, or with `link` a
//! hard link when the cache and the directory share a file system (else a
//! copy). A file already there is replaced atomically (never left half-written).
//!
//! Hard links share one inode between the cache and every pulled copy: the
//! blobs are read-only, but root ignores that, so a root user editing one
//! pulled file in place would change it everywhere. So a pull by root copies
//! (the kernel's copy may share extents copy-on-write where the file system
//! can) unless `--link` asks for links; other users get links by default.

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

/// Whether pulls link by default: not when running as root (see the module).
pub fn links_by_default() -> bool {
    !running_as_root()
}

/// Linux: `/proc/self` belongs to the process's effective user.
#[cfg(unix)]
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[cfg(not(unix))]
fn running_as_root() -> bool {
    false
}

/// Places `blob` at `dest`: hard-linked when `link` (and possible), else copied.
pub fn place(blob: &Path, dest: &Path, link: bool) -> Result<Placed> {
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
    let linked = link && fs::hard_link(blob, &tmp).is_ok();
    let how = match linked {
        true => Placed::Linked,
        false => {
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
        assert_eq!(place(&blob, &dest, true).unwrap(), Placed::Linked);
        assert_eq!(fs::read(&dest).unwrap(), b"weights");
        assert_eq!(place(&blob, &dest, true).unwrap(), Placed::Unchanged);
        let other = dir.path().join("other");
        fs::write(&other, b"new").unwrap();
        assert_eq!(place(&other, &dest, true).unwrap(), Placed::Linked);
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        // Without `link`, a copy of its own that can be written.
        assert_eq!(place(&blob, &dest, false).unwrap(), Placed::Copied);
        fs::write(&dest, b"edited").unwrap();
        assert_eq!(fs::read(&blob).unwrap(), b"weights");
    }
}
