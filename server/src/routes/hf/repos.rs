//! Accounts and repositories on the Hub surface: whoami, validate-yaml,
//! create/delete, branches, tags, and the preupload question ("inline or LFS,
//! and what is stored at this path already?").

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use granary_core::names::validate_ref_name;
use serde_json::{Value, json};

use super::bodies::{BranchBody, HubJson, PreuploadBody, RepoBody, TagBody};
use super::{
    HfCaller, HfError, HfResult, base_url, json_status, manifest_files, oids, readable, repo_id,
    revision,
};
use crate::app::AppState;
use crate::client::ClientIp;
use crate::db::refs;
use crate::error::{AppError, Path};
use crate::repos::{self, Actor, Created};

/// `GET /api/whoami-v2`.
pub async fn whoami(HfCaller(caller): HfCaller) -> HfResult<Response> {
    let user = caller.require_user()?;
    let role = match caller.scope {
        Some(crate::access::Role::Read) => "read",
        _ => "write",
    };
    Ok(json_status(
        StatusCode::OK,
        json!({
            "type": "user",
            "id": user.id,
            "name": user.name,
            "fullname": user.name,
            "isPro": false,
            "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "granary", "role": role}},
        }),
    ))
}

/// The largest body `validate-yaml` reads: a model card is a few kilobytes, and anyone may call it.
pub const MAX_VALIDATE_YAML_BODY: usize = 512 * 1024;

/// `POST /api/validate-yaml` `{"content", "repoType"}`: always answers JSON. Anyone may call it, so
/// its body is capped and the YAML parser's alias expansion bounded (`publish::card`).
pub async fn validate_yaml(body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let kib = MAX_VALIDATE_YAML_BODY / 1024;
            let msg = format!(
                "the body is larger than validate-yaml reads ({kib} KiB): send the model card alone"
            );
            return HfError::from(AppError::TooLarge(msg)).into_response();
        }
        Err(r) => {
            return HfError::invalid(format!("cannot read the body: {}", r.body_text()))
                .into_response();
        }
    };
    let content = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("content").and_then(Value::as_str).map(str::to_string));
    let Some(content) = content else {
        let msg = "the body must be JSON with a `content` string";
        return json_status(
            StatusCode::BAD_REQUEST,
            json!({"error": msg, "errors": [{"message": msg}], "warnings": []}),
        );
    };
    match crate::publish::card::front_matter(&content) {
        Ok(card) => {
            let mut warnings = Vec::new();
            if crate::publish::card::field(&card, "license").is_none() {
                warnings.push(json!({"message": "no `license:` in the front matter: Granary refuses a commit without a license"}));
            }
            json_status(StatusCode::OK, json!({"errors": [], "warnings": warnings}))
        }
        Err(msg) => json_status(
            StatusCode::BAD_REQUEST,
            json!({"error": msg, "errors": [{"message": msg}], "warnings": []}),
        ),
    }
}

/// The namespace and name of a create/delete body; `organization` none means the caller.
fn body_repo(v: &RepoBody, caller_name: &str) -> HfResult<(String, String)> {
    if let Some(t) = v.repo_type.as_deref()
        && t != "model"
    {
        return Err(HfError::invalid(format!(
            "Granary hosts models only, not `{t}` repositories"
        )));
    }
    let name = v
        .name
        .as_deref()
        .ok_or_else(|| HfError::invalid("`name` is required"))?;
    Ok(match name.split_once('/') {
        Some((ns, n)) => (ns.to_string(), n.to_string()),
        None => (
            v.organization.as_deref().unwrap_or(caller_name).to_string(),
            name.to_string(),
        ),
    })
}

/// `POST /api/repos/create` `{"name", "organization"?, "private"?|"visibility"?}` (`write` on the
/// namespace): an empty model; `409` with its URL when it exists.
pub async fn create_repo(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    ip: ClientIp,
    headers: HeaderMap,
    HubJson(v): HubJson<RepoBody>,
) -> HfResult<Response> {
    let user = caller.require_user()?.clone();
    let (ns, name) = body_repo(&v, &user.name)?;
    let id = granary_core::ModelId::new(&ns, &name).map_err(|e| HfError::invalid(e.to_string()))?;
    super::writer(&state, &caller, id.owner()).await?;
    let private = v.private.unwrap_or(false) || v.visibility.as_deref() == Some("private");
    let (status, model) = match repos::create(
        &state,
        &Actor {
            caller: &caller,
            ip: &ip,
        },
        &id,
        private,
        false,
    )
    .await?
    {
        Created::New(model) => (StatusCode::OK, model),
        Created::Exists(model) => (StatusCode::CONFLICT, model),
    };
    let url = format!("{}/{}", base_url(&state, &headers), model.full_name());
    if status == StatusCode::CONFLICT {
        return Ok(json_status(
            status,
            json!({"error": "You already created this model repo", "url": url}),
        ));
    }
    Ok(json_status(
        status,
        json!({"url": url, "name": model.full_name(), "id": model.id}),
    ))
}

/// `DELETE /api/repos/delete` `{"name", "organization"?}` (`admin` on the namespace): deletes the
/// model with its revisions, as every surface does.
pub async fn delete_repo(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    ip: ClientIp,
    HubJson(v): HubJson<RepoBody>,
) -> HfResult<Response> {
    let user = caller.require_user()?.clone();
    let (ns, name) = body_repo(&v, &user.name)?;
    let id = super::repo_id(&ns, &name)?;
    repos::delete(
        &state,
        &Actor {
            caller: &caller,
            ip: &ip,
        },
        &id,
    )
    .await?;
    Ok(json_status(StatusCode::OK, json!({})))
}

