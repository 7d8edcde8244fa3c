//! File paths inside a model: relative, `/`-separated, and safe to write on
//! any operating system a client may pull to.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest path accepted, in bytes.
pub const MAX_PATH_LEN: usize = 1024;
/// The deepest path accepted, in segments.
pub const MAX_PATH_DEPTH: usize = 32;

/// Why a path was refused. Each message names the path and the rule.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path `{0}` is longer than {MAX_PATH_LEN} bytes")]
    TooLong(String),
    #[error("path `{0}` is deeper than {MAX_PATH_DEPTH} directories")]
    TooDeep(String),
    #[error("path `{0}` is absolute; paths must be relative to the model root")]
    Absolute(String),
    #[error("path `{0}` contains a backslash; use `/` to separate directories")]
    Backslash(String),
    #[error("path `{0:?}` contains a control character or NUL")]
    Control(String),
    #[error("path `{0}` has an empty segment (`//` or a trailing `/`)")]
    EmptySegment(String),
    #[error("path `{0}` contains a `.` or `..` segment")]
    DotSegment(String),
    #[error("path `{0}` looks like a Windows drive path")]
    Drive(String),
    #[error("paths `{0}` and `{1}` differ only in case; they would collide on many file systems")]
    CaseCollision(String, String),
    #[error("path `{0}` is listed twice")]
    Duplicate(String),
    #[error("path `{0}` is both a file and a directory")]
    FileAndDirectory(String),
}

/// A validated relative file path such as `model-00001-of-00003.safetensors` or `onnx/model.onnx`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoPath(String);

impl RepoPath {
    pub fn parse(s: &str) -> Result<Self, PathError> {
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        if s.len() > MAX_PATH_LEN {
            return Err(PathError::TooLong(s.chars().take(64).collect::<String>() + "…"));
        }
        if s.chars().any(|c| c.is_control()) {
            return Err(PathError::Control(s.to_string()));
        }
        if s.starts_with('/') {
            return Err(PathError::Absolute(s.to_string()));
        }
        if s.contains('\\') {
            return Err(PathError::Backslash(s.to_string()));
        }
        let bytes = s.as_bytes();
        if bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() {
            return Err(PathError::Drive(s.to_string()));
        }
        let segments: Vec<&str> = s.split('/').collect();
        if segments.len() > MAX_PATH_DEPTH {
            return Err(PathError::TooDeep(s.to_string()));
        }
        for seg in &segments {
            if seg.is_empty() {
                return Err(PathError::EmptySegment(s.to_string()));
            }
            if *seg == "." || *seg == ".." {
                return Err(PathError::DotSegment(s.to_string()));
            }
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The lower-cased extension of the file name, if any.
    pub fn extension(&self) -> Option<String> {
        let name = self.file_name();
        name.rfind('.')
            .filter(|&i| i > 0)
            .map(|i| name[i + 1..].to_ascii_lowercase())
    }
}

/// Checks a whole file list: no duplicates, no two paths equal ignoring case,
/// and no path that is both a file and the directory of another.
pub fn check_path_set<'a>(paths: impl IntoIterator<Item = &'a RepoPath>) -> Result<(), PathError> {
    let mut seen: HashMap<String, &RepoPath> = HashMap::new();
    let mut all = Vec::new();
    for p in paths {
        let folded = p.as_str().to_lowercase();
        if let Some(prev) = seen.insert(folded, p) {
            return Err(if prev == p {
                PathError::Duplicate(p.0.clone())
            } else {
                PathError::CaseCollision(prev.0.clone(), p.0.clone())
            });
        }
        all.push(p);
    }
    for p in &all {
        let mut prefix = String::new();
        for seg in p.as_str().split('/').collect::<Vec<_>>().split_last().map(|x| x.1).unwrap_or(&[]) {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(seg);
            if seen.contains_key(&prefix.to_lowercase()) {
                return Err(PathError::FileAndDirectory(prefix));
            }
        }
    }
    Ok(())
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RepoPath({:?})", self.0)
    }
}

impl Serialize for RepoPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RepoPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RepoPath::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_paths() {
        for good in ["config.json", "onnx/model.onnx", "a/b/c.txt", ".gitattributes", "a..b"] {
            assert!(RepoPath::parse(good).is_ok(), "{good}");
        }
        assert_eq!(RepoPath::parse("x/Model.SafeTensors").unwrap().extension().unwrap(), "safetensors");
        assert_eq!(RepoPath::parse(".env").unwrap().extension(), None);
    }

    #[test]
    fn refuses_each_bad_path() {
        let long = "a".repeat(MAX_PATH_LEN + 1);
        let deep = vec!["d"; MAX_PATH_DEPTH + 1].join("/");
        let cases = [
            ("", "empty"),
            ("../etc/passwd", "dot"),
            ("a/../b", "dot"),
            ("./a", "dot"),
            ("/etc/passwd", "absolute"),
            ("C:/x", "drive"),
            ("c:x", "drive"),
            ("a\\b", "backslash"),
            ("a\0b", "control"),
            ("a\nb", "control"),
            ("a//b", "empty segment"),
            ("a/", "empty segment"),
            (long.as_str(), "long"),
            (deep.as_str(), "deep"),
        ];
        for (bad, why) in cases {
            assert!(RepoPath::parse(bad).is_err(), "{bad:?} should be refused ({why})");
        }
    }

    #[test]
    fn refuses_colliding_sets() {
        let p = |s: &str| RepoPath::parse(s).unwrap();
        assert!(matches!(
            check_path_set(&[p("README.md"), p("readme.md")]),
            Err(PathError::CaseCollision(..))
        ));
        assert!(matches!(check_path_set(&[p("a"), p("a")]), Err(PathError::Duplicate(_))));
        assert!(matches!(
            check_path_set(&[p("a"), p("A/b")]),
            Err(PathError::FileAndDirectory(_))
        ));
        assert!(check_path_set(&[p("a/b"), p("a/c"), p("b")]).is_ok());
    }
}
