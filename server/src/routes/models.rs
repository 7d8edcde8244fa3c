//! Reading models: listings, model info, revisions, manifests, refs, history,
//! the tags that name releases and the branches created and deleted outside a commit.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use granary_core::api::{
    CreateBranchRequest, CreateTagRequest, FileInfo, Log, LogEntry, LogQuery, ModelInfo, ModelList,
    ModelListQuery, ModelSummary, RefInfo, RefQuery, Refs, RevisionInfo, VerificationReport,
    headers::REVISION,
};
use granary_core::manifest::{LicenseInfo, Manifest};
use granary_core::names::validate_ref_name;

use crate::access::{ensure_readable, readable_model};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::models::{ListFilter, ModelRow};
use crate::db::revisions::RevisionRow;
use crate::db::{Db, jobs, models, refs, revisions};
use crate::error::{AppError, AppResult, Json, ModelPath, Path, Query};
use crate::refs::{readable_revision, resolve_revision};
use crate::routes::page_limit;

/// `GET /api/v1/models`.
pub async fn list_models(
    State(state): State<AppState>,
    _caller: Caller,
    Query(q): Query<ModelListQuery>,
) -> AppResult<Json<ModelList>> {
    let limit = page_limit(q.limit);
    let filter = ListFilter {
        owner: q.owner.filter(|s| !s.is_empty()),
        text: q.q.filter(|s| !s.is_empty()),
        license: q.license.filter(|s| !s.is_empty()),
        permissive_only: q.permissive.unwrap_or(false),
        after: q.cursor.filter(|s| !s.is_empty()),
        limit,
    };
    let mut rows = models::list(&state.db, &filter).await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|m| m.full_name().to_ascii_lowercase())
    } else {
        None
    };
    Ok(Json(ModelList {
        models: rows.iter().map(model_summary).collect(),
        next_cursor,
    }))
}

fn model_summary(m: &ModelRow) -> ModelSummary {
    ModelSummary {
        id: m.full_name(),
        owner: m.owner.clone(),
        name: m.name.clone(),
        private: m.private,
        updated_at: m.updated_at,
        license: m.license_id.clone(),
        head: m.head_revision.as_deref().and_then(|h| h.parse().ok()),
        total_size: m.total_size as u64,
        parameter_total: m.parameter_total as u64,
        downloads: m.downloads as u64,
    }
}

/// `GET /api/v1/models/{owner}/{name}[?ref=]`.
pub async fn get_model(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(id): ModelPath,
    Query(q): Query<RefQuery>,
) -> AppResult<Json<ModelInfo>> {
    let (model, revision) = match q.rev {
        Some(rev) => {
            let model = readable_model(&state, &caller, &id).await?;
            let r = resolve_revision(&state.db, &model, &rev).await?;
            let info = revision_info(&state.db, &model, &r).await?;
            (model, Some(info))
        }
        // The usual request: the model and its head's verification in one round trip.
        None => {
            let found = jobs::find_with_head_verification(&state.db, &id).await?;
            let (model, head_verification) =
                found.map_or((None, Vec::new()), |(m, v)| (Some(m), v));
            let model = ensure_readable(&state, &caller, &id, model).await?;
            let head = match &model.head_revision {
                Some(head) => revisions::find(&state.db, &model.id, head).await?,
                None => None,
            };
            let info = match head {
                Some(r) => Some(build_revision_info(
                    &model,
                    &r,
                    crate::verification::from_rows(head_verification)?,
                )?),
                None => None,
            };
            (model, info)
        }
    };
    Ok(Json(ModelInfo {
        id: model.full_name(),
        owner: model.owner.clone(),
        name: model.name.clone(),
        private: model.private,
        gated: model.gated,
        created_at: model.created_at,
        updated_at: model.updated_at,
        default_branch: model.default_branch.clone(),
        downloads: model.downloads as u64,
        revision,
    }))
}

/// Builds the API view of a revision from its row.
pub async fn revision_info(db: &Db, model: &ModelRow, r: &RevisionRow) -> AppResult<RevisionInfo> {
    let verification = crate::verification::reports(db, &model.id, &r.id).await?;
    build_revision_info(model, r, verification)
}

