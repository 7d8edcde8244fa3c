//! Errors in the Hub's shape: the client picks its exception from the
//! `X-Error-Code` header (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`,
//! `GatedRepo`), shows `X-Error-Message` and `{"error"}`, and caches
//! "absent at this commit" when an EntryNotFound carries `X-Repo-Commit`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// An [`AppError`] answered in the Hub's shape.
#[derive(Debug)]
pub struct HfError {
    pub error: AppError,
    /// The commit an EntryNotFound was looked up in (`X-Repo-Commit`).
    pub commit: Option<String>,
    /// The caller was anonymous (a gated repo then answers 401).
    pub anonymous: bool,
}

pub type HfResult<T> = Result<T, HfError>;

impl From<AppError> for HfError {
    fn from(error: AppError) -> Self {
        Self {
            error,
            commit: None,
            anonymous: false,
        }
    }
}

impl From<sqlx::Error> for HfError {
    fn from(e: sqlx::Error) -> Self {
        AppError::from(e).into()
    }
}

impl From<object_store::Error> for HfError {
    fn from(e: object_store::Error) -> Self {
        AppError::from(e).into()
    }
}

impl HfError {
    pub fn repo_not_found(id: &str) -> Self {
        AppError::model_not_found(id).into()
    }

    pub fn entry_not_found(msg: String, commit: String) -> Self {
        Self {
            error: AppError::EntryNotFound(msg),
            commit: Some(commit),
            anonymous: false,
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        AppError::Invalid(msg.into()).into()
    }

    /// The Hub error code of this error, if it has one.
    fn code(&self) -> Option<&'static str> {
        match &self.error {
            AppError::NotFound(_) => Some("RepoNotFound"),
            AppError::RevisionNotFound(_) => Some("RevisionNotFound"),
            AppError::EntryNotFound(_) => Some("EntryNotFound"),
            AppError::Gated(_) => Some("GatedRepo"),
            _ => None,
        }
    }
}

impl IntoResponse for HfError {
    fn into_response(self) -> Response {
        let code = self.code();
        let message = header_text(&self.error.to_string());
        let gated_anonymous = matches!(self.error, AppError::Gated(_)) && self.anonymous;
        let mut res = self.error.into_response();
        if gated_anonymous {
            *res.status_mut() = StatusCode::UNAUTHORIZED;
        }
        let h = res.headers_mut();
        if let Some(code) = code {
            h.insert("x-error-code", HeaderValue::from_static(code));
        }
        if let Ok(v) = HeaderValue::from_str(&message) {
            h.insert("x-error-message", v);
        }
        if let Some(commit) = self.commit.and_then(|c| HeaderValue::from_str(&c).ok()) {
            h.insert("x-repo-commit", commit);
        }
        res
    }
}

/// A message made safe for a header value (printable ASCII, bounded).
fn header_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(500)
        .collect()
}

/// Fills `X-Error-Message` on errors that were answered before our handlers ran
/// (a bad token, a malformed path), so that the clients show something useful.
pub async fn add_error_message(mut res: Response) -> Response {
    let status = res.status();
    if status.is_client_error() && !res.headers().contains_key("x-error-message") {
        let msg = if status == StatusCode::UNAUTHORIZED {
            "Invalid credentials in Authorization header"
        } else {
            "the request was refused: see the JSON body"
        };
        res.headers_mut()
            .insert("x-error-message", HeaderValue::from_static(msg));
    }
    res
}

/// Datasets and spaces: Granary holds models only.
pub async fn other_repo_type() -> HfError {
    AppError::NotFound("Granary hosts models only: there are no datasets or spaces here".into())
        .into()
}

/// Endpoints of the Hub that Granary answers with a plain 404 (best-effort callers).
pub async fn not_here() -> Response {
    super::json_status(
        StatusCode::NOT_FOUND,
        serde_json::json!({"error": "not available on Granary"}),
    )
}
