//! Verification results of a revision, and re-runs on request.

use axum::extract::State;
use axum::http::StatusCode;
use granary_core::api::{VerificationQueued, VerificationReport};

use crate::access::readable_model;
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::jobs;
use crate::error::{AppError, AppResult, Json, ModelPath, Path};
use crate::refs::resolve_revision;
use crate::verification::reports;

/// `GET /api/v1/models/{owner}/{name}/revisions/{rev}/verification`.
pub async fn get_verification(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(id): ModelPath,
    Path((_, _, rev)): Path<(String, String, String)>,
) -> AppResult<Json<Vec<VerificationReport>>> {
    let (model, r) = crate::refs::readable_revision(&state, &caller, &id, &rev).await?;
    Ok(Json(reports(&state.db, &model.id, &r.id).await?))
}

/// `POST /api/v1/models/{owner}/{name}/revisions/{rev}/verify`: queue a re-run (owner or admin).
pub async fn request_verification(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(id): ModelPath,
    Path((_, _, rev)): Path<(String, String, String)>,
) -> AppResult<(StatusCode, Json<VerificationQueued>)> {
    let model = readable_model(&state, &caller, &id).await?;
    crate::access::require_role(&state.db, &caller, &model.owner, crate::access::Role::Write)
        .await?;
    let r = resolve_revision(&state.db, &model, &rev).await?;
    let job = jobs::requeue(&state.db, &model.id, &r.id, granary_core::time::now_ms()).await?;
    state.jobs_queued.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(VerificationQueued {
            job,
            revision: r.id.parse().map_err(AppError::internal)?,
        }),
    ))
}

/// Queues a re-run for `OWNER/NAME`, `OWNER/NAME:REF` or `OWNER/NAME@REVISION` (the `verify` command).
pub async fn requeue_target(app: &crate::App, target: &str) -> anyhow::Result<(String, String)> {
    let (name, rev) = match target.split_once(['@', ':']) {
        Some((n, r)) => (n, r.to_string()),
        None => (target, "main".to_string()),
    };
    let id: granary_core::ModelId = name.parse()?;
    let model = crate::db::models::find(&app.db, &id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("model `{id}` does not exist"))?;
    let r = resolve_revision(&app.db, &model, &rev)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let job = jobs::requeue(&app.db, &model.id, &r.id, granary_core::time::now_ms()).await?;
    Ok((format!("{id}@{}", r.id), job))
}
