//! Handlers, one module per resource. `router.rs` lists every route.

pub mod accounts;
pub mod commits;
pub mod files;
pub mod hf;
pub mod meta;
pub mod models;
pub mod uploads;
pub mod verification;
pub mod webhooks;

use std::sync::Arc;

use granary_core::{ModelId, RevisionRef};

use crate::app::App;
use crate::auth::Caller;
use crate::db::models::ModelRow;
use crate::db::revisions::{self, RevisionRow};
use crate::db::{Db, refs};
use crate::error::{AppError, AppResult};

/// Parses `owner/name` from a URL.
pub fn model_id(owner: &str, name: &str) -> AppResult<ModelId> {
    ModelId::new(owner, name).map_err(|e| AppError::Invalid(e.to_string()))
}

/// Loads a model the caller may read. A private model the caller may not
/// see answers exactly like a missing one.
pub async fn readable_model(state: &App, caller: &Caller, id: &ModelId) -> AppResult<ModelRow> {
    let model = crate::db::models::find(&state.db, id).await?;
    ensure_readable(state, caller, id, model).await
}

/// The model, if it exists and the caller may read it; else "not found", the same either way.
pub async fn ensure_readable(
    state: &App,
    caller: &Caller,
    id: &ModelId,
    model: Option<ModelRow>,
) -> AppResult<ModelRow> {
    match model {
        Some(model) if crate::access::can_read(&state.db, caller, &model).await? => Ok(model),
        _ => Err(AppError::model_not_found(&id.to_string())),
    }
}

/// Resolves a branch, tag, full id or id prefix to a revision of `model`.
pub async fn resolve_revision(db: &Db, model: &ModelRow, rev: &str) -> AppResult<Arc<RevisionRow>> {
    let parsed: RevisionRef = rev.parse().map_err(|e: String| {
        AppError::Invalid(format!("`{rev}` is not a branch, tag or revision id: {e}"))
    })?;
    let not_found = || {
        AppError::RevisionNotFound(format!(
            "model `{}` has no branch, tag or revision `{rev}`",
            model.full_name()
        ))
    };
    let id = match parsed {
        RevisionRef::Id(id) => id.hex(),
        RevisionRef::Prefix(prefix) => {
            let mut ids = revisions::ids_with_prefix(db, &model.id, &prefix).await?;
            match ids.len() {
                0 => {
                    // A hex-looking name may still be a branch or tag.
                    resolve_name(db, model, rev).await?.ok_or_else(not_found)?
                }
                1 => ids.remove(0),
                _ => {
                    return Err(AppError::Invalid(format!(
                        "revision prefix `{prefix}` is ambiguous: give more characters"
                    )));
                }
            }
        }
        RevisionRef::Name(name) => resolve_name(db, model, &name)
            .await?
            .ok_or_else(not_found)?,
    };
    revisions::find(db, &model.id, &id)
        .await?
        .ok_or_else(not_found)
}

/// A branch, else a tag, of that name.
async fn resolve_name(db: &Db, model: &ModelRow, name: &str) -> AppResult<Option<String>> {
    // The default branch only moves by a commit, which copies its new head into the
    // model row in the same transaction (and it cannot be deleted): no query needed.
    if name == model.default_branch
        && let Some(head) = &model.head_revision
    {
        return Ok(Some(head.clone()));
    }
    for kind in [refs::BRANCH, refs::TAG] {
        if let Some(r) = refs::find(db, &model.id, kind, name).await? {
            return Ok(Some(r.revision_id));
        }
    }
    Ok(None)
}

/// Pagination limit: 1–100, default 50.
pub fn page_limit(limit: Option<u32>) -> u32 {
    limit.unwrap_or(50).clamp(1, 100)
}
