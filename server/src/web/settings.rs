//! The signed-in user's own pages: `/settings` (organisations and roles) and
//! `/settings/tokens` (API tokens made, listed and revoked). Anonymous visitors
//! are sent to sign in and back; every form carries the session's CSRF token
//! (`account.rs`).

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use serde::Serialize;

use super::account::{Fields, check_csrf, csrf_token, form_caller, sign_in_first, with_cookie};
use super::{OrPage, PageResult, page};
use crate::accounts::audit_event;
use crate::app::AppState;
use crate::auth::Caller;
use crate::client::ClientIp;
use crate::db::users;
use crate::error::Path;
use crate::tokens::{self, TokenRequest};

#[derive(Serialize)]
struct TokensPage {
    title: &'static str,
    csrf: String,
    user: String,
    tokens: Vec<users::TokenRow>,
    created: Option<String>,
    message: Option<String>,
}

async fn tokens_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    created: Option<String>,
    message: Option<String>,
) -> PageResult {
    let user = caller.require_user().or_page(state)?;
    let (csrf, set) = csrf_token(state, headers);
    let tokens = users::list_tokens(&state.db, &user.id)
        .await
        .or_page(state)?;
    let ctx = TokensPage {
        title: "API tokens",
        csrf,
        user: user.name.clone(),
        tokens,
        created,
        message,
    };
    Ok(with_cookie(page(state, "tokens.html", &ctx)?, set))
}

/// `GET /settings/tokens`: the signed-in user's tokens.
pub async fn tokens(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    uri: Uri,
) -> PageResult {
    if caller.user.is_none() {
        return Ok(sign_in_first(&uri));
    }
    tokens_page(&state, &headers, &caller, None, None).await
}

#[derive(Serialize)]
struct AccountPage {
    title: &'static str,
    user: String,
    admin: bool,
    organisations: Vec<OrgView>,
}

#[derive(Serialize)]
struct OrgView {
    name: String,
    role: String,
}

/// `GET /settings`: the signed-in user's account: organisations and roles, and links to
/// their tokens and models.
pub async fn account_settings(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> PageResult {
    let Some(user) = &caller.user else {
        return Ok(sign_in_first(&uri));
    };
    let mut organisations = Vec::new();
    for org in crate::db::orgs::orgs_of(&state.db, &user.id)
        .await
        .or_page(&state)?
    {
        let role = crate::db::orgs::role_of(&state.db, &org, &user.id)
            .await
            .or_page(&state)?;
        organisations.push(OrgView {
            role: role.map(|r| r.as_str().to_string()).unwrap_or_default(),
            name: org,
        });
    }
    page(
        &state,
        "account.html",
        &AccountPage {
            title: "Settings",
            user: user.name.clone(),
            admin: user.is_admin,
            organisations,
        },
    )
}

/// `POST /settings/tokens`: a new token, shown once.
pub async fn create_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    Form(form): Form<Fields>,
) -> PageResult {
    check_csrf(&state, &headers, &form).or_page(&state)?;
    let caller = form_caller(&state, &headers).await.or_page(&state)?;
    let field = |k: &str| form.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let request = TokenRequest {
        name: field("name").unwrap_or("web"),
        scope: field("scope").unwrap_or("read"),
        owner: field("owner"),
        // An empty or unreadable field means "never".
        expires_days: field("expires_days")
            .and_then(|d| d.parse::<i64>().ok())
            .filter(|d| *d > 0),
        expires_at: None,
    };
    let token = tokens::create(&state, &caller, request, &ip)
        .await
        .or_page(&state)?
        .token;
    tokens_page(&state, &headers, &caller, Some(token), None).await
}

/// `POST /settings/tokens/{id}/revoke`.
pub async fn revoke_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> PageResult {
    check_csrf(&state, &headers, &form).or_page(&state)?;
    let caller = form_caller(&state, &headers).await.or_page(&state)?;
    let user = caller.require_user().or_page(&state)?.clone();
    let revoked = users::revoke_token(&state.db, &user.id, &id, granary_core::time::now_ms())
        .await
        .or_page(&state)?;
    if revoked {
        audit_event(
            &state,
            Some(&user.name),
            "token.revoked",
            Some(&id),
            None,
            &ip,
        )
        .await;
    }
    let msg = if revoked {
        "The token was revoked."
    } else {
        "No such live token."
    };
    tokens_page(&state, &headers, &caller, None, Some(msg.into())).await
}
