//! Finding the files of a directory to push: a walk that skips `.git/`,
//! `.granaryignore` itself and what `.granaryignore` lists (gitignore-style
//! globs: `#` comments, `!` re-includes, a trailing `/` for directories only,
//! a leading or inner `/` anchors to the root, `**` spans directories).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use globset::{Glob, GlobBuilder, GlobMatcher};
use granary_core::RepoPath;

use crate::error::{Failure, Kind};

/// The ignore file read from the root of a pushed directory.
pub const IGNORE_FILE: &str = ".granaryignore";

/// A regular file found under the pushed directory.
#[derive(Debug, Clone)]
pub struct LocalFile {
    pub path: RepoPath,
    pub abs: PathBuf,
    pub size: u64,
}

struct Rule {
    glob: GlobMatcher,
    negated: bool,
    dir_only: bool,
}

/// Compiled `.granaryignore` rules; the last matching rule wins.
pub struct IgnoreRules(Vec<Rule>);

impl IgnoreRules {
    /// Parses the text of an ignore file.
    pub fn parse(text: &str) -> Result<Self, Failure> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (negated, pat) = match line.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, line.strip_prefix('\\').unwrap_or(line)),
            };
            let dir_only = pat.ends_with('/');
            let pat = pat.trim_end_matches('/');
            let anchored = pat.starts_with('/') || pat.contains('/');
            let pat = pat.trim_start_matches('/');
            let full = if anchored {
                pat.to_string()
            } else {
                format!("**/{pat}")
            };
            let glob = GlobBuilder::new(&full)
                .literal_separator(true)
                .build()
                .map_err(|e| {
                    Failure::new(
                        Kind::Invalid,
                        format!(
                            "{IGNORE_FILE} line {}: `{line}` is not a valid glob: {e}",
                            n + 1
                        ),
                    )
                })?
                .compile_matcher();
            rules.push(Rule {
                glob,
                negated,
                dir_only,
            });
        }
        Ok(Self(rules))
    }

    /// Whether `rel` (`/`-separated, relative to the root) is ignored.
    pub fn is_ignored(&self, rel: &str, is_dir: bool) -> bool {
        let mut ignored = false;
        for rule in &self.0 {
            if rule.dir_only && !is_dir {
                continue;
            }
            if rule.glob.is_match(rel) {
                ignored = !rule.negated;
            }
        }
        ignored
    }
}

/// Every file to push under `root`, sorted by path.
pub fn scan(root: &Path) -> Result<Vec<LocalFile>> {
    let meta = std::fs::metadata(root).map_err(|e| {
        Failure::new(
            Kind::Invalid,
            format!("cannot read directory {}: {e}", root.display()),
        )
    })?;
    if !meta.is_dir() {
        crate::fail!(Invalid, "{} is not a directory", root.display());
    }
    let rules = match std::fs::read_to_string(root.join(IGNORE_FILE)) {
        Ok(text) => IgnoreRules::parse(&text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => IgnoreRules(Vec::new()),
        Err(e) => return Err(e).context(format!("cannot read {IGNORE_FILE}")),
    };
    let mut files = Vec::new();
    let walk = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let Some(rel) = relative(root, e.path()) else {
                return true;
            };
            let is_dir = e.file_type().is_dir();
            let git = is_dir && e.file_name() == ".git";
            !git && !rules.is_ignored(&rel, is_dir)
        });
    for entry in walk {
        let entry = entry.with_context(|| format!("cannot walk {}", root.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let Some(rel) = relative(root, entry.path()) else {
            continue;
        };
        if rel == IGNORE_FILE {
            continue;
        }
        let path = RepoPath::parse(&rel).map_err(|e| {
            Failure::new(
                Kind::Invalid,
                format!("cannot push {}: {e}", entry.path().display()),
            )
        })?;
        let size = entry
            .metadata()
            .with_context(|| format!("cannot stat {rel}"))?
            .len();
        files.push(LocalFile {
            path,
            abs: entry.path().to_path_buf(),
            size,
        });
    }
    granary_core::paths::check_path_set(files.iter().map(|f| &f.path)).map_err(|e| {
        Failure::new(
            Kind::Invalid,
            format!("cannot push {}: {e}", root.display()),
        )
    })?;
    Ok(files)
}

/// `a/b.txt` for `root/a/b.txt`; `None` for the root itself or a non-UTF-8 name.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    let parts = parts?;
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Compiles `--include` / `--exclude` globs (`*` does not cross `/`; `**` does).
pub fn compile_globs(globs: &[String], flag: &str) -> Result<Vec<GlobMatcher>, Failure> {
    globs
        .iter()
        .map(|g| {
            let glob: Glob = GlobBuilder::new(g)
                .literal_separator(true)
                .build()
                .map_err(|e| {
                    Failure::new(
                        Kind::Invalid,
                        format!("{flag} `{g}` is not a valid glob: {e}"),
                    )
                })?;
            Ok(glob.compile_matcher())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_rules_follow_gitignore() {
        let rules =
            IgnoreRules::parse("# c\n*.tmp\n/build\nlogs/\n!keep.tmp\ndocs/*.pdf\n").unwrap();
        assert!(rules.is_ignored("a.tmp", false));
        assert!(rules.is_ignored("x/y/a.tmp", false));
        assert!(!rules.is_ignored("keep.tmp", false));
        assert!(rules.is_ignored("build", true));
        assert!(!rules.is_ignored("sub/build", true));
        assert!(rules.is_ignored("sub/logs", true));
        assert!(!rules.is_ignored("logs", false));
        assert!(rules.is_ignored("docs/a.pdf", false));
        assert!(!rules.is_ignored("docs/x/a.pdf", false));
        assert!(IgnoreRules::parse("a[").is_err());
    }

    #[test]
    fn scan_skips_git_and_ignored_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (p, body) in [
            (".git/HEAD", "x"),
            ("config.json", "{}"),
            ("sub/w.safetensors", "w"),
            ("sub/scratch.tmp", "t"),
            (IGNORE_FILE, "*.tmp\n"),
        ] {
            std::fs::create_dir_all(root.join(p).parent().unwrap()).unwrap();
            std::fs::write(root.join(p), body).unwrap();
        }
        let files = scan(root).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["config.json", "sub/w.safetensors"]);
        assert_eq!(files[0].size, 2);
    }

    #[test]
    fn include_globs_respect_separators() {
        let g = compile_globs(&["*.json".into()], "--include").unwrap();
        assert!(g[0].is_match("config.json"));
        assert!(!g[0].is_match("sub/config.json"));
        assert!(compile_globs(&["a[".into()], "--include").is_err());
    }
}
