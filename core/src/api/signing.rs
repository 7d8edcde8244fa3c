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
