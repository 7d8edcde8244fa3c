//! Accounts in the browser: sign-in, sign-out, sign-up, model settings and
//! license acceptance (the user's own settings and tokens are `settings.rs`).
//! Every form that changes state carries a
//! CSRF token in a hidden field, compared in constant time: an HMAC of the
//! browser's session id, or for the sign-in and sign-up forms of a random
//! pre-session id kept in the `granary_csrf` cookie, so that a token from one
//! session is refused in another. Forms other than sign-in and sign-up also
//! need a live session. Cookies are `Secure` when the browser came over HTTPS.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use serde_json::json;

use super::{OrPage, PageResult, page};
use crate::access::readable_model;
use crate::accounts::{audit_event, rate_limit};
use crate::app::AppState;
use crate::auth::{Caller, cookie_in, session_caller};
use crate::client::ClientIp;
use crate::db::users;
use crate::db::{gates, sessions};
use crate::error::model_id;
use crate::error::{AppError, Path};
use crate::passwords;
use crate::repos::{self, Actor};
use crate::session::{AUDIENCE, COOKIE, CSRF_COOKIE, Claims, ISSUER};

pub(super) type Fields = HashMap<String, String>;

/// `; Secure` when the browser reached us over HTTPS (`client::is_https`), so that the cookie is
/// never sent in clear; nothing otherwise (a plain-HTTP registry on a laptop must still work).
fn secure(state: &AppState, headers: &HeaderMap) -> &'static str {
    if crate::client::is_https(state, headers) {
        "; Secure"
    } else {
        ""
    }
}

/// What this browser's form tokens are bound to: its session when it has a valid one, else the
/// pre-session id of its `granary_csrf` cookie (`None`: it has none yet).
fn csrf_binding(state: &AppState, headers: &HeaderMap) -> Option<String> {
    if let Some(claims) =
        cookie_in(headers, COOKIE).and_then(|jwt| state.session_keys.verify(&jwt).ok())
    {
        return Some(format!("session:{}", claims.sid));
    }
    let id = cookie_in(headers, CSRF_COOKIE)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))?;
    Some(format!("pre:{id}"))
}

/// The CSRF token for this browser's forms (an HMAC of what they are bound to, so a token
/// from one session is refused in another), and the pre-session cookie to set when it is new.
pub(super) fn csrf_token(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    if let Some(binding) = csrf_binding(state, headers) {
        return (state.session_keys.csrf_token(&binding), None);
    }
    let mut bytes = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut bytes);
    let id = hex::encode(bytes);
    let set = format!(
        "{CSRF_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{}",
        secure(state, headers)
    );
    (
        state.session_keys.csrf_token(&format!("pre:{id}")),
        Some(set),
    )
}

/// Refuses a form whose CSRF field is not the token of this browser's session (or pre-session id).
pub(super) fn check_csrf(
    state: &AppState,
    headers: &HeaderMap,
    form: &Fields,
) -> Result<(), AppError> {
    let expected = csrf_binding(state, headers)
        .map(|b| state.session_keys.csrf_token(&b))
        .unwrap_or_default();
    let field = form.get("csrf").map(String::as_str).unwrap_or_default();
    let same = expected.len() == 64
        && expected.len() == field.len()
        && expected
            .bytes()
            .zip(field.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "this form has expired or did not come from this site (CSRF check failed): reload the page and try again".into(),
        ))
    }
}

/// The signed-in caller of a form post.
pub(super) async fn form_caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, AppError> {
    let jwt =
        cookie_in(headers, COOKIE).ok_or_else(|| AppError::Unauthorized("sign in first".into()))?;
    session_caller(state, &jwt, granary_core::time::now_ms())
        .await?
        .ok_or_else(|| AppError::Unauthorized("your session has ended: sign in again".into()))
}

pub(super) fn with_cookie(mut res: Response, cookie: Option<String>) -> Response {
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

#[derive(Serialize)]
struct FormPage<'a> {
    title: &'a str,
    csrf: String,
    message: Option<String>,
    signup: String,
    next: String,
}

fn form_page(
    state: &AppState,
    headers: &HeaderMap,
    template: &str,
    title: &str,
    message: Option<String>,
    status: StatusCode,
) -> PageResult {
    form_page_to(state, headers, template, title, message, status, "")
}

