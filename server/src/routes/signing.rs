//! `GET /api/v1/keys` and `GET /api/v1/models/{owner}/{name}/revisions/{rev}/signature`:
//! thin over `crate::signing` (docs/SIGNING.md).

use axum::extract::State;
use axum::response::Response;
use granary_core::api::{
    ConsistencyQuery, LogConsistency, RevisionLogProof, RevisionLogQuery, SignedTreeHead,
    SigningKeyInfo, SigningKeys,
};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, Json, ModelPath, Path, Query};
use crate::refs::readable_revision;

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
    let (model, r) = readable_revision(&state, &caller, &id, &rev).await?;
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

/// `GET /api/v1/log/head`: the transparency log's current head, signed. Public.
pub async fn log_head(State(state): State<AppState>) -> AppResult<Json<SignedTreeHead>> {
    Ok(Json(state.log.head(&state.db, &state.signing_key).await?))
}

/// `GET /api/v1/log/consistency?from=N`: that the log's first `N` entries are a
/// prefix of its current tree. Public: it holds hashes only.
pub async fn log_consistency(
    State(state): State<AppState>,
    Query(q): Query<ConsistencyQuery>,
) -> AppResult<Json<LogConsistency>> {
    Ok(Json(
        state
            .log
            .consistency(&state.db, &state.signing_key, q.from)
            .await?,
    ))
}

/// `GET /api/v1/models/{owner}/{name}/revisions/{rev}/log`: the revision's log
/// entry and its inclusion proof. Readable as the manifest is (the entry names the model).
pub async fn revision_log(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(id): ModelPath,
    Path((_, _, rev)): Path<(String, String, String)>,
    Query(q): Query<RevisionLogQuery>,
) -> AppResult<Json<RevisionLogProof>> {
    let (model, r) = readable_revision(&state, &caller, &id, &rev).await?;
    Ok(Json(
        state
            .log
            .inclusion(&state.db, &state.signing_key, &model.id, &r.id, q.from)
            .await?,
    ))
}
