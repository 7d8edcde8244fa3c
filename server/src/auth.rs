//! Who is calling: the bearer token of a request, resolved to a user.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::db::users::{self, UserRow};
use crate::error::AppError;

/// The caller of a request: anonymous, or a user through a token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: Option<UserRow>,
    pub scope: Option<String>,
}

impl Caller {
    /// The user, or 401 for an anonymous caller.
    pub fn require_user(&self) -> Result<&UserRow, AppError> {
        self.user.as_ref().ok_or_else(|| {
            AppError::Unauthorized(
                "this needs a token: pass `Authorization: Bearer <token>` (granary login)".into(),
            )
        })
    }

    /// The user, if its token may write.
    pub fn require_writer(&self) -> Result<&UserRow, AppError> {
        let user = self.require_user()?;
        match self.scope.as_deref() {
            Some("write" | "admin") => Ok(user),
            _ => Err(AppError::Forbidden(
                "this token has the `read` scope; writing needs a `write` token".into(),
            )),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.is_admin != 0)
    }

    /// May this caller write under `owner`? (Organisations come later.)
    pub fn require_owner(&self, owner: &str) -> Result<&UserRow, AppError> {
        let user = self.require_writer()?;
        if user.name.eq_ignore_ascii_case(owner) || user.is_admin != 0 {
            Ok(user)
        } else {
            Err(AppError::Forbidden(format!(
                "user `{}` cannot write models under `{owner}`",
                user.name
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Ok(Caller { user: None, scope: None });
        };
        let invalid = || {
            AppError::Unauthorized(
                "the token in the Authorization header is invalid or revoked: sign in again (granary login)"
                    .into(),
            )
        };
        let text = value.to_str().map_err(|_| invalid())?;
        let token = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(invalid)?;
        let (user, scope) = users::find_by_token(&state.db, token).await?.ok_or_else(invalid)?;
        Ok(Caller { user: Some(user), scope: Some(scope) })
    }
}
