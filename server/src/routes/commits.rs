//! `POST /api/v1/models/{owner}/{name}/commits`: publish a revision.

use axum::extract::State;
use axum::http::StatusCode;
use granary_core::api::{CommitRequest, RevisionInfo};

use crate::access::{self, Role};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, Json, Path};
use crate::publish;
use crate::routes::{model_id, models::revision_info};

pub async fn create_commit(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name)): Path<(String, String)>,
    Json(req): Json<CommitRequest>,
) -> AppResult<(StatusCode, Json<RevisionInfo>)> {
    let id = model_id(&owner, &name)?;
    caller.require_user()?;
    // Without the write role, a model the caller cannot see (private, or missing)
    // answers "not found", the same either way; only a visible one says "forbidden".
    let visible = match crate::db::models::find(&state.db, &id).await? {
        Some(existing) => access::can_read(&state.db, &caller, &existing).await?,
        None => false,
    };
    if let Err(e) = access::require_role(&state.db, &caller, id.owner(), Role::Write).await {
        return Err(if visible { e } else { AppError::model_not_found(&id.to_string()) });
    }
    let published = publish::commit(&state, &caller, &id, req).await?;
    Ok((StatusCode::CREATED, Json(revision_info(&state.db, &published.model, &published.revision).await?)))
}