/// `POST /api/models/{owner}/{name}/branch/{branch}` `{"startingPoint"?}`.
pub async fn create_branch(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    Path((owner, name, branch)): Path<(String, String, String)>,
    HubJson(v): HubJson<BranchBody>,
) -> HfResult<Response> {
    let model = readable(&state, &caller, &owner, &name).await?;
    super::writer(&state, &caller, &model.owner).await?;
    validate_ref_name(&branch).map_err(HfError::invalid)?;
    let start = v
        .starting_point
        .unwrap_or_else(|| model.default_branch.clone());
    let target = revision(&state, &model, &start).await?;
    if !crate::refs::create_branch(&state.db, &model, caller.name(), &branch, &target.id).await? {
        return Ok(json_status(
            StatusCode::CONFLICT,
            json!({"error": format!("branch `{branch}` already exists in {}", model.full_name())}),
        ));
    }
    Ok(json_status(StatusCode::OK, json!({})))
}

/// `DELETE /api/models/{owner}/{name}/branch/{branch}`.
pub async fn delete_branch(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    Path((owner, name, branch)): Path<(String, String, String)>,
) -> HfResult<Response> {
    let model = readable(&state, &caller, &owner, &name).await?;
    super::writer(&state, &caller, &model.owner).await?;
    if branch == model.default_branch {
        return Err(HfError::invalid(format!(
            "`{branch}` is the default branch and cannot be deleted"
        )));
    }
    if !crate::refs::delete_branch(&state.db, &model, caller.name(), &branch).await? {
        return Err(AppError::RevisionNotFound(format!(
            "{} has no branch `{branch}`",
            model.full_name()
        ))
        .into());
    }
    Ok(json_status(StatusCode::OK, json!({})))
}

/// `POST /api/models/{owner}/{name}/tag/{rev}` `{"tag", "message"?}`: tags never move (409).
pub async fn create_tag(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    Path((owner, name, rev)): Path<(String, String, String)>,
    HubJson(v): HubJson<TagBody>,
) -> HfResult<Response> {
    let model = readable(&state, &caller, &owner, &name).await?;
    super::writer(&state, &caller, &model.owner).await?;
    let tag = v
        .tag
        .as_deref()
        .ok_or_else(|| HfError::invalid("`tag` is required"))?;
    validate_ref_name(tag).map_err(HfError::invalid)?;
    let target = revision(&state, &model, &rev).await?;
    if refs::find(&state.db, &model.id, refs::TAG, tag)
        .await?
        .is_some()
    {
        return Ok(json_status(
            StatusCode::CONFLICT,
            json!({"error": format!("tag `{tag}` already exists in {}", model.full_name())}),
        ));
    }
    crate::refs::create_tag(&state.db, &model, caller.name(), tag, &target.id, false).await?;
    Ok(json_status(StatusCode::OK, json!({})))
}

/// `DELETE /api/models/{owner}/{name}/tag/{tag}`.
pub async fn delete_tag(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    Path((owner, name, tag)): Path<(String, String, String)>,
) -> HfResult<Response> {
    let model = readable(&state, &caller, &owner, &name).await?;
    super::writer(&state, &caller, &model.owner).await?;
    if !crate::refs::delete_tag(&state.db, &model, caller.name(), &tag).await? {
        return Err(AppError::RevisionNotFound(format!(
            "{} has no tag `{tag}`",
            model.full_name()
        ))
        .into());
    }
    Ok(json_status(StatusCode::OK, json!({})))
}

/// `POST /api/models/{owner}/{name}/preupload/{rev}` `{"files": [{"path","sample","size"}]}`:
/// `regular` (inline) up to the inline threshold, `lfs` above; `oid` of what is stored at
/// that path now (git blob id for regular, SHA-256 for lfs) so unchanged files are skipped.
pub async fn preupload(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    Path((owner, name, rev)): Path<(String, String, String)>,
    HubJson(v): HubJson<PreuploadBody>,
) -> HfResult<Response> {
    let id = repo_id(&owner, &name)?;
    let model = readable(&state, &caller, id.owner(), id.name()).await?;
    super::writer(&state, &caller, &model.owner).await?;
    let current = match revision(&state, &model, &rev).await {
        Ok(r) => Some(manifest_files(&r)?),
        Err(HfError {
            error: AppError::RevisionNotFound(_),
            ..
        }) => None,
        Err(e) => return Err(e),
    };
    let max = super::inline_max(&state);
    let mut out = Vec::new();
    for f in &v.files {
        let (path, size) = (f.path.as_str(), f.size);
        let lfs = size > max;
        let stored = current
            .as_ref()
            .and_then(|m| m.files.iter().find(|e| e.path.as_str() == path));
        let oid = match stored {
            Some(e) if lfs => Some(e.sha256.hex()),
            Some(e) if e.size == size => Some(oids::content_oid(&state, &e.sha256).await?),
            _ => None,
        };
        out.push(json!({
            "path": path,
            "uploadMode": if lfs { "lfs" } else { "regular" },
            "shouldIgnore": false,
            "oid": oid,
        }));
    }
    Ok(json_status(StatusCode::OK, json!({"files": out})))
}
