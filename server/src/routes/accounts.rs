//! Accounts over the API: tokens, organisations and members, repository
//! creation and settings (visibility, gate, deletion), license acceptance of
//! gated models, and the audit log.

use axum::extract::State;
use axum::http::StatusCode;
use granary_core::ModelId;
use granary_core::api::{
    AcceptanceInfo, AcceptanceList, AuditLog, AuditQuery, CreateOrgRequest, CreateRepoRequest,
    CreateTokenRequest, Invite, LicenseAcceptance, MemberInfo, MemberList, Membership, NewToken,
    OrgInfo, RepoSettings, SetMemberRequest, TokenInfo, TokenList, UpdateSettingsRequest,
};
use granary_core::names::validate_owner;

use crate::access::readable_model;
use crate::access::{Role, require_role};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::events as audit;
use crate::db::users;
use crate::db::{gates, orgs};
use crate::error::{AppError, AppResult, Json, ModelPath, Path, Query};
use crate::repos::{self, Actor, Created};
use crate::tokens::{self, TokenRequest};

/// The client's address: computed in one place, `client.rs` (trusted proxies included).
use crate::accounts::audit_event;
use crate::client::ClientIp;

/// `POST /api/v1/tokens`: a new token, bounded by the caller's (`tokens::create`).
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Json(req): Json<CreateTokenRequest>,
) -> AppResult<(StatusCode, Json<NewToken>)> {
    let request = TokenRequest {
        name: req.name.as_deref().unwrap_or("api"),
        scope: req.scope.as_str(),
        owner: req.owner.as_deref(),
        expires_days: req.expires_days.map(i64::from),
        expires_at: req.expires_at,
    };
    let made = tokens::create(&state, &caller, request, &ip).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// `GET /api/v1/tokens`: the caller's tokens, without their secrets.
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<TokenList>> {
    let user = caller.require_user()?;
    let tokens = users::list_tokens(&state.db, &user.id)
        .await?
        .into_iter()
        .map(|t| {
            Ok(TokenInfo {
                scope: role(&t.scope)?,
                id: t.id,
                name: t.name,
                owner_limit: t.owner_limit,
                created_at: t.created_at,
                last_used_at: t.last_used_at,
                expires_at: t.expires_at,
                revoked_at: t.revoked_at,
            })
        })
        .collect::<AppResult<_>>()?;
    Ok(Json(TokenList { tokens }))
}

/// A role or scope as stored; anything else is a broken row.
fn role(stored: &str) -> AppResult<Role> {
    Role::parse(stored).ok_or_else(|| AppError::internal_msg(format!("unknown role `{stored}`")))
}

/// A revision id as stored.
fn revision_id(stored: Option<&str>) -> AppResult<Option<granary_core::Sha256>> {
    stored
        .map(|r| r.parse().map_err(AppError::internal))
        .transpose()
}

/// `DELETE /api/v1/tokens/{id}`: revoked at once.
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let user = caller.require_user()?;
    if !users::revoke_token(&state.db, &user.id, &id, granary_core::time::now_ms()).await? {
        return Err(AppError::NotFound(format!(
            "you have no live token with id `{id}`"
        )));
    }
    audit_event(
        &state,
        Some(&user.name),
        "token.revoked",
        Some(&id),
        None,
        &ip,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/orgs`: the caller becomes its first admin.
pub async fn create_org(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Json(req): Json<CreateOrgRequest>,
) -> AppResult<(StatusCode, Json<OrgInfo>)> {
    let user = caller.require_writer()?;
    if let Some(limit) = &caller.owner_limit {
        return Err(AppError::Forbidden(format!(
            "this token is limited to `{limit}` and cannot create organisations: use a token without an owner limit"
        )));
    }
    validate_owner(&req.name).map_err(|e| AppError::Invalid(e.to_string()))?;
    if !orgs::create(&state.db, &req.name, &user.id, granary_core::time::now_ms()).await? {
        return Err(AppError::Conflict(format!(
            "the name `{}` is taken by a user or an organisation",
            req.name
        )));
    }
    audit_event(
        &state,
        Some(&user.name),
        "org.created",
        Some(&req.name),
        None,
        &ip,
    )
    .await;
    Ok((StatusCode::CREATED, Json(OrgInfo { name: req.name })))
}

async fn org_row(state: &AppState, org: &str) -> AppResult<users::UserRow> {
    match users::find_by_name(&state.db, org).await? {
        Some(o) if o.kind == "org" => Ok(o),
        _ => Err(AppError::NotFound(format!(
            "organisation `{org}` does not exist"
        ))),
    }
}

/// `GET /api/v1/orgs/{org}/members` (members only).
pub async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> AppResult<Json<MemberList>> {
    let o = org_row(&state, &org).await?;
    require_role(&state.db, &caller, &o.name, Role::Read).await?;
    let members = orgs::members(&state.db, &o.id)
        .await?
        .into_iter()
        .map(|m| {
            Ok(MemberInfo {
                role: role(&m.role)?,
                name: m.name,
                created_at: m.created_at,
            })
        })
        .collect::<AppResult<_>>()?;
    Ok(Json(MemberList { members }))
}

/// `PUT /api/v1/orgs/{org}/members/{user}` (org admins).
pub async fn set_member(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path((org, member)): Path<(String, String)>,
    Json(req): Json<SetMemberRequest>,
) -> AppResult<Json<Membership>> {
    let o = org_row(&state, &org).await?;
    let actor = require_role(&state.db, &caller, &o.name, Role::Admin).await?;
    let role = req.role;
    let target = match users::find_by_name(&state.db, &member).await? {
        Some(u) if u.kind == "user" => u,
        _ => {
            return Err(AppError::NotFound(format!(
                "user `{member}` does not exist"
            )));
        }
    };
    orgs::set_member(
        &state.db,
        &o.id,
        &target.id,
        role.as_str(),
        granary_core::time::now_ms(),
    )
    .await?;
    audit_event(
        &state,
        Some(&actor.name),
        "org.member_set",
        Some(&format!("{}/{}", o.name, target.name)),
        Some(role.as_str()),
        &ip,
    )
    .await;
    Ok(Json(Membership {
        org: o.name,
        user: target.name,
        role,
    }))
}

/// `DELETE /api/v1/orgs/{org}/members/{user}` (org admins).
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path((org, member)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    let o = org_row(&state, &org).await?;
    let actor = require_role(&state.db, &caller, &o.name, Role::Admin).await?;
    let target = users::find_by_name(&state.db, &member)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("user `{member}` does not exist")))?;
    if !orgs::remove_member(&state.db, &o.id, &target.id).await? {
        return Err(AppError::NotFound(format!(
            "`{member}` is not a member of `{}`",
            o.name
        )));
    }
    audit_event(
        &state,
        Some(&actor.name),
        "org.member_removed",
        Some(&format!("{}/{}", o.name, target.name)),
        None,
        &ip,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/repos`: an empty model, to push into later.
pub async fn create_repo(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Json(req): Json<CreateRepoRequest>,
) -> AppResult<(StatusCode, Json<RepoSettings>)> {
    let id: ModelId = req
        .id
        .parse()
        .map_err(|e: granary_core::NameError| AppError::Invalid(e.to_string()))?;
    match repos::create(
        &state,
        &Actor {
            caller: &caller,
            ip: &ip,
        },
        &id,
        req.private,
        req.gated,
    )
    .await?
    {
        Created::New(_) => Ok((
            StatusCode::CREATED,
            Json(RepoSettings {
                id: id.to_string(),
                private: req.private,
                gated: req.gated,
            }),
        )),
        Created::Exists(_) => Err(AppError::Conflict(format!("model `{id}` already exists"))),
    }
}

/// `PATCH /api/v1/models/{owner}/{name}/settings` (admins of the namespace).
pub async fn update_settings(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    ModelPath(id): ModelPath,
    Json(req): Json<UpdateSettingsRequest>,
) -> AppResult<Json<RepoSettings>> {
    let m = repos::update_settings(
        &state,
        &Actor {
            caller: &caller,
            ip: &ip,
        },
        &id,
        req.private,
        req.gated,
    )
    .await?;
    Ok(Json(RepoSettings {
        id: m.full_name(),
        private: m.private,
        gated: m.gated,
    }))
}

/// `DELETE /api/v1/models/{owner}/{name}` (admins of the namespace).
pub async fn delete_repo(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    ModelPath(id): ModelPath,
) -> AppResult<StatusCode> {
    repos::delete(
        &state,
        &Actor {
            caller: &caller,
            ip: &ip,
        },
        &id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/models/{owner}/{name}/license/accept`: the caller accepts a gated model's license.
pub async fn accept_license(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    ModelPath(id): ModelPath,
) -> AppResult<Json<LicenseAcceptance>> {
    let model = readable_model(&state, &caller, &id).await?;
    let actor = Actor {
        caller: &caller,
        ip: &ip,
    };
    let now = repos::accept_license(&state, &actor, &model).await?;
    let user = caller.require_user()?;
    Ok(Json(LicenseAcceptance {
        model: model.full_name(),
        user: user.name.clone(),
        revision: revision_id(model.head_revision.as_deref())?,
        accepted_at: now,
    }))
}

/// `GET /api/v1/models/{owner}/{name}/license/acceptances` (admins of the namespace).
pub async fn list_acceptances(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(id): ModelPath,
) -> AppResult<Json<AcceptanceList>> {
    let model = readable_model(&state, &caller, &id).await?;
    require_role(&state.db, &caller, &model.owner, Role::Admin).await?;
    let acceptances = gates::acceptances(&state.db, &model.id)
        .await?
        .into_iter()
        .map(|a| {
            Ok(AcceptanceInfo {
                revision_id: revision_id(a.revision_id.as_deref())?,
                user: a.user,
                accepted_at: a.accepted_at,
            })
        })
        .collect::<AppResult<_>>()?;
    Ok(Json(AcceptanceList { acceptances }))
}

/// `GET /api/v1/audit` (server admins).
pub async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> AppResult<Json<AuditLog>> {
    caller.require_user()?;
    if !caller.is_admin() {
        return Err(AppError::Forbidden(
            "the audit log is for server administrators".into(),
        ));
    }
    let events = audit::list(&state.db, crate::routes::page_limit(q.limit), q.before).await?;
    Ok(Json(AuditLog { events }))
}

/// `POST /api/v1/invites` (server admins, with an `admin` token): a one-time sign-up code for
/// `--signup invite`.
pub async fn create_invite(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
) -> AppResult<(StatusCode, Json<Invite>)> {
    let user = caller.require_user()?;
    if !caller.is_admin() {
        return Err(AppError::Forbidden(
            "invites are made by server administrators".into(),
        ));
    }
    if caller.scope != Some(Role::Admin) {
        return Err(AppError::Forbidden(
            "an invite creates an account: it needs an `admin` token, not a `read` or `write` one"
                .into(),
        ));
    }
    let code =
        crate::db::invites::create(&state.db, &user.name, granary_core::time::now_ms()).await?;
    audit_event(&state, Some(&user.name), "invite.created", None, None, &ip).await;
    Ok((StatusCode::CREATED, Json(Invite { code })))
}
