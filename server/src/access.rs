//! Authorization: what a caller may do under an owner's namespace and with
//! a model. Users own their namespace; organisation members have the role
//! their membership gives; server admins may do everything; a token's scope
//! and owner limit cap all of this.

use std::collections::HashSet;

use granary_core::{ModelId, Sha256};

use crate::app::App;
use crate::auth::Caller;
use crate::db::blobs::Owners;
use crate::db::models::ModelRow;
use crate::db::users::UserRow;
use crate::db::{Db, blob_uploaders, blobs, gates, orgs};
use crate::error::{AppError, AppResult};

/// A role on a namespace, or a token's scope (a wire type: `core/src/roles.rs`).
pub use granary_core::Role;

/// The caller's role under `owner`, capped by its token.
pub async fn role_on(db: &Db, caller: &Caller, owner: &str) -> AppResult<Option<Role>> {
    let Some(user) = &caller.user else {
        return Ok(None);
    };
    if caller
        .owner_limit
        .as_ref()
        .is_some_and(|l| !l.eq_ignore_ascii_case(owner))
    {
        return Ok(None);
    }
    let role = if user.is_admin || user.name.eq_ignore_ascii_case(owner) {
        Some(Role::Admin)
    } else {
        orgs::role_of(db, owner, &user.id).await?
    };
    let cap = caller.scope.unwrap_or(Role::Read);
    Ok(role.map(|r| r.min(cap)))
}

/// The user, if it holds at least `min` under `owner`; 401 when anonymous, 403 otherwise.
pub async fn require_role<'a>(
    db: &Db,
    caller: &'a Caller,
    owner: &str,
    min: Role,
) -> AppResult<&'a UserRow> {
    let user = caller.require_user()?;
    match role_on(db, caller, owner).await? {
        Some(r) if r >= min => Ok(user),
        _ => Err(AppError::Forbidden(format!(
            "`{}` needs the `{}` role under `{owner}` for this (check the token's scope and the organisation's members)",
            user.name,
            min.as_str()
        ))),
    }
}

/// Whether the caller may see the model at all (private models need `read`).
pub async fn can_read(db: &Db, caller: &Caller, model: &ModelRow) -> AppResult<bool> {
    Ok(!model.private || role_on(db, caller, &model.owner).await?.is_some())
}

/// Whether the caller may download the files of a readable model: a gated
/// model needs its license accepted by the caller, unless they hold a role on it.
pub async fn check_download(db: &Db, caller: &Caller, model: &ModelRow) -> AppResult<()> {
    if !model.gated || role_on(db, caller, &model.owner).await?.is_some() {
        return Ok(());
    }
    let id = model.full_name();
    match &caller.user {
        None => Err(AppError::Gated(format!(
            "`{id}` is gated: sign in and accept its license first (granary license accept {id})"
        ))),
        Some(u) if gates::has_accepted(db, &model.id, &u.id).await? => Ok(()),
        Some(_) => Err(AppError::Gated(format!(
            "`{id}` is gated: accept its license first (granary license accept {id}, or on the model page)"
        ))),
    }
}

/// Whether the caller may download the files of a readable model now: [`check_download`]
/// as a yes or no, for pages that offer the files only to those who may fetch them.
pub async fn may_download(db: &Db, caller: &Caller, model: &ModelRow) -> AppResult<bool> {
    match check_download(db, caller, model).await {
        Ok(()) => Ok(true),
        Err(AppError::Gated(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The owners whose private and gated models the caller may read, as a set for
/// queries over many models at once (the same answer as [`role_on`] per owner).
pub async fn readable_owners(db: &Db, caller: &Caller) -> AppResult<Owners> {
    let Some(user) = &caller.user else {
        return Ok(Owners::Only(vec![]));
    };
    if user.is_admin {
        return Ok(match &caller.owner_limit {
            None => Owners::All,
            Some(limit) => Owners::Only(vec![limit.to_ascii_lowercase()]),
        });
    }
    let mut owners = vec![user.name.to_ascii_lowercase()];
    owners.extend(
        orgs::orgs_of(db, &user.id)
            .await?
            .into_iter()
            .map(|o| o.to_ascii_lowercase()),
    );
    if let Some(limit) = &caller.owner_limit {
        owners.retain(|o| o.eq_ignore_ascii_case(limit));
    }
    Ok(Owners::Only(owners))
}

/// The blobs among `digests` that the caller may name by digest alone: those whose
/// bytes it uploaded, and those of revisions it may already download. For any
/// other blob, knowing the digest grants nothing: the bytes must be sent (and
/// existence answers say "missing"), so a digest is never a key to someone
/// else's private, gated or deleted content.
pub async fn referable_blobs(
    db: &Db,
    caller: &Caller,
    digests: &[Sha256],
) -> AppResult<HashSet<Sha256>> {
    let Some(user) = &caller.user else {
        return Ok(HashSet::new());
    };
    let mut found = blob_uploaders::uploaded_by(db, &user.id, digests).await?;
    let rest: Vec<Sha256> = digests
        .iter()
        .filter(|d| !found.contains(d))
        .copied()
        .collect();
    if !rest.is_empty() {
        let owners = readable_owners(db, caller).await?;
        found.extend(blobs::readable_among(db, Some(&user.id), &owners, &rest).await?);
    }
    Ok(found)
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