/// The API view of a revision, from its row and its verification reports.
fn build_revision_info(
    model: &ModelRow,
    r: &RevisionRow,
    verification: Vec<VerificationReport>,
) -> AppResult<RevisionInfo> {
    let manifest: Manifest = serde_json::from_str(&r.manifest).map_err(AppError::internal)?;
    let parameters = manifest.parameters();
    Ok(RevisionInfo {
        id: r.id.parse().map_err(AppError::internal)?,
        model: model.full_name(),
        parent: manifest.parent,
        author: r.author.clone(),
        message: r.message.clone(),
        created_at: r.created_at,
        license: LicenseInfo {
            id: r.license_id.clone(),
            name: r.license_name.clone(),
        },
        permissive: r.permissive,
        total_size: r.total_size as u64,
        parameter_total: parameters.values().sum(),
        parameters,
        files: manifest
            .files
            .into_iter()
            .map(|f| FileInfo {
                path: f.path,
                size: f.size,
                sha256: f.sha256,
                safetensors: f.safetensors,
            })
            .collect(),
        card: serde_json::from_str(&r.card).unwrap_or(serde_json::Value::Null),
        verification,
    })
}

/// `GET /api/v1/models/{owner}/{name}/revisions/{rev}`.
pub async fn get_revision(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(id): ModelPath,
    Path((_, _, rev)): Path<(String, String, String)>,
) -> AppResult<Json<RevisionInfo>> {
    let (model, r) = readable_revision(&state, &caller, &id, &rev).await?;
    Ok(Json(revision_info(&state.db, &model, &r).await?))
}

/// `GET /api/v1/models/{owner}/{name}/manifest/{rev}`: the canonical bytes.
pub async fn get_manifest(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(id): ModelPath,
    Path((_, _, rev)): Path<(String, String, String)>,
) -> AppResult<Response> {
    let (_, r) = readable_revision(&state, &caller, &id, &rev).await?;
    revision_json(r.manifest.clone(), &r.id)
}

/// Stored JSON of a revision, as stored, with `x-granary-revision` naming it.
pub(crate) fn revision_json(body: String, revision: &str) -> AppResult<Response> {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        REVISION,
        HeaderValue::from_str(revision).map_err(AppError::internal)?,
    );
    Ok(res)
}

/// `GET /api/v1/models/{owner}/{name}/refs`.
pub async fn list_refs(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(id): ModelPath,
) -> AppResult<Json<Refs>> {
    let model = readable_model(&state, &caller, &id).await?;
    let mut out = Refs {
        branches: vec![],
        tags: vec![],
    };
    for r in refs::list(&state.db, &model.id).await? {
        let info = ref_info(&r)?;
        if r.kind == refs::BRANCH {
            out.branches.push(info);
        } else {
            out.tags.push(info);
        }
    }
    Ok(Json(out))
}

fn ref_info(r: &refs::RefRow) -> AppResult<RefInfo> {
    Ok(RefInfo {
        name: r.name.clone(),
        revision: r.revision_id.parse().map_err(AppError::internal)?,
        updated_at: r.updated_at,
    })
}

/// `GET /api/v1/models/{owner}/{name}/log/{rev}`: newest first, following parents.
pub async fn get_log(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(id): ModelPath,
    Path((_, _, rev)): Path<(String, String, String)>,
    Query(q): Query<LogQuery>,
) -> AppResult<Json<Log>> {
    let model = readable_model(&state, &caller, &id).await?;
    let limit = page_limit(q.limit) as usize;
    let start = match q.cursor.filter(|c| !c.is_empty()) {
        Some(c) => resolve_revision(&state.db, &model, &c).await?,
        None => resolve_revision(&state.db, &model, &rev).await?,
    };
    let mut entries = Vec::new();
    let mut next = Some(start);
    while let Some(r) = next.take() {
        if entries.len() == limit {
            return Ok(Json(Log {
                entries,
                next_cursor: Some(r.id.clone()),
            }));
        }
        next = match &r.parent_id {
            Some(p) => revisions::find(&state.db, &model.id, p).await?,
            None => None,
        };
        entries.push(LogEntry {
            id: r.id.parse().map_err(AppError::internal)?,
            parent: r.parent_id.as_deref().and_then(|p| p.parse().ok()),
            author: r.author.clone(),
            message: r.message.clone(),
            created_at: r.created_at,
        });
    }
    Ok(Json(Log {
        entries,
        next_cursor: None,
    }))
}

