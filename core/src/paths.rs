//! File paths inside a model: relative, `/`-separated, in Unicode NFC, and
//! safe to write on any operating system a client may pull to. A pulled
//! path can neither leave the output directory nor reach tool configuration
//! (`.git/`, whose `config` runs commands), nor name a Windows device or a
//! name that Windows or macOS would silently change.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

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
    #[error("path `{0}` contains `{1}`, which Windows does not allow in file names")]
    ForbiddenChar(String, char),
    #[error("path `{0}` has a segment ending in a dot or a space, which Windows silently drops")]
    TrailingDotOrSpace(String),
    #[error("path `{0}` names `{1}`, a reserved device name on Windows")]
    ReservedName(String, String),
    #[error(
        "path `{0}` is inside `.git`: a pulled `.git/` could run commands through git's configuration"
    )]
    GitDirectory(String),
    #[error(
        "paths `{0}` and `{1}` differ only in case or Unicode form; they would collide on many file systems"
    )]
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
    /// Validates a path and brings it to Unicode NFC (macOS file systems hand out
    /// NFD names; one model file has one spelling).
    pub fn parse(s: &str) -> Result<Self, PathError> {
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        if s.len() > MAX_PATH_LEN {
            return Err(PathError::TooLong(
                s.chars().take(64).collect::<String>() + "…",
            ));
        }
        if s.chars().any(|c| c.is_control()) {
            return Err(PathError::Control(s.to_string()));
        }
        let s: String = s.nfc().collect();
        if s.len() > MAX_PATH_LEN {
            return Err(PathError::TooLong(
                s.chars().take(64).collect::<String>() + "…",
            ));
        }
        if s.starts_with('/') {
            return Err(PathError::Absolute(s));
        }
        if s.contains('\\') {
            return Err(PathError::Backslash(s));
        }
        let bytes = s.as_bytes();
        if bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() {
            return Err(PathError::Drive(s));
        }
        if let Some(c) = s.chars().find(|c| WINDOWS_FORBIDDEN.contains(c)) {
            return Err(PathError::ForbiddenChar(s, c));
        }
        let segments: Vec<&str> = s.split('/').collect();
        if segments.len() > MAX_PATH_DEPTH {
            return Err(PathError::TooDeep(s));
        }
        for seg in &segments {
            if seg.is_empty() {
                return Err(PathError::EmptySegment(s));
            }
            if *seg == "." || *seg == ".." {
                return Err(PathError::DotSegment(s));
            }
            if seg.ends_with('.') || seg.ends_with(' ') {
                return Err(PathError::TrailingDotOrSpace(s));
            }
            if is_git_directory(seg) {
                return Err(PathError::GitDirectory(s));
            }
            if let Some(device) = reserved_device(seg) {
                return Err(PathError::ReservedName(s, device));
            }
        }
        Ok(Self(s))
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

/// A path as it is stored: in Unicode NFC (for lookups of paths a client spelt in NFD).
pub fn nfc(path: &str) -> String {
    path.nfc().collect()
}

/// Characters Windows refuses in file names (`\\` and control characters are
/// refused on their own; `:` also names NTFS alternate data streams).
const WINDOWS_FORBIDDEN: &[char] = &[':', '<', '>', '"', '|', '?', '*'];

/// Code points that macOS (HFS+) ignores in names, so `.g\u{200c}it` is `.git` there.
fn is_ignorable(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}')
}

/// `.git` in any case, with ignorable code points, or as its Windows short name `git~1`.
/// (Trailing dots and spaces, which Windows drops, are refused for every segment.)
fn is_git_directory(segment: &str) -> bool {
    let visible: String = segment.chars().filter(|c| !is_ignorable(*c)).collect();
    visible.eq_ignore_ascii_case(".git") || visible.eq_ignore_ascii_case("git~1")
}

/// The Windows device a segment names, if any: `CON`, `NUL`, `COM1`… also with an
/// extension (`nul.txt` is the device too).
fn reserved_device(segment: &str) -> Option<String> {
    let stem = segment
        .split('.')
        .next()
        .unwrap_or(segment)
        .trim_end_matches(' ')
        .to_ascii_uppercase();
    let reserved = match stem.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        _ => match (
            stem.strip_prefix("COM")
                .or_else(|| stem.strip_prefix("LPT")),
            stem.chars().count(),
        ) {
            (Some(digit), 4) => digit
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '¹' | '²' | '³')),
            _ => false,
        },
    };
    reserved.then_some(stem)
}

