//! Tags and branches moved outside a commit (a commit moves its branch in
//! `publish::land`): one home for every surface (native API, Hub API), each change
//! written in one transaction with its event (`tag.created`, `tag.deleted`,
//! `ref.moved`).

use std::sync::Arc;

use axum::http::StatusCode;
use granary_core::RevisionRef;
use serde_json::json;

use crate::db::events::{self, ModelEvent};
use crate::db::models::{self, ModelRow};
use crate::db::revisions::{self, RevisionRow};
use crate::db::{Db, Tx, refs};
use crate::error::{AppError, AppResult};

/// Records a ref event inside `tx`.
async fn emit(
    tx: &mut Tx,
    model: &ModelRow,
    actor: Option<&str>,
    kind: &str,
    data: serde_json::Value,
    now: i64,
) -> sqlx::Result<()> {
    let event = ModelEvent {
        kind,
        model: model.into(),
        actor,
        ip: None,
        detail: None,
        data,
    };
    events::emit(tx, &event, now).await.map(|_| ())
}

/// Creates or (with `force`) moves a tag: `201` created, `200` already there or moved.
pub async fn create_tag(
    db: &Db,
    model: &ModelRow,
    actor: Option<&str>,
    tag: &str,
    target: &str,
    force: bool,
) -> AppResult<StatusCode> {
    let now = granary_core::time::now_ms();
    let (mut tx, _guard) = db.begin_write().await?;
    if refs::compare_and_swap(&mut tx, &model.id, refs::TAG, tag, None, target, now).await? {
        models::touch(&mut tx, &model.id, now).await?;
        let data = json!({"tag": tag, "revision": target});
        emit(&mut tx, model, actor, "tag.created", data, now).await?;
        tx.commit().await?;
        return Ok(StatusCode::CREATED);
    }
    let current = refs::target_in(&mut tx, &model.id, refs::TAG, tag)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    if current == target {
        return Ok(StatusCode::OK);
    }
    if !force {
        return Err(AppError::Conflict(format!(
            "tag `{tag}` already names revision {}; tags do not move silently: pass force to move it",
            &current[..12]
        )));
    }
    let moved = refs::compare_and_swap(
        &mut tx,
        &model.id,
        refs::TAG,
        tag,
        Some(&current),
        target,
        now,
    )
    .await?;
    if moved {
        let data = json!({"ref": tag, "kind": "tag", "from": current, "to": target});
        emit(&mut tx, model, actor, "ref.moved", data, now).await?;
    }
    tx.commit().await?;
    Ok(StatusCode::OK)
}

/// Deletes a tag; false when the model has none of that name.
pub async fn delete_tag(
    db: &Db,
    model: &ModelRow,
    actor: Option<&str>,
    tag: &str,
) -> AppResult<bool> {
    let now = granary_core::time::now_ms();
    let (mut tx, _guard) = db.begin_write().await?;
    let Some(was) = refs::delete(&mut tx, &model.id, refs::TAG, tag).await? else {
        return Ok(false);
    };
    let data = json!({"tag": tag, "revision": was});
    emit(&mut tx, model, actor, "tag.deleted", data, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Creates a branch at `target`; false when it exists already.
pub async fn create_branch(
    db: &Db,
    model: &ModelRow,
    actor: Option<&str>,
    branch: &str,
    target: &str,
) -> AppResult<bool> {
    let now = granary_core::time::now_ms();
    let (mut tx, _guard) = db.begin_write().await?;
    if !refs::compare_and_swap(&mut tx, &model.id, refs::BRANCH, branch, None, target, now).await? {
        return Ok(false);
    }
    models::touch(&mut tx, &model.id, now).await?;
    let data = json!({"ref": branch, "kind": "branch", "from": null, "to": target});
    emit(&mut tx, model, actor, "ref.moved", data, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes a branch (not the default one: callers check); false when there is none.
pub async fn delete_branch(
    db: &Db,
    model: &ModelRow,
    actor: Option<&str>,
    branch: &str,
) -> AppResult<bool> {
    let now = granary_core::time::now_ms();
    let (mut tx, _guard) = db.begin_write().await?;
    let Some(was) = refs::delete(&mut tx, &model.id, refs::BRANCH, branch).await? else {
        return Ok(false);
    };
    let data = json!({"ref": branch, "kind": "branch", "from": was, "to": null});
    emit(&mut tx, model, actor, "ref.moved", data, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Resolves a branch, tag, full id or id prefix to a revision of `model`.
/// A model the caller may read and its revision `rev` names.
pub async fn readable_revision(
    state: &crate::app::App,
    caller: &crate::auth::Caller,
    id: &granary_core::ModelId,
    rev: &str,
) -> AppResult<(ModelRow, Arc<RevisionRow>)> {
    let model = crate::access::readable_model(state, caller, id).await?;
    let revision = resolve_revision(&state.db, &model, rev).await?;
    Ok((model, revision))
}

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
