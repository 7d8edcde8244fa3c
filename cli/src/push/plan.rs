//! What a push changes: the files of DIR laid over the parent revision's.
//! A file of the parent that DIR lacks is kept unless `--sync` (DIR is the
//! whole revision) or a `--delete GLOB` matching it says to remove it, so a
//! folder holding only an edited README never drops the weights silently.

use std::collections::BTreeMap;

use globset::GlobMatcher;
use granary_core::api::{CommitFile, FileInfo};

/// Which parent files DIR's absence removes.
pub enum Removal<'a> {
    /// Keep every parent file DIR lacks.
    Keep,
    /// Remove those matching one of these globs.
    Matching(&'a [GlobMatcher]),
    /// Remove every one (`--sync`).
    All,
}

/// The file list of the new revision and how it differs from the parent's.
#[derive(Debug, Default)]
pub struct Plan {
    /// Every file of the new revision, sorted by path.
    pub files: Vec<CommitFile>,
    /// Paths new to the revision.
    pub added: Vec<String>,
    /// Paths whose bytes changed.
    pub replaced: Vec<String>,
    /// Parent paths DIR lacks, kept as they were.
    pub kept: Vec<String>,
    /// Parent paths DIR lacks, removed (`--sync`, `--delete`).
    pub removed: Vec<String>,
}

impl Plan {
    /// Lays `local` (DIR's files, hashed) over `parent` (the parent's files; empty for
    /// a first push).
    pub fn new(local: Vec<CommitFile>, parent: &[FileInfo], removal: &Removal) -> Self {
        let mut plan = Plan::default();
        let old: BTreeMap<&str, &FileInfo> = parent.iter().map(|f| (f.path.as_str(), f)).collect();
        let mut files: BTreeMap<String, CommitFile> = BTreeMap::new();
        for f in local {
            match old.get(f.path.as_str()) {
                None => plan.added.push(f.path.to_string()),
                Some(o) if o.sha256 != f.sha256 || o.size != f.size => {
                    plan.replaced.push(f.path.to_string())
                }
                Some(_) => {}
            }
            files.insert(f.path.to_string(), f);
        }
        for (path, f) in old {
            if files.contains_key(path) {
                continue;
            }
            let remove = match removal {
                Removal::Keep => false,
                Removal::Matching(globs) => globs.iter().any(|g| g.is_match(path)),
                Removal::All => true,
            };
            if remove {
                plan.removed.push(path.to_string());
            } else {
                plan.kept.push(path.to_string());
                files.insert(
                    path.to_string(),
                    CommitFile {
                        path: f.path.clone(),
                        size: f.size,
                        sha256: f.sha256,
                    },
                );
            }
        }
        plan.files = files.into_values().collect();
        plan
    }

    /// Whether the new revision's files equal the parent's.
    pub fn is_unchanged(&self) -> bool {
        self.added.is_empty() && self.replaced.is_empty() && self.removed.is_empty()
    }

    /// Lines for stderr saying what was added, replaced, kept and removed.
    pub fn summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (verb, paths) in [
            ("added", &self.added),
            ("replaced", &self.replaced),
            ("removed", &self.removed),
        ] {
            if !paths.is_empty() {
                out.push(format!("{verb} {}: {}", paths.len(), names(paths)));
            }
        }
        if !self.kept.is_empty() {
            out.push(format!(
                "kept {} from the parent that DIR lacks (--sync or --delete GLOB removes them): {}",
                self.kept.len(),
                names(&self.kept)
            ));
        }
        out
    }
}

/// At most ten paths, then how many more.
fn names(paths: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut text = paths
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > SHOWN {
        text.push_str(&format!(" and {} more", paths.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use granary_core::Sha256;

    use super::*;

    fn local(path: &str, body: &str) -> CommitFile {
        CommitFile {
            path: granary_core::RepoPath::parse(path).unwrap(),
            size: body.len() as u64,
            sha256: Sha256::of(body.as_bytes()),
        }
    }

    fn old(path: &str, body: &str) -> FileInfo {
        let f = local(path, body);
        FileInfo {
            path: f.path,
            size: f.size,
            sha256: f.sha256,
            safetensors: None,
        }
    }

    #[test]
    fn absent_files_are_kept_unless_removal_is_asked() {
        let parent = [
            old("README.md", "a"),
            old("w.safetensors", "w"),
            old("x.bin", "x"),
        ];
        let dir = || vec![local("README.md", "b"), local("new.txt", "n")];
        let plan = Plan::new(dir(), &parent, &Removal::Keep);
        assert_eq!(plan.files.len(), 4);
        assert_eq!(plan.replaced, ["README.md"]);
        assert_eq!(plan.added, ["new.txt"]);
        assert_eq!(plan.kept, ["w.safetensors", "x.bin"]);
        assert!(!plan.is_unchanged());

        let globs = crate::scan::compile_globs(&["*.bin".into()], "--delete").unwrap();
        let plan = Plan::new(dir(), &parent, &Removal::Matching(&globs));
        assert_eq!(
            (plan.kept.as_slice(), plan.removed.as_slice()),
            (
                &["w.safetensors".to_string()][..],
                &["x.bin".to_string()][..]
            )
        );

        let plan = Plan::new(dir(), &parent, &Removal::All);
        assert_eq!(plan.files.len(), 2);
        assert_eq!(plan.removed, ["w.safetensors", "x.bin"]);
    }

    #[test]
    fn the_same_files_are_unchanged() {
        let parent = [old("a", "1"), old("b", "2")];
        let plan = Plan::new(vec![local("a", "1")], &parent, &Removal::Keep);
        assert!(plan.is_unchanged());
        assert_eq!(plan.files.len(), 2);
    }
}
