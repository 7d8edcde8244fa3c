//! Who is calling: a bearer token (API and Hub clients) or, on safe
//! requests only, a web session cookie; resolved to a user and a grant.
//! What the caller may do with a model is decided in `access.rs`.

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;

use crate::app::AppState;
use crate::db::sessions;
use crate::db::users::{self, UserRow};
use crate::error::AppError;
use crate::session;
use granary_core::Role;

/// The caller of a request: anonymous, or a user through a token or a session.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub user: Option<UserRow>,
    /// `read`, `write` or `admin`; a web session counts as `admin` of its own rights.
    pub scope: Option<Role>,
    /// A token limited to the models of one owner.
    pub owner_limit: Option<String>,
    /// The session id, when the caller came through the web.
    pub session_id: Option<String>,
    /// The API token's id, when the caller came with a token.
    pub token_id: Option<String>,
    /// When the caller's token expires (ms); tokens it creates expire no later (`tokens.rs`).
    pub expires_at: Option<i64>,
}

impl Caller {
    /// The caller a live API token makes.
    pub fn from_token(user: UserRow, grant: users::TokenGrant) -> Self {
        Caller {
            user: Some(user),
            scope: Some(grant.scope),
            owner_limit: grant.owner_limit,
            session_id: None,
            token_id: Some(grant.token_id),
            expires_at: grant.expires_at,
        }
    }

    /// The user's name, for the record of what they did.
    pub fn name(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.name.as_str())
    }

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
        match self.scope {
            Some(Role::Write | Role::Admin) => Ok(user),
            _ => Err(AppError::Forbidden(
                "this token has the `read` scope; writing needs a `write` token".into(),
            )),
        }
    }

    /// A server administrator acting with an unrestricted admin-capable grant.
    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.is_admin) && self.owner_limit.is_none()
    }

    /// May this caller write under `owner` as a user or server admin? (Organisation
    /// roles are checked by `access::require_role`, which callers should prefer.)
    pub fn require_owner(&self, owner: &str) -> Result<&UserRow, AppError> {
        let user = self.require_writer()?;
        let limited_elsewhere = self
            .owner_limit
            .as_ref()
            .is_some_and(|l| !l.eq_ignore_ascii_case(owner));
        if !limited_elsewhere && (user.name.eq_ignore_ascii_case(owner) || user.is_admin) {
            Ok(user)
        } else {
            Err(AppError::Forbidden(format!(
                "user `{}` cannot write models under `{owner}`",
                user.name
            )))
        }
    }
}

fn invalid_token() -> AppError {
    AppError::Unauthorized(
        "the token in the Authorization header is invalid, expired or revoked: sign in again (granary login)".into(),
    )
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let now = granary_core::time::now_ms();
        if let Some(value) = parts.headers.get(AUTHORIZATION) {
            let text = value.to_str().map_err(|_| invalid_token())?;
            let token = text
                .strip_prefix("Bearer ")
                .or_else(|| text.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty() && t.len() <= 256)
                .ok_or_else(invalid_token)?;
            let (user, grant) = users::find_by_token(&state.db, token, now)
                .await?
                .ok_or_else(invalid_token)?;
            if grant.last_used_at.is_none_or(|t| now - t > 60_000) {
                users::touch_token(&state.db, &grant.token_id, now).await?;
            }
            return Ok(Caller::from_token(user, grant));
        }
        // Cookies are honoured on safe requests only: a state change through a
        // cookie must come through a web form that checks its CSRF token.
        let safe = parts.method == Method::GET || parts.method == Method::HEAD;
        match (safe, cookie(parts, session::COOKIE)) {
            (true, Some(jwt)) => Ok(session_caller(state, &jwt, now).await?.unwrap_or_default()),
            _ => Ok(Caller::default()),
        }
    }
}

/// The caller a session cookie names, if the JWT and its session are valid.
pub async fn session_caller(
    state: &AppState,
    jwt: &str,
    now: i64,
) -> Result<Option<Caller>, AppError> {
    let Ok(claims) = state.session_keys.verify(jwt) else {
        return Ok(None);
    };
    if !sessions::is_live(&state.db, &claims.sid, &claims.sub, now).await? {
        return Ok(None);
    }
    let Some(user) = users::find_by_id(&state.db, &claims.sub).await? else {
        return Ok(None);
    };
    // A session acts with the user's own password: its tokens are bounded by the user's rights alone.
    Ok(Some(Caller {
        user: Some(user),
        scope: Some(Role::Admin),
        owner_limit: None,
        session_id: Some(claims.sid),
        token_id: None,
        expires_at: None,
    }))
}

/// The value of a cookie.
pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    cookie_in(&parts.headers, name)
}

/// The value of a cookie in request headers.
pub fn cookie_in(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}
