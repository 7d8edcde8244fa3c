//! The one error type of the server and its JSON shape
//! (`{"error": "...", "code": "..."}`), used by every route.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use granary_core::ModelId;
use granary_core::api::{ErrorBody, codes};

/// Every way a request can fail. Messages are sentences for the person at the other end.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No such model (or one the caller may not see), or another missing thing.
    #[error("{0}")]
    NotFound(String),
    /// The model exists but not the branch, tag or revision.
    #[error("{0}")]
    RevisionNotFound(String),
    /// The revision exists but not the file.
    #[error("{0}")]
    EntryNotFound(String),
    /// The model is gated and the caller has not accepted its license.
    #[error("{0}")]
    Gated(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    DigestMismatch(String),
    /// A part of an upload session that was already received (parts are immutable).
    #[error("{0}")]
    PartReceived(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("the requested range does not overlap the file's {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    pub fn internal_msg(msg: impl std::fmt::Display) -> Self {
        Self::Internal(anyhow::anyhow!("{msg}"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) | Self::RevisionNotFound(_) | Self::EntryNotFound(_) => {
                StatusCode::NOT_FOUND
            }
            Self::Gated(_) => StatusCode::FORBIDDEN,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) | Self::PartReceived(_) => StatusCode::CONFLICT,
            Self::Invalid(_) | Self::DigestMismatch(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) | Self::RevisionNotFound(_) | Self::EntryNotFound(_) => {
                codes::NOT_FOUND
            }
            Self::Gated(_) => codes::GATED,
            Self::Unauthorized(_) => codes::UNAUTHORIZED,
            Self::Forbidden(_) => codes::FORBIDDEN,
            Self::Conflict(_) => codes::CONFLICT,
            Self::Invalid(_) => codes::INVALID,
            Self::DigestMismatch(_) => codes::DIGEST_MISMATCH,
            Self::PartReceived(_) => codes::PART_RECEIVED,
            Self::TooLarge(_) => codes::TOO_LARGE,
            Self::TooManyRequests(_) => codes::RATE_LIMITED,
            Self::RangeNotSatisfiable { .. } => codes::RANGE,
            Self::Internal(_) => codes::INTERNAL,
        }
    }

    /// The standard "no such model" answer; private models get exactly this too.
    pub fn model_not_found(id: &str) -> Self {
        Self::NotFound(format!(
            "model `{id}` does not exist, or you do not have access to it"
        ))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Self::Internal(e) = &self {
            tracing::error!(error = ?e, "request failed");
        }
        let body = ErrorBody {
            error: self.to_string(),
            code: self.code().to_string(),
        };
        let mut res = (self.status(), axum::Json(body)).into_response();
        if let Self::RangeNotSatisfiable { size } = self
            && let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}"))
        {
            res.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        res
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Self::NotFound("not found".into()),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Self::Conflict("that already exists".into())
            }
            _ => Self::Internal(e.into()),
        }
    }
}

impl From<object_store::Error> for AppError {
    fn from(e: object_store::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::TooLarge(format!(
                    "the request body is larger than this registry accepts (max_json_body): {}",
                    b.body_text()
                ))
            }
            other => Self::Invalid(format!("invalid JSON body: {}", other.body_text())),
        }
    }
}

impl From<PathRejection> for AppError {
    fn from(r: PathRejection) -> Self {
        Self::Invalid(format!("invalid URL path: {}", r.body_text()))
    }
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        Self::Invalid(format!("invalid query string: {}", r.body_text()))
    }
}

/// A JSON body extractor whose rejection has the API's error shape.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Parses `owner/name` from a URL.
pub fn model_id(owner: &str, name: &str) -> AppResult<ModelId> {
    ModelId::new(owner, name).map_err(|e| AppError::Invalid(e.to_string()))
}

/// The model a native route names (`…/{owner}/{name}/…`), validated once: a
/// malformed name is `400`, before any handler code runs.
pub struct ModelPath(pub ModelId);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ModelPath {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, AppError> {
        let Path(params) =
            Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, state)
                .await?;
        match (params.get("owner"), params.get("name")) {
            (Some(owner), Some(name)) => model_id(owner, name).map(ModelPath),
            _ => Err(AppError::internal_msg(
                "ModelPath on a route without {owner} and {name}",
            )),
        }
    }
}

/// A path extractor whose rejection has the API's error shape.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

/// A query extractor whose rejection has the API's error shape.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);
