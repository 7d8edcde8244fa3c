//! The revision manifest. A revision's id is the SHA-256 of its manifest's
//! canonical bytes, so anyone holding the manifest can check a pull.
//!
//! Canonical bytes: `serde_json` compact output of [`Manifest`] with the
//! fields in the declared order, `files` sorted by path (byte order), and maps
//! ordered by key. [`Manifest::canonical_bytes`] is the one place they are made.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{RepoPath, Sha256};

/// The manifest format written by this version.
pub const MANIFEST_FORMAT: u32 = 1;

/// Everything a revision is: its files and the facts about how it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Manifest {
    pub format: u32,
    /// The revision this one builds on; `None` for the first revision of a branch.
    pub parent: Option<Sha256>,
    pub author: String,
    pub message: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub license: LicenseInfo,
    pub files: Vec<FileEntry>,
}

/// The license a revision is published under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenseInfo {
    /// An SPDX id where one exists (`Apache-2.0`), else the Hub's id (`llama3`, `other`).
    pub id: String,
    /// For `other`: the name the model card gives (`license_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One file of a revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileEntry {
    pub path: RepoPath,
    pub size: u64,
    pub sha256: Sha256,
    /// For `.safetensors` files: what the header declares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safetensors: Option<SafetensorsSummary>,
    /// Reserved: a file stored as a list of content-addressed chunks. Empty today.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<Sha256>,
}

/// A safetensors header in brief: tensor count and parameters per dtype.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SafetensorsSummary {
    pub tensors: u64,
    pub parameters: BTreeMap<String, u64>,
}

impl SafetensorsSummary {
    pub fn total_parameters(&self) -> u64 {
        self.parameters.values().sum()
    }
}

impl Manifest {
    /// The bytes whose SHA-256 is the revision id. Sorts `files` first.
    pub fn canonical_bytes(&mut self) -> Vec<u8> {
        self.files
            .sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
        serde_json::to_vec(self).expect("a manifest always serialises")
    }

    /// The revision id: the SHA-256 of the canonical bytes.
    pub fn revision_id(&mut self) -> Sha256 {
        Sha256::of(&self.canonical_bytes())
    }

    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Parameters per dtype, summed over every safetensors file.
    pub fn parameters(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for s in self.files.iter().filter_map(|f| f.safetensors.as_ref()) {
            for (dtype, n) in &s.parameters {
                *out.entry(dtype.clone()).or_insert(0) += n;
            }
        }
        out
    }

    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path.as_str() == path)
    }
}

/// How a caller names a revision: a branch or tag, a full id, or an id prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevisionRef {
    /// A full 64-hex revision id.
    Id(Sha256),
    /// 12 to 63 hex characters (40 is the Hub clients' commit id).
    Prefix(String),
    /// A branch or tag name.
    Name(String),
}

/// The shortest id prefix accepted.
pub const MIN_PREFIX: usize = 12;

impl FromStr for RevisionRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let is_hex = !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
        if is_hex && s.len() == 64 {
            return Ok(Self::Id(
                s.parse()
                    .map_err(|e: crate::digest::DigestError| e.to_string())?,
            ));
        }
        if is_hex && s.len() >= MIN_PREFIX && s.len() < 64 {
            return Ok(Self::Prefix(s.to_ascii_lowercase()));
        }
        crate::names::validate_ref_name(s)?;
        Ok(Self::Name(s.to_string()))
    }
}

impl fmt::Display for RevisionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Prefix(p) => f.write_str(p),
            Self::Name(n) => f.write_str(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT,
            parent: None,
            author: "alice".into(),
            message: "first".into(),
            created_at: 1,
            license: LicenseInfo {
                id: "MIT".into(),
                name: None,
            },
            files: vec![
                FileEntry {
                    path: RepoPath::parse("b.txt").unwrap(),
                    size: 1,
                    sha256: Sha256::of(b"b"),
                    safetensors: None,
                    chunks: vec![],
                },
                FileEntry {
                    path: RepoPath::parse("a.txt").unwrap(),
                    size: 1,
                    sha256: Sha256::of(b"a"),
                    safetensors: None,
                    chunks: vec![],
                },
            ],
        }
    }

    #[test]
    fn id_is_independent_of_file_order() {
        let mut a = sample();
        let mut b = sample();
        b.files.reverse();
        assert_eq!(a.revision_id(), b.revision_id());
        let bytes = a.canonical_bytes();
        let back: Manifest = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, a);
        assert_eq!(Sha256::of(&bytes), a.revision_id());
    }

    #[test]
    fn any_change_changes_the_id() {
        let mut a = sample();
        let mut b = sample();
        b.message.push('!');
        assert_ne!(a.revision_id(), b.revision_id());
    }

    #[test]
    fn parses_revision_refs() {
        let id = Sha256::of(b"x");
        assert_eq!(
            id.hex().parse::<RevisionRef>().unwrap(),
            RevisionRef::Id(id)
        );
        assert_eq!(
            id.short40().parse::<RevisionRef>().unwrap(),
            RevisionRef::Prefix(id.short40())
        );
        assert_eq!(
            "main".parse::<RevisionRef>().unwrap(),
            RevisionRef::Name("main".into())
        );
        assert_eq!(
            "abc123".parse::<RevisionRef>().unwrap(),
            RevisionRef::Name("abc123".into())
        );
        assert!("../x".parse::<RevisionRef>().is_err());
    }
}
