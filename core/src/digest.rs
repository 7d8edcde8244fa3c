//! SHA-256 digests: the address of every blob and the id of every revision.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;

/// A SHA-256 digest, always held as 32 bytes and written as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256([u8; 32]);

/// The error for text that is not 64 hex characters.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a SHA-256 digest: expected 64 hex characters")]
pub struct DigestError(pub String);

impl Sha256 {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(sha2::Sha256::digest(bytes).into())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex characters.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The 40-character prefix the Hugging Face clients accept as a commit id.
    pub fn short40(&self) -> String {
        self.hex()[..40].to_string()
    }
}

impl FromStr for Sha256 {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 {
            return Err(DigestError(s.chars().take(80).collect()));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.to_ascii_lowercase(), &mut out)
            .map_err(|_| DigestError(s.to_string()))?;
        Ok(Self(out))
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({})", self.hex())
    }
}

impl Serialize for Sha256 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

/// On the wire: 64 lowercase hex digits.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Sha256 {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[0-9a-f]{64}$"))
            .description(Some("A SHA-256 digest: 64 lowercase hex digits."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Sha256 {}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An incremental SHA-256 that also counts the bytes it has seen.
#[derive(Clone, Default)]
pub struct Sha256Hasher {
    inner: sha2::Sha256,
    len: u64,
}

impl fmt::Debug for Sha256Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Hasher({} bytes)", self.len)
    }
}

impl Sha256Hasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> Sha256 {
        Sha256(self.inner.finalize().into())
    }
}

/// Hashes everything `reader` yields, with a large buffer; returns the digest and the length.
pub fn hash_reader(mut reader: impl std::io::Read) -> std::io::Result<(Sha256, u64)> {
    let mut hasher = Sha256Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let len = hasher.len();
    Ok((hasher.finish(), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest_round_trips() {
        let d = Sha256::of(b"abc");
        assert_eq!(
            d.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.hex().parse::<Sha256>().unwrap(), d);
        assert_eq!(d.hex().to_uppercase().parse::<Sha256>().unwrap(), d);
        assert_eq!(d.short40().len(), 40);
    }

    #[test]
    fn bad_digests_are_refused() {
        assert!("abc".parse::<Sha256>().is_err());
        assert!("z".repeat(64).parse::<Sha256>().is_err());
    }

    #[test]
    fn hasher_matches_one_shot() {
        let mut h = Sha256Hasher::new();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.len(), 3);
        assert_eq!(h.finish(), Sha256::of(b"abc"));
    }
}
