//! The JSON bodies the Hub clients send, as types, and the extractor that
//! reads them: a malformed body is `400` in the Hub's error shape, an empty one
//! is `{}` (the clients send none where every field is optional).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::HfError;
use crate::error::AppError;

/// A JSON body of type `T`.
pub struct HubJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for HubJson<T> {
    type Rejection = HfError;

    async fn from_request(req: Request, state: &S) -> Result<Self, HfError> {
        let body = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                HfError::from(AppError::TooLarge(r.body_text()))
            } else {
                HfError::invalid(format!("cannot read the body: {}", r.body_text()))
            }
        })?;
        parse(&body).map(HubJson)
    }
}

/// Parses a body read already (where access is checked before the body is read).
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, HfError> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(text).map_err(|e| HfError::invalid(format!("invalid JSON body: {e}")))
}

/// `POST /api/repos/create`, `DELETE /api/repos/delete`.
#[derive(Debug, Default, Deserialize)]
pub struct RepoBody {
    /// `name` or `namespace/name`.
    pub name: Option<String>,
    /// The namespace when `name` has none; none: the caller's.
    pub organization: Option<String>,
    #[serde(rename = "type")]
    pub repo_type: Option<String>,
    pub private: Option<bool>,
    /// `public` or `private` (newer clients).
    pub visibility: Option<String>,
}

/// `POST /api/models/{owner}/{name}/branch/{branch}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BranchBody {
    pub starting_point: Option<String>,
}

/// `POST /api/models/{owner}/{name}/tag/{rev}`.
#[derive(Debug, Default, Deserialize)]
pub struct TagBody {
    pub tag: Option<String>,
}

/// `POST /api/models/{owner}/{name}/preupload/{rev}`.
#[derive(Debug, Default, Deserialize)]
pub struct PreuploadBody {
    #[serde(default)]
    pub files: Vec<PreuploadFile>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PreuploadFile {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub size: u64,
}

/// `POST /{owner}/{name}.git/info/lfs/objects/batch` (Git LFS batch API).
#[derive(Debug, Default, Deserialize)]
pub struct LfsBatch {
    #[serde(default)]
    pub operation: String,
    #[serde(default)]
    pub transfers: Vec<String>,
    #[serde(default)]
    pub objects: Vec<LfsObject>,
}

/// An object of a batch, and the body of `…/objects/verify`.
#[derive(Debug, Default, Deserialize)]
pub struct LfsObject {
    #[serde(default)]
    pub oid: String,
    pub size: Option<u64>,
}

/// A line of the NDJSON commit body: `{"key": "header"|"file"|"lfsFile"|"deletedFile"|
/// "deletedFolder"|"copyFile", "value": {…}}` (a `file`'s `content` is streamed to the store
/// before the line is parsed, so it is not here).
#[derive(Debug, Default, Deserialize)]
pub struct CommitLine {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: CommitValue,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitValue {
    pub summary: Option<String>,
    pub description: Option<String>,
    pub parent_commit: Option<String>,
    pub encoding: Option<String>,
    pub path: Option<String>,
    pub oid: Option<String>,
    pub size: Option<u64>,
    pub new_path: Option<String>,
    pub src_revision: Option<String>,
}