/// A sign-in or sign-up form that returns to `next` (a local page) once signed in.
fn form_page_to(
    state: &AppState,
    headers: &HeaderMap,
    template: &str,
    title: &str,
    message: Option<String>,
    status: StatusCode,
    next: &str,
) -> PageResult {
    let (csrf, set) = csrf_token(state, headers);
    let ctx = FormPage {
        title,
        csrf,
        message,
        signup: state.config.accounts.signup.clone(),
        next: safe_next(next).unwrap_or_default().to_string(),
    };
    let mut res = page(state, template, &ctx)?;
    *res.status_mut() = status;
    Ok(with_cookie(res, set))
}

/// `GET /login[?next=/page]`.
pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<Fields>,
) -> PageResult {
    let next = query.get("next").map(String::as_str).unwrap_or_default();
    form_page_to(
        &state,
        &headers,
        "login.html",
        "Sign in",
        None,
        StatusCode::OK,
        next,
    )
}

/// `POST /login`: checks the password and starts a session.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    Form(form): Form<Fields>,
) -> PageResult {
    check_csrf(&state, &headers, &form).or_page(&state)?;
    let name = form
        .get("username")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let failures = signin_failure_limits(&state, &ip, &name);
    check_signin_failures(&state, &failures).or_page(&state)?;
    let found = users::find_with_password(&state.db, &name)
        .await
        .or_page(&state)?;
    let user = match found {
        Some((user, Some(hash))) if passwords::verify(&password, &hash) => user,
        _ => {
            let now = granary_core::time::now_ms();
            for (key, limit) in &failures {
                state.rate_limiter.allow(key, *limit, now);
            }
            audit_event(&state, Some(&name), "signin.failed", None, None, &ip).await;
            let msg = "That user name and password do not match.".to_string();
            return form_page_to(
                &state,
                &headers,
                "login.html",
                "Sign in",
                Some(msg),
                StatusCode::UNAUTHORIZED,
                form.get("next").map(String::as_str).unwrap_or_default(),
            );
        }
    };
    let now = granary_core::time::now_ms();
    let minutes = state.config.accounts.session_minutes.max(1);
    let sid = crate::db::new_id();
    let expires = now + minutes * 60_000;
    sessions::create(&state.db, &sid, &user.id, now, expires)
        .await
        .or_page(&state)?;
    let claims = Claims {
        sub: user.id.clone(),
        sid,
        iat: now / 1000,
        exp: expires / 1000,
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
    };
    let jwt = state
        .session_keys
        .issue(&claims)
        .map_err(AppError::internal)
        .or_page(&state)?;
    audit_event(&state, Some(&user.name), "signin.ok", None, None, &ip).await;
    let cookie = format!(
        "{COOKIE}={jwt}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        minutes * 60,
        secure(&state, &headers)
    );
    // Back to the page that asked for a sign-in, else to the user's own page.
    let back = form
        .get("next")
        .and_then(|n| safe_next(n))
        .map_or_else(|| format!("/{}", user.name), str::to_string);
    Ok(with_cookie(
        Redirect::to(&back).into_response(),
        Some(cookie),
    ))
}

/// The counters of failed sign-ins and their limits per minute: `auth_rate_per_minute` per
/// (address, account), five times that per address. Never per account alone: someone guessing
/// alice's password from elsewhere must not lock alice out of her own account.
fn signin_failure_limits(state: &AppState, ip: &ClientIp, name: &str) -> [(String, u32); 2] {
    let per_minute = state.config.accounts.auth_rate_per_minute;
    let account = name.to_ascii_lowercase();
    [
        (format!("signin-failed:{}:{account}", ip.key()), per_minute),
        (
            format!("signin-failed-ip:{}", ip.key()),
            per_minute.saturating_mul(5),
        ),
    ]
}

/// Refuses a sign-in from an address that failed too often this minute.
fn check_signin_failures(state: &AppState, limits: &[(String, u32); 2]) -> Result<(), AppError> {
    let now = granary_core::time::now_ms();
    let [(pair, pair_limit), (ip, ip_limit)] = limits;
    let whom = if state.rate_limiter.used(pair, now) >= *pair_limit {
        format!("for this account ({pair_limit} a minute allowed)")
    } else if state.rate_limiter.used(ip, now) >= *ip_limit {
        format!("for any account ({ip_limit} a minute allowed)")
    } else {
        return Ok(());
    };
    Err(AppError::TooManyRequests(format!(
        "too many failed sign-ins from your address {whom}: wait a minute, then try again"
    )))
}

