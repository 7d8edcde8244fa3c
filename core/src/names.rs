//! Model names: `owner/name`, each part validated the same way.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Names that cannot be owners because URLs use them (`/api/...`, `/models`, ...).
pub const RESERVED_OWNERS: &[&str] = &[
    "api",
    "models",
    "datasets",
    "spaces",
    "settings",
    "kernels",
    "buckets",
    "login",
    "logout",
    "signup",
    "static",
    "assets",
    "new",
    "search",
    "healthz",
    "docs",
    "admin",
    "organizations",
    "orgs",
    "users",
    "tokens",
    "join",
];

/// Why a name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("`{0}` is not of the form OWNER/NAME")]
    NotOwnerSlashName(String),
    #[error("`{0}` must be 1 to 96 characters long")]
    Length(String),
    #[error("`{0}` may contain only ASCII letters, digits, `-`, `_` and `.`")]
    Character(String),
    #[error("`{0}` must start and end with a letter or digit")]
    Edge(String),
    #[error("`{0}` must not contain `..`")]
    DoubleDot(String),
    #[error("`{0}` is a reserved name and cannot be an owner")]
    Reserved(String),
}

/// Checks one segment of a model id (an owner, a model name, an organisation, a user).
pub fn validate_segment(s: &str) -> Result<(), NameError> {
    if s.is_empty() || s.len() > 96 {
        return Err(NameError::Length(s.to_string()));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(NameError::Character(s.to_string()));
    }
    let edge_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    if !edge_ok(s.bytes().next()) || !edge_ok(s.bytes().last()) {
        return Err(NameError::Edge(s.to_string()));
    }
    if s.contains("..") {
        return Err(NameError::DoubleDot(s.to_string()));
    }
    Ok(())
}

/// Checks a name that will own models (a user or an organisation).
pub fn validate_owner(s: &str) -> Result<(), NameError> {
    validate_segment(s)?;
    if RESERVED_OWNERS.contains(&s.to_ascii_lowercase().as_str()) {
        return Err(NameError::Reserved(s.to_string()));
    }
    Ok(())
}

/// A validated `owner/name`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ModelId {
    owner: String,
    name: String,
}

impl ModelId {
    pub fn new(owner: &str, name: &str) -> Result<Self, NameError> {
        validate_owner(owner)?;
        validate_segment(name)?;
        Ok(Self {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The case-folded form under which ids are unique.
    pub fn key(&self) -> String {
        format!("{}/{}", self.owner, self.name).to_ascii_lowercase()
    }
}

impl FromStr for ModelId {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((owner, name)) if !name.contains('/') => Self::new(owner, name),
            _ => Err(NameError::NotOwnerSlashName(s.to_string())),
        }
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl fmt::Debug for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelId({self})")
    }
}

impl Serialize for ModelId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ModelId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Checks a branch or tag name: like git's rules, but stricter.
pub fn validate_ref_name(s: &str) -> Result<(), String> {
    let ok_chars = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
    if s.is_empty() || s.len() > 128 {
        return Err(format!("ref name `{s}` must be 1 to 128 characters long"));
    }
    if !ok_chars {
        return Err(format!(
            "ref name `{s}` may contain only ASCII letters, digits, `-`, `_`, `.` and `/`"
        ));
    }
    if s.len() >= crate::manifest::MIN_PREFIX && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "ref name `{s}` looks like a revision id ({} or more hex digits); a branch or tag of that name \
             would be confused with the revision it abbreviates",
            crate::manifest::MIN_PREFIX
        ));
    }
    if s.starts_with(['/', '.', '-'])
        || s.ends_with(['/', '.'])
        || s.contains("..")
        || s.contains("//")
        || s.ends_with(".lock")
    {
        return Err(format!(
            "ref name `{s}` is malformed (no leading `/`, `.` or `-`, no `..`, `//` or trailing `/`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        let id: ModelId = "alice/tiny-llama_v1.5".parse().unwrap();
        assert_eq!(id.owner(), "alice");
        assert_eq!(id.name(), "tiny-llama_v1.5");
        assert_eq!(id.key(), "alice/tiny-llama_v1.5");
        assert_eq!("Alice/X".parse::<ModelId>().unwrap().key(), "alice/x");
    }

    #[test]
    fn refuses_bad_names() {
        for bad in [
            "alice",
            "alice/",
            "/x",
            "a/b/c",
            "alice/-x",
            "alice/x-",
            "alice/a..b",
            "alice/a b",
            "alice/ä",
            "api/x",
            "Models/x",
            "settings/x",
        ] {
            assert!(bad.parse::<ModelId>().is_err(), "{bad} should be refused");
        }
        assert!(ModelId::new("a", &"x".repeat(97)).is_err());
        assert!(ModelId::new("a", &"x".repeat(96)).is_ok());
    }

    #[test]
    fn ref_names() {
        for good in [
            "main",
            "v1.0",
            "release/2026-11",
            "feature_x",
            "deadbeef",
            "cafe12345678x",
        ] {
            assert!(validate_ref_name(good).is_ok(), "{good}");
        }
        let revision_like = "0123456789ab";
        let full_id = "a".repeat(64);
        for bad in [
            "",
            "../x",
            "a//b",
            "/a",
            "a/",
            "a b",
            "x.lock",
            ".hidden",
            "-x",
            revision_like,
            "DEADBEEFCAFE00",
            &full_id,
        ] {
            assert!(validate_ref_name(bad).is_err(), "{bad}");
        }
    }
}