/// The form two paths share when they would be one file on a case-insensitive,
/// normalising file system (NFC, then case folded).
fn collision_key(path: &str) -> String {
    path.nfc().collect::<String>().to_uppercase().to_lowercase()
}

/// Checks a whole file list: no duplicates, no two paths equal ignoring case and
/// Unicode form, and no path that is both a file and the directory of another.
pub fn check_path_set<'a>(paths: impl IntoIterator<Item = &'a RepoPath>) -> Result<(), PathError> {
    let mut seen: HashMap<String, &RepoPath> = HashMap::new();
    let mut all = Vec::new();
    for p in paths {
        let folded = collision_key(p.as_str());
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
        for seg in p
            .as_str()
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map(|x| x.1)
            .unwrap_or(&[])
        {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(seg);
            if seen.contains_key(&collision_key(&prefix)) {
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

/// On the wire: a relative path with `/` separators (the rules above).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for RepoPath {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A file path inside a model: relative, `/`-separated, no `..`.",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for RepoPath {}

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
        for good in [
            "config.json",
            "onnx/model.onnx",
            "a/b/c.txt",
            ".gitattributes",
            ".gitignore",
            "a..b",
            "git/x",
            "console.log",
            "com10",
            "my .git",
            "COMé",
            "ÇOM1",
        ] {
            assert!(RepoPath::parse(good).is_ok(), "{good}");
        }
        assert_eq!(
            RepoPath::parse("x/Model.SafeTensors")
                .unwrap()
                .extension()
                .unwrap(),
            "safetensors"
        );
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
            (".git/config", "git"),
            ("sub/.GIT/hooks/pre-commit", "git"),
            (".git./config", "trailing dot"),
            (".git /config", "trailing space"),
            (".g\u{200c}it/config", "git with an ignorable code point"),
            ("GIT~1/config", "git short name"),
            ("CON", "device"),
            ("nul.txt", "device"),
            ("a/Com1.json", "device"),
            ("LPT9", "device"),
            ("com\u{b9}.txt", "device with a superscript digit"),
            ("a:b", "colon"),
            ("stream.bin:evil", "colon"),
            ("what?.txt", "windows character"),
            ("a|b", "windows character"),
            ("file.", "trailing dot"),
            ("dir /file", "trailing space"),
            (long.as_str(), "long"),
            (deep.as_str(), "deep"),
        ];
        for (bad, why) in cases {
            assert!(
                RepoPath::parse(bad).is_err(),
                "{bad:?} should be refused ({why})"
            );
        }
    }

    #[test]
    fn refuses_colliding_sets() {
        let p = |s: &str| RepoPath::parse(s).unwrap();
        assert!(matches!(
            check_path_set(&[p("README.md"), p("readme.md")]),
            Err(PathError::CaseCollision(..))
        ));
        assert!(matches!(
            check_path_set(&[p("a"), p("a")]),
            Err(PathError::Duplicate(_))
        ));
        assert!(matches!(
            check_path_set(&[p("a"), p("A/b")]),
            Err(PathError::FileAndDirectory(_))
        ));
        assert!(check_path_set(&[p("a/b"), p("a/c"), p("b")]).is_ok());
        // NFC and NFD spellings of one name are one path; so are ß and SS.
        assert!(matches!(
            check_path_set(&[p("caf\u{e9}"), p("CAFE\u{301}")]),
            Err(PathError::CaseCollision(..))
        ));
        assert!(matches!(
            check_path_set(&[p("stra\u{df}e"), p("STRASSE")]),
            Err(PathError::CaseCollision(..))
        ));
    }

    #[test]
    fn normalises_to_nfc() {
        assert_eq!(
            RepoPath::parse("cafe\u{301}.txt").unwrap().as_str(),
            "caf\u{e9}.txt"
        );
        let json = serde_json::to_string(&"cafe\u{301}/x").unwrap();
        let p: RepoPath = serde_json::from_str(&json).unwrap();
        assert_eq!(p.as_str(), "caf\u{e9}/x");
    }
}