/// `POST /logout`: revokes the session and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> PageResult {
    check_csrf(&state, &headers, &form).or_page(&state)?;
    if let Some(jwt) = cookie_in(&headers, COOKIE)
        && let Ok(claims) = state.session_keys.verify(&jwt)
    {
        sessions::revoke(&state.db, &claims.sid, granary_core::time::now_ms())
            .await
            .or_page(&state)?;
    }
    let clear = format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        secure(&state, &headers)
    );
    Ok(with_cookie(Redirect::to("/").into_response(), Some(clear)))
}

/// `GET /signup`.
pub async fn signup_form(State(state): State<AppState>, headers: HeaderMap) -> PageResult {
    if state.config.accounts.signup == "closed" {
        return Err(AppError::Forbidden(
            "sign-up is closed on this registry: ask an administrator for an account".into(),
        ))
        .or_page(&state);
    }
    form_page(
        &state,
        &headers,
        "signup.html",
        "Sign up",
        None,
        StatusCode::OK,
    )
}

/// `POST /signup`: creates a user with a password (open sign-up, or with an invite code).
pub async fn signup(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    Form(form): Form<Fields>,
) -> PageResult {
    check_csrf(&state, &headers, &form).or_page(&state)?;
    let mode = state.config.accounts.signup.as_str();
    if mode == "closed" {
        return Err(AppError::Forbidden(
            "sign-up is closed on this registry".into(),
        ))
        .or_page(&state);
    }
    rate_limit(&state, &[format!("signup-ip:{}", ip.key())]).or_page(&state)?;
    let name = form
        .get("username")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let refuse = |msg: String| {
        form_page(
            &state,
            &headers,
            "signup.html",
            "Sign up",
            Some(msg),
            StatusCode::BAD_REQUEST,
        )
    };
    if let Err(e) = granary_core::names::validate_owner(&name) {
        return refuse(e.to_string());
    }
    if let Err(e) = passwords::check_new(&password) {
        return refuse(e);
    }
    if mode == "invite" {
        let code = form
            .get("invite")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        if !crate::db::invites::redeem(&state.db, &code, &name, granary_core::time::now_ms())
            .await
            .or_page(&state)?
        {
            return refuse("that invite code is not valid or was already used".into());
        }
    }
    if users::find_by_name(&state.db, &name)
        .await
        .or_page(&state)?
        .is_some()
    {
        return refuse(format!("the name `{name}` is taken"));
    }
    let now = granary_core::time::now_ms();
    let user = users::ensure(&state.db, &name, false, now)
        .await
        .or_page(&state)?;
    let hash = passwords::hash(&password)
        .map_err(AppError::Internal)
        .or_page(&state)?;
    users::set_password(&state.db, &user.id, &hash)
        .await
        .or_page(&state)?;
    audit_event(&state, Some(&name), "signup", None, Some(mode), &ip).await;
    form_page(
        &state,
        &headers,
        "login.html",
        "Sign in",
        Some(format!("Welcome, {name}: sign in with your new password.")),
        StatusCode::OK,
    )
}

/// `GET /{owner}/{name}/settings` (admins of the namespace).
pub async fn model_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    uri: Uri,
    Path((owner, name)): Path<(String, String)>,
) -> PageResult {
    if caller.user.is_none() {
        return Ok(sign_in_first(&uri));
    }
    let id = model_id(&owner, &name).or_page(&state)?;
    settings_page(&state, &headers, &caller, &id, None).await
}

/// The settings page of a model, with a webhook just created (its secret shown once).
pub(super) async fn settings_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    id: &granary_core::ModelId,
    created: Option<granary_core::api::WebhookInfo>,
) -> PageResult {
    let scope = crate::webhooks::Scope::model(state, caller, id)
        .await
        .or_page(state)?;
    let crate::webhooks::Scope::Model(model) = &scope else {
        unreachable!("Scope::model answers a model's scope")
    };
    let (csrf, set) = csrf_token(state, headers);
    let acceptances = gates::acceptances(&state.db, &model.id)
        .await
        .or_page(state)?;
    let webhooks = crate::webhooks::list(state, &scope)
        .await
        .or_page(state)?
        .webhooks;
    let ctx = json!({
        "title": format!("Settings · {}", model.full_name()),
        "model": super::model::ModelHeader {
            admin: true,
            downloadable: true,
            ..super::model::ModelHeader::new(model, "settings")
        },
        "csrf": csrf,
        "id": model.full_name(),
        "owner": model.owner,
        "name": model.name,
        "private": model.private,
        "gated": model.gated,
        "acceptances": acceptances,
        "webhooks": webhooks,
        "created": created,
    });
    Ok(with_cookie(page(state, "model_settings.html", &ctx)?, set))
}

