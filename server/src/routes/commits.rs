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
    if let Some(existing) = crate::db::models::find(&state.db, &id).await? {
        if !access::can_read(&state.db, &caller, &existing).await? {
            return Err(AppError::model_not_found(&id.to_string()));
        }
    }
    let user = access::require_role(&state.db, &caller, id.owner(), Role::Write).await?.clone();
    let published = publish::commit(&state, &user, &id, req).await?;
    Ok((StatusCode::CREATED, Json(revision_info(&state.db, &published.model, &published.revision).await?)))
}