/// `PUT /api/v1/models/{owner}/{name}/tags/{tag}`: names a revision; never moves silently.
pub async fn put_tag(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(id): ModelPath,
    Path((_, _, tag)): Path<(String, String, String)>,
    Json(req): Json<CreateTagRequest>,
) -> AppResult<(StatusCode, Json<RefInfo>)> {
    let model = readable_model(&state, &caller, &id).await?;
    crate::access::require_role(&state.db, &caller, &model.owner, crate::access::Role::Write)
        .await?;
    validate_ref_name(&tag).map_err(AppError::Invalid)?;
    let target = resolve_revision(&state.db, &model, &req.revision).await?;
    let status = crate::refs::create_tag(
        &state.db,
        &model,
        caller.name(),
        &tag,
        &target.id,
        req.force,
    )
    .await?;
    let row = refs::find(&state.db, &model.id, refs::TAG, &tag)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("tag vanished after write")))?;
    Ok((status, Json(ref_info(&row)?)))
}

/// `DELETE /api/v1/models/{owner}/{name}/tags/{tag}`.
pub async fn delete_tag(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(id): ModelPath,
    Path((_, _, tag)): Path<(String, String, String)>,
) -> AppResult<StatusCode> {
    let model = readable_model(&state, &caller, &id).await?;
    crate::access::require_role(&state.db, &caller, &model.owner, crate::access::Role::Write)
        .await?;
    if crate::refs::delete_tag(&state.db, &model, caller.name(), &tag).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound(format!(
            "model `{id}` has no tag `{tag}`"
        )))
    }
}

/// `PUT /api/v1/models/{owner}/{name}/branches/{branch}`: a new branch at a revision
/// (model writers); a branch of that name already there is `409`.
pub async fn put_branch(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(id): ModelPath,
    Path((_, _, branch)): Path<(String, String, String)>,
    Json(req): Json<CreateBranchRequest>,
) -> AppResult<(StatusCode, Json<RefInfo>)> {
    let model = readable_model(&state, &caller, &id).await?;
    crate::access::require_role(&state.db, &caller, &model.owner, crate::access::Role::Write)
        .await?;
    validate_ref_name(&branch).map_err(AppError::Invalid)?;
    let target = resolve_revision(&state.db, &model, &req.revision).await?;
    if !crate::refs::create_branch(&state.db, &model, caller.name(), &branch, &target.id).await? {
        return Err(AppError::Conflict(format!(
            "model `{id}` already has a branch `{branch}`: push to it, or delete it first"
        )));
    }
    let row = refs::find(&state.db, &model.id, refs::BRANCH, &branch)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("branch vanished after write")))?;
    Ok((StatusCode::CREATED, Json(ref_info(&row)?)))
}

/// `DELETE /api/v1/models/{owner}/{name}/branches/{branch}` (model writers); the
/// default branch is refused.
pub async fn delete_branch(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(id): ModelPath,
    Path((_, _, branch)): Path<(String, String, String)>,
) -> AppResult<StatusCode> {
    let model = readable_model(&state, &caller, &id).await?;
    crate::access::require_role(&state.db, &caller, &model.owner, crate::access::Role::Write)
        .await?;
    if branch == model.default_branch {
        return Err(AppError::Invalid(format!(
            "`{branch}` is the default branch of `{id}` and cannot be deleted"
        )));
    }
    if crate::refs::delete_branch(&state.db, &model, caller.name(), &branch).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::RevisionNotFound(format!(
            "model `{id}` has no branch `{branch}`"
        )))
    }
}
