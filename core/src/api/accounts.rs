//! Accounts: identity, tokens, organisations and members, repository creation and
//! settings, license acceptance, the audit log, invites and the transfer counters.

use serde::{Deserialize, Serialize};

use crate::{Role, Sha256};

/// `GET /api/v1/whoami`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhoAmI {
    pub name: String,
    pub admin: bool,
}

/// `GET /api/v1/stats` (server admins): this process's transfer counters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerStats {
    pub blob_bytes_received: u64,
    pub file_bytes_sent: u64,
    pub file_requests: u64,
    pub file_redirects: u64,
    /// Bytes of xorbs and shards received over Xet (docs/HF.md, "Xet").
    pub xet_bytes_received: u64,
}

/// `POST /api/v1/tokens`: a new token, never broader than the caller's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateTokenRequest {
    /// A name to recognise it by; `api` when absent.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "default_scope")]
    pub scope: Role,
    /// Only models under this namespace.
    #[serde(default)]
    pub owner: Option<String>,
    /// Expires this many days from now.
    #[serde(default)]
    pub expires_days: Option<u32>,
    /// An exact expiry (ms since the epoch), instead of `expires_days`.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

fn default_scope() -> Role {
    Role::Write
}

/// The answer to `POST /api/v1/tokens`: `token` is the clear text, shown only here.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewToken {
    pub id: String,
    pub token: String,
    pub name: String,
    pub scope: Role,
    /// The namespace it is limited to, if any.
    pub owner: Option<String>,
    pub expires_at: Option<i64>,
}

/// A token as `GET /api/v1/tokens` lists it, without its secret (times in ms since the epoch).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub scope: Role,
    pub owner_limit: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// `GET /api/v1/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// `POST /api/v1/orgs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateOrgRequest {
    pub name: String,
}

/// The answer to `POST /api/v1/orgs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrgInfo {
    pub name: String,
}

/// A member of an organisation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberInfo {
    pub name: String,
    pub role: Role,
    pub created_at: i64,
}

/// `GET /api/v1/orgs/{org}/members`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberList {
    pub members: Vec<MemberInfo>,
}

/// `PUT /api/v1/orgs/{org}/members/{user}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetMemberRequest {
    pub role: Role,
}

/// The answer to `PUT /api/v1/orgs/{org}/members/{user}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Membership {
    pub org: String,
    pub user: String,
    pub role: Role,
}

/// `POST /api/v1/repos`: an empty model, to push into later.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateRepoRequest {
    /// `owner/name`.
    pub id: String,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub gated: bool,
}

/// `PATCH /api/v1/models/{owner}/{name}/settings`: what to change; absent stays.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateSettingsRequest {
    #[serde(default)]
    pub private: Option<bool>,
    #[serde(default)]
    pub gated: Option<bool>,
}

/// A model's visibility and gate: the answer to creating a repository or changing its settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepoSettings {
    /// `owner/name`.
    pub id: String,
    pub private: bool,
    pub gated: bool,
}

/// The answer to `POST /api/v1/models/{owner}/{name}/license/accept`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenseAcceptance {
    /// `owner/name`.
    pub model: String,
    pub user: String,
    /// The model's head when the license was accepted; `None` for an empty model.
    pub revision: Option<Sha256>,
    pub accepted_at: i64,
}

/// One acceptance of a gated model's license.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcceptanceInfo {
    pub user: String,
    pub revision_id: Option<Sha256>,
    pub accepted_at: i64,
}

/// `GET /api/v1/models/{owner}/{name}/license/acceptances`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcceptanceList {
    pub acceptances: Vec<AcceptanceInfo>,
}

/// An entry of the audit log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub actor: Option<String>,
    /// `token.created`, `org.member_set`, `repo.created`, ...
    pub event: String,
    pub subject: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
}

/// `GET /api/v1/audit?limit=&before=`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditLog {
    pub events: Vec<AuditEvent>,
}

/// The query of `GET /api/v1/audit`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct AuditQuery {
    pub limit: Option<u32>,
    /// Only events before this time (ms since the epoch).
    pub before: Option<i64>,
}

/// The answer to `POST /api/v1/invites`: a one-time sign-up code.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invite {
    pub code: String,
}