/// `POST /{owner}/{name}/settings`: visibility and gate.
pub async fn update_model_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    Path((owner, name)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> PageResult {
    check_csrf(&state, &headers, &form).or_page(&state)?;
    let caller = form_caller(&state, &headers).await.or_page(&state)?;
    let id = model_id(&owner, &name).or_page(&state)?;
    let private = form.get("visibility").map(|v| v == "private");
    let gated = form.get("gate").map(|v| v == "gated");
    let model = repos::update_settings(
        &state,
        &Actor {
            caller: &caller,
            ip: &ip,
        },
        &id,
        private,
        gated,
    )
    .await
    .or_page(&state)?;
    Ok(Redirect::to(&format!(
        "/{}/{}/settings",
        super::seg(&model.owner),
        super::seg(&model.name)
    ))
    .into_response())
}

/// `POST /{owner}/{name}/delete`: deletes the model (the form asks to type its name).
pub async fn delete_model(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    Path((owner, name)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> PageResult {
    check_csrf(&state, &headers, &form).or_page(&state)?;
    let caller = form_caller(&state, &headers).await.or_page(&state)?;
    let id = model_id(&owner, &name).or_page(&state)?;
    let model = readable_model(&state, &caller, &id).await.or_page(&state)?;
    if form.get("confirm").map(|c| c.trim()) != Some(model.full_name().as_str()) {
        return Err(AppError::Invalid(format!(
            "type `{}` to confirm the deletion",
            model.full_name()
        )))
        .or_page(&state);
    }
    repos::delete(
        &state,
        &Actor {
            caller: &caller,
            ip: &ip,
        },
        &id,
    )
    .await
    .or_page(&state)?;
    Ok(Redirect::to(&format!("/{}", super::seg(&model.owner))).into_response())
}

/// `POST /{owner}/{name}/accept-license`: the signed-in user accepts a gated model's license.
pub async fn accept_license(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    Path((owner, name)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> PageResult {
    check_csrf(&state, &headers, &form).or_page(&state)?;
    let caller = form_caller(&state, &headers).await.or_page(&state)?;
    let id = model_id(&owner, &name).or_page(&state)?;
    let model = readable_model(&state, &caller, &id).await.or_page(&state)?;
    let actor = Actor {
        caller: &caller,
        ip: &ip,
    };
    repos::accept_license(&state, &actor, &model)
        .await
        .or_page(&state)?;
    Ok(Redirect::to(&format!(
        "/{}/{}",
        super::seg(&model.owner),
        super::seg(&model.name)
    ))
    .into_response())
}

/// Where a page that needs a session sends an anonymous visitor: the sign-in
/// form, which comes back here afterwards.
pub(super) fn sign_in_first(uri: &Uri) -> Response {
    let back = uri.path_and_query().map_or("/", |p| p.as_str());
    Redirect::to(&format!("/login?next={}", super::query_value(back))).into_response()
}

/// The local page a sign-in may return to: a path on this site, never another
/// host (`//evil.example`, `/\evil.example`) or a scheme.
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2048
        && !next.chars().any(|c| c.is_control() || c == '\\');
    ok.then_some(next)
}

/// The hidden CSRF field and cookie for pages (like the model page) that show a form.
pub fn csrf_for_page(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    csrf_token(state, headers)
}

/// Sets the CSRF cookie on a page response when it is new.
pub fn set_csrf_cookie(res: Response, cookie: Option<String>) -> Response {
    with_cookie(res, cookie)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_pages_are_returned_to() {
        assert_eq!(safe_next("/settings/tokens"), Some("/settings/tokens"));
        assert_eq!(safe_next("/a/b/settings?x=1"), Some("/a/b/settings?x=1"));
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "/a\\b",
            "/a\nb",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }
}
