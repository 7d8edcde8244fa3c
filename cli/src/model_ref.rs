//! `OWNER/NAME[:REF | @REVISION]` as typed on the command line, and the
//! percent-encoding of the URL segments built from it.

use granary_core::{ModelId, RevisionRef};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::{Failure, Kind};

/// Everything but RFC 3986's unreserved characters is encoded, `/` included
/// (a ref `release/1` travels as `release%2F1`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one URL path segment.
pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Percent-encodes a file path, keeping its `/` separators.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// A model and, optionally, which revision of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    pub id: ModelId,
    pub rev: Option<RevisionRef>,
}

impl ModelRef {
    /// Parses `OWNER/NAME`, `OWNER/NAME:REF` or `OWNER/NAME@REVISION`.
    pub fn parse(text: &str) -> Result<Self, Failure> {
        let (model, rev) = match (text.find('@'), text.find(':')) {
            (Some(at), _) => (&text[..at], Some((&text[at + 1..], true))),
            (None, Some(colon)) => (&text[..colon], Some((&text[colon + 1..], false))),
            (None, None) => (text, None),
        };
        let id: ModelId = model.parse().map_err(|e| {
            Failure::new(
                Kind::Invalid,
                format!("{e} (expected OWNER/NAME[:REF | @REVISION])"),
            )
        })?;
        let rev = match rev {
            None => None,
            Some((r, by_id)) => Some(parse_rev(r, by_id)?),
        };
        Ok(Self { id, rev })
    }

    /// Refuses a revision part, for commands that take a bare OWNER/NAME.
    pub fn parse_bare(text: &str) -> Result<ModelId, Failure> {
        let r = Self::parse(text)?;
        if r.rev.is_some() {
            return Err(Failure::new(
                Kind::Invalid,
                format!("expected OWNER/NAME, got `{text}`"),
            ));
        }
        Ok(r.id)
    }

    /// The revision as the API takes it (`main` when none was given).
    pub fn rev_or_main(&self) -> String {
        self.rev
            .as_ref()
            .map_or_else(|| "main".to_string(), ToString::to_string)
    }

    /// `/api/v1/models/{owner}/{name}`.
    pub fn api_base(&self) -> String {
        model_base(&self.id)
    }
}

/// `/api/v1/models/{owner}/{name}`.
pub fn model_base(id: &ModelId) -> String {
    format!(
        "/api/v1/models/{}/{}",
        encode_segment(id.owner()),
        encode_segment(id.name())
    )
}

/// A revision after `@` must be an id or a 12+ hex prefix; after `:` it is a ref name
/// (or, leniently, an id).
pub fn parse_rev(text: &str, by_id: bool) -> Result<RevisionRef, Failure> {
    let rev: RevisionRef = text.parse().map_err(|e: String| {
        Failure::new(Kind::Invalid, format!("invalid revision `{text}`: {e}"))
    })?;
    if by_id && matches!(rev, RevisionRef::Name(_)) {
        return Err(Failure::new(
            Kind::Invalid,
            format!(
                "`@{text}` is not a revision id: give the full id or at least 12 hex characters, or use `:{text}` for a branch or tag"
            ),
        ));
    }
    Ok(rev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        let r = ModelRef::parse("alice/tiny").unwrap();
        assert_eq!((r.id.to_string(), r.rev), ("alice/tiny".into(), None));
        let r = ModelRef::parse("alice/tiny:release/1").unwrap();
        assert_eq!(r.rev_or_main(), "release/1");
        let r = ModelRef::parse("alice/tiny@0123456789ab").unwrap();
        assert_eq!(r.rev, Some(RevisionRef::Prefix("0123456789ab".into())));
        assert_eq!(ModelRef::parse("alice/tiny").unwrap().rev_or_main(), "main");
    }

    #[test]
    fn refuses_bad_input_as_invalid() {
        for bad in [
            "alice",
            "alice/tiny@main",
            "alice/tiny@abc",
            "alice/tiny:../x",
            "a/b/c",
        ] {
            let e = ModelRef::parse(bad).unwrap_err();
            assert_eq!(e.kind, Kind::Invalid, "{bad}");
        }
        assert!(ModelRef::parse_bare("alice/tiny:main").is_err());
    }

    #[test]
    fn encodes_refs_and_paths() {
        assert_eq!(encode_segment("release/1"), "release%2F1");
        assert_eq!(encode_path("onnx/model v2.onnx"), "onnx/model%20v2.onnx");
        let r = ModelRef::parse("alice/tiny").unwrap();
        assert_eq!(r.api_base(), "/api/v1/models/alice/tiny");
    }
}
