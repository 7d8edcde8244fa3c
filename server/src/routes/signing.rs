//! `GET /api/v1/keys` and `GET /api/v1/models/{owner}/{name}/revisions/{rev}/signature`:
//! thin over `crate::signing` (docs/SIGNING.md).

use axum::extract::State;
use axum::response::Response;
use granary_core::api::{SigningKeyInfo, SigningKeys};

use crate::access::readable_model;
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, Json, ModelPath, Path};
use crate::refs::resolve_revision;

/// `GET /api/v1/keys`: the current key, then the retired ones. Public.
pub async fn list_keys(State(state): State<AppState>) -> AppResult<Json<SigningKeys>> {
    let keys = crate::db::signing::keys(&state.db)
        .await?
        .into_iter()
        .map(|k| SigningKeyInfo {
            status: if k.retired_at.is_none() {
                "current"
            } else {
                "retired"
            }
            .into(),
            id: k.id,
            public_key_pem: k.public_pem,
            created_at: k.created_at,
            retired_at: k.retired_at,
        })
        .collect();
    Ok(Json(SigningKeys { keys }))
}

/// `GET /api/v1/models/{owner}/{name}/revisions/{rev}/signature`: the revision's
/// OMS bundle, as signed. Readable as the manifest is.
pub async fn get_signature(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(id): ModelPath,
    Path((_, _, rev)): Path<(String, String, String)>,
) -> AppResult<Response> {
    let model = readable_model(&state, &caller, &id).await?;
    let r = resolve_revision(&state.db, &model, &rev).await?;
    let bundle = crate::db::signing::bundle(&state.db, &model.id, &r.id)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "revision {} of `{id}` is not signed yet",
                &r.id[..12]
            ))
        })?;
    super::models::revision_json(bundle, &r.id)
}
