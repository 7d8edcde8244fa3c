//! `POST /api/v1/models/{owner}/{name}/commits`: publish a revision.

use axum::extract::State;
use axum::http::StatusCode;
use granary_core::api::{CommitRequest, RevisionInfo};

use crate::access::{self, Role};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppResult, Json, ModelPath};
use crate::publish;
use crate::routes::models::revision_info;

pub async fn create_commit(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(id): ModelPath,
    Json(req): Json<CommitRequest>,
) -> AppResult<(StatusCode, Json<RevisionInfo>)> {
    // The write role on the namespace first: without it the answer (401 or 403) is the
    // same whether the model is public, private or missing, so a commit reveals nothing.
    access::require_role(&state.db, &caller, id.owner(), Role::Write).await?;
    let published = publish::commit(&state, &caller, &id, req).await?;
    Ok((
        StatusCode::CREATED,
        Json(revision_info(&state.db, &published.model, &published.revision).await?),
    ))
}
