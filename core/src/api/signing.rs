//! The registry's signing keys (`GET /api/v1/keys`); revision signatures are
//! OMS bundles (`crate::signing::Bundle`), served as they were made.

use serde::{Deserialize, Serialize};

/// A key the registry signs with (`current`) or signed with (`retired`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SigningKeyInfo {
    /// The SHA-256 of `public_key_pem`, as the bundles' key hint names it.
    pub id: String,
    /// `current` or `retired`.
    pub status: String,
    /// The ECDSA P-256 public key, PEM (SubjectPublicKeyInfo): what `model_signing verify key`
    /// takes as `--public_key`.
    pub public_key_pem: String,
    /// When the registry started signing with it (ms since the epoch).
    pub created_at: i64,
    /// When it was replaced, for a retired key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<i64>,
}

/// `GET /api/v1/keys`: the current key first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SigningKeys {
    pub keys: Vec<SigningKeyInfo>,
}

pub use crate::log::SignedTreeHead;

/// `GET /api/v1/models/{owner}/{name}/revisions/{rev}/log`: where the revision
/// is in the transparency log, proven against a signed head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevisionLogProof {
    pub leaf_index: u64,
    /// The leaf's exact bytes: the JSON of a `log::LogEntry`.
    pub leaf: String,
    /// The inclusion proof's hashes, hex, leaf to root (RFC 9162 §2.1.3).
    pub proof: Vec<String>,
    pub head: SignedTreeHead,
    /// With `?from=N`: the consistency proof from the tree of `N` leaves to `head`,
    /// so that one answer proves both against the same head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Vec<String>>,
}

/// The query of `GET …/revisions/{rev}/log`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct RevisionLogQuery {
    /// The size of the log the client saw before, to be proven a prefix of `head`.
    #[serde(default)]
    pub from: Option<u64>,
}

/// `GET /api/v1/log/consistency?from=N`: that the tree of `from` leaves is a
/// prefix of the one `head` describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogConsistency {
    pub from_size: u64,
    /// The consistency proof's hashes, hex (RFC 9162 §2.1.4).
    pub proof: Vec<String>,
    pub head: SignedTreeHead,
}

/// The query of `GET /api/v1/log/consistency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct ConsistencyQuery {
    /// The size of the tree the client saw before.
    pub from: u64,
}
