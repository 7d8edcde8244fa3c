//! Models and their revisions: commits, model info and listings, refs, tags, history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::VerificationReport;
use crate::manifest::{LicenseInfo, SafetensorsSummary};
use crate::{RepoPath, Sha256};

/// One file of a commit request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommitFile {
    pub path: RepoPath,
    pub size: u64,
    pub sha256: Sha256,
}

/// `POST /api/v1/models/{owner}/{name}/commits`: the full file list of a new revision.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommitRequest {
    /// The branch to move; default `main`.
    #[serde(default = "default_branch")]
    pub branch: String,
    /// The revision the branch must point at now; `None` when the branch is new.
    pub parent: Option<Sha256>,
    #[serde(default)]
    pub message: String,
    /// A license id (`apache-2.0`, `mit`, `llama3`, `other`); else README.md's front matter decides.
    #[serde(default)]
    pub license: Option<String>,
    /// With `license: other`, the license's name.
    #[serde(default)]
    pub license_name: Option<String>,
    pub files: Vec<CommitFile>,
    /// Create the model private (first push only; needs the accounts feature).
    #[serde(default)]
    pub private: Option<bool>,
}

pub fn default_branch() -> String {
    "main".to_string()
}

/// A revision as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevisionInfo {
    pub id: Sha256,
    pub model: String,
    pub parent: Option<Sha256>,
    pub author: String,
    pub message: String,
    pub created_at: i64,
    pub license: LicenseInfo,
    /// Whether the license is on the registry's permissive list.
    pub permissive: bool,
    pub total_size: u64,
    pub parameters: BTreeMap<String, u64>,
    pub parameter_total: u64,
    pub files: Vec<FileInfo>,
    /// README.md front matter (`license`, `tags`, `pipeline_tag`, ...), if any.
    #[serde(default)]
    pub card: serde_json::Value,
    /// Verification results, newest first; `queued`/`running` while a job is open.
    #[serde(default)]
    pub verification: Vec<VerificationReport>,
}

/// A file of a revision, with what the header said when it is safetensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileInfo {
    pub path: RepoPath,
    pub size: u64,
    pub sha256: Sha256,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safetensors: Option<SafetensorsSummary>,
}

/// `GET /api/v1/models/{owner}/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelInfo {
    pub id: String,
    pub owner: String,
    pub name: String,
    pub private: bool,
    /// Downloads need the license accepted first.
    #[serde(default)]
    pub gated: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub default_branch: String,
    pub downloads: u64,
    /// The revision the asked ref (default: the default branch) points at.
    pub revision: Option<RevisionInfo>,
}

/// The query of `GET /api/v1/models/{owner}/{name}`: which revision to show.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct RefQuery {
    /// A branch, tag, full revision id or id prefix; default: the default branch.
    #[serde(rename = "ref")]
    pub rev: Option<String>,
}

/// An item of a model listing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelSummary {
    pub id: String,
    pub owner: String,
    pub name: String,
    pub private: bool,
    pub updated_at: i64,
    pub license: Option<String>,
    pub head: Option<Sha256>,
    pub total_size: u64,
    pub parameter_total: u64,
    pub downloads: u64,
}

/// `GET /api/v1/models?owner=&q=&license=&limit=&cursor=`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelList {
    pub models: Vec<ModelSummary>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The query of `GET /api/v1/models`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct ModelListQuery {
    pub owner: Option<String>,
    /// Text in the name.
    pub q: Option<String>,
    /// A license id (any case).
    pub license: Option<String>,
    /// Only models under permissive licenses.
    pub permissive: Option<bool>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A branch or tag.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefInfo {
    pub name: String,
    pub revision: Sha256,
    pub updated_at: i64,
}

/// `GET /api/v1/models/{owner}/{name}/refs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refs {
    pub branches: Vec<RefInfo>,
    pub tags: Vec<RefInfo>,
}

/// `PUT /api/v1/models/{owner}/{name}/tags/{tag}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateTagRequest {
    /// A branch, tag, full revision id or id prefix.
    pub revision: String,
    /// Move the tag if it already names another revision.
    #[serde(default)]
    pub force: bool,
}

/// `PUT /api/v1/models/{owner}/{name}/branches/{branch}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateBranchRequest {
    /// Where the new branch starts: a branch, tag, full revision id or id prefix.
    pub revision: String,
}

/// An entry of `GET /api/v1/models/{owner}/{name}/log/{rev}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogEntry {
    pub id: Sha256,
    pub parent: Option<Sha256>,
    pub author: String,
    pub message: String,
    pub created_at: i64,
}

/// `GET /api/v1/models/{owner}/{name}/log/{rev}?limit=&cursor=`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Log {
    pub entries: Vec<LogEntry>,
    pub next_cursor: Option<String>,
}

/// The query of `GET /api/v1/models/{owner}/{name}/log/{rev}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct LogQuery {
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}
