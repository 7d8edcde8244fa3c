//! Publishing a revision: check everything a commit names, then, in one
//! transaction, insert the revision and move the branch compare-and-swap.

pub mod content;
pub mod signatures;

// The checks live in core, so the CLI runs the same code before it uploads.
pub use granary_core::checks::{card, license, scan};

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};
use granary_core::api::CommitRequest;
use granary_core::manifest::{FileEntry, MANIFEST_FORMAT, Manifest};
use granary_core::names::validate_ref_name;
use granary_core::paths::check_path_set;
use granary_core::{ModelId, Sha256};
use serde_json::json;

use crate::app::App;
use crate::auth::Caller;
use crate::db::events::{self, ModelEvent};
use crate::db::models::{self, Head, ModelRow};
use crate::db::revisions::{self, NewRevision, RevisionRow};
use crate::db::{blobs, jobs, refs};
use crate::error::{AppError, AppResult};
use crate::storage::BlobLayout;

/// The largest README.md read for its front matter.
const MAX_CARD_BYTES: u64 = 1024 * 1024;

/// A commit that landed.
pub struct Published {
    pub model: ModelRow,
    pub revision: RevisionRow,
}

/// Checks and lands a commit by `caller` (who must hold `write` on the namespace:
/// the surface checked it). Nothing is written unless every check passes.
pub async fn commit(
    app: &App,
    caller: &Caller,
    id: &ModelId,
    req: CommitRequest,
) -> AppResult<Published> {
    let author = caller.require_user()?;
    validate_ref_name(&req.branch).map_err(AppError::Invalid)?;
    if req.files.is_empty() {
        return Err(AppError::Invalid(
            "a revision needs at least one file".into(),
        ));
    }
    if req.files.len() > app.config.max_files {
        return Err(AppError::TooLarge(format!(
            "a revision may hold at most {} files (max_files); this one has {}",
            app.config.max_files,
            req.files.len()
        )));
    }
    check_path_set(req.files.iter().map(|f| &f.path))
        .map_err(|e| AppError::Invalid(e.to_string()))?;

    let layouts = stored_layouts(app, caller, &req).await?;
    crate::quota::check_commit(app, id.owner(), &layouts).await?;
    let summaries = check_contents(app, &req, &layouts).await?;
    let card = read_card(app, &req, &layouts).await?;
    let license_id = req
        .license
        .clone()
        .or_else(|| card::field(&card, "license").map(str::to_string))
        .ok_or_else(|| {
            AppError::Invalid(
                "no license: give one (--license apache-2.0) or put `license:` in README.md's YAML front matter".into(),
            )
        })?;
    let license_name = req
        .license_name
        .clone()
        .or_else(|| card::field(&card, "license_name").map(str::to_string));
    let license =
        license::resolve(&license_id, license_name.as_deref()).map_err(AppError::Invalid)?;
    check_license_rules(app, &req, &license.info)?;

    let mut manifest = Manifest {
        format: MANIFEST_FORMAT,
        parent: req.parent,
        author: author.name.clone(),
        message: req.message.clone(),
        created_at: granary_core::time::now_ms(),
        license: license.info.clone(),
        files: req
            .files
            .iter()
            .map(|f| FileEntry {
                path: f.path.clone(),
                size: f.size,
                sha256: f.sha256,
                safetensors: summaries.get(f.path.as_str()).cloned(),
                chunks: vec![],
            })
            .collect(),
    };
    let bytes = manifest.canonical_bytes();
    let revision_id = Sha256::of(&bytes).hex();
    let parameter_total: u64 = manifest.parameters().values().sum();
    let row = RevisionRow {
        id: revision_id.clone(),
        parent_id: req.parent.map(|p| p.hex()),
        author: author.name.clone(),
        message: req.message.clone(),
        created_at: manifest.created_at,
        license_id: license.info.id.clone(),
        license_name: license.info.name.clone(),
        permissive: license.permissive,
        total_size: manifest.total_size() as i64,
        parameter_total: parameter_total as i64,
        file_count: manifest.files.len() as i64,
        card: card.to_string(),
        manifest: String::from_utf8(bytes).map_err(AppError::internal)?,
    };
    land(app, id, &req, row, &manifest).await
}

/// The one transaction of a commit.
async fn land(
    app: &App,
    id: &ModelId,
    req: &CommitRequest,
    row: RevisionRow,
    manifest: &Manifest,
) -> AppResult<Published> {
    let now = row.created_at;
    let (mut tx, _guard) = app.db.begin_write().await?;
    let private = req.private.unwrap_or(false);
    let (model, created) = models::find_or_create(&mut tx, id, private, now).await?;
    // Checked again under a share lock: garbage collection may have removed an
    // unreferenced blob since `stored_layouts`, and must not until this commits.
    let digests: Vec<Sha256> = manifest.files.iter().map(|f| f.sha256).collect();
    let present: std::collections::HashSet<Sha256> =
        blobs::find_many_locked(&app.db, &mut tx, &digests)
            .await?
            .into_iter()
            .map(|b| b.sha256)
            .collect();
    if let Some(f) = manifest.files.iter().find(|f| !present.contains(&f.sha256)) {
        return Err(AppError::Invalid(format!(
            "`{}`: blob {} is no longer stored (it was collected as unused while this commit was checked): \
             upload it again, then commit",
            f.path, f.sha256
        )));
    }
    let parent = req.parent.map(|p| p.hex());
    if let Some(p) = &parent
        && !revisions::exists_in(&mut tx, &model.id, p).await?
    {
        return Err(AppError::Conflict(format!(
            "parent revision {} is not a revision of `{id}`: pull, then push again",
            &p[..12]
        )));
    }
    let files = manifest
        .files
        .iter()
        .map(|f| (f.path.to_string(), f.size, f.sha256.hex()))
        .collect();
    let new = revisions::insert(
        &mut tx,
        &NewRevision {
            model_id: &model.id,
            row: row.clone(),
            files,
        },
    )
    .await?;
    if new {
        jobs::enqueue(&mut tx, &model.id, &row.id, now).await?;
        let name: ModelId = model.full_name().parse().map_err(AppError::internal)?;
        let key = &app.signing_key;
        signatures::sign_and_log_in(&mut tx, &app.db, key, &model.id, &name, &row.id, manifest)
            .await?;
    }
    let moved = refs::compare_and_swap(
        &mut tx,
        &model.id,
        refs::BRANCH,
        &req.branch,
        parent.as_deref(),
        &row.id,
        now,
    )
    .await?;
    if !moved {
        let current = refs::target_in(&mut tx, &model.id, refs::BRANCH, &req.branch).await?;
        let now_at = current
            .map(|c| c[..12].to_string())
            .unwrap_or_else(|| "nothing (it was deleted)".into());
        let expected = parent
            .as_deref()
            .map(|p| p[..12].to_string())
            .unwrap_or_else(|| "nothing (a new branch)".into());
        return Err(AppError::Conflict(format!(
            "branch `{}` of `{id}` has moved: you built on {expected} but it now points at {now_at}; \
             pull, then push again",
            req.branch
        )));
    }
    if req.branch == model.default_branch {
        let head = Head {
            revision: &row.id,
            license_id: &row.license_id,
            permissive: row.permissive,
            total_size: row.total_size as u64,
            parameter_total: row.parameter_total as u64,
        };
        models::set_head(&mut tx, &model.id, &head, now).await?;
    } else {
        models::touch(&mut tx, &model.id, now).await?;
    }
    let actor = Some(row.author.as_str());
    if created {
        let detail = format!("private={private} gated=false");
        let data = json!({"private": private, "gated": false});
        emit(
            &mut tx,
            &model,
            actor,
            "repo.created",
            Some(&detail),
            data,
            now,
        )
        .await?;
    }
    let data = json!({
        "revision": row.id,
        "parent": parent,
        "branch": req.branch,
        "message": row.message,
        "files": row.file_count,
        "total_size": row.total_size,
        "parameters": row.parameter_total,
        "license": row.license_id,
    });
    emit(
        &mut tx,
        &model,
        actor,
        "revision.published",
        None,
        data,
        now,
    )
    .await?;
    tx.commit().await?;
    app.jobs_queued.notify_one();
    tracing::info!(model = %id, revision = %row.id, branch = %req.branch, files = row.file_count, "revision published");
    let model = models::find(&app.db, id)
        .await?
        .ok_or_else(|| AppError::model_not_found(&id.to_string()))?;
    Ok(Published {
        model,
        revision: row,
    })
}

/// Records an event of the commit inside its transaction.
async fn emit(
    tx: &mut crate::db::Tx,
    model: &ModelRow,
    actor: Option<&str>,
    kind: &str,
    detail: Option<&str>,
    data: serde_json::Value,
    now: i64,
) -> sqlx::Result<()> {
    let event = ModelEvent {
        kind,
        model: model.into(),
        actor,
        ip: None,
        detail,
        data,
    };
    events::emit(tx, &event, now).await.map(|_| ())
}

/// The registry's license policy, and the LICENSE file that `other` needs.
fn check_license_rules(
    app: &App,
    req: &CommitRequest,
    license: &granary_core::manifest::LicenseInfo,
) -> AppResult<()> {
    let policy_text = &app.config.accounts.license_policy;
    let policy = license::Policy::parse(policy_text).map_err(AppError::internal_msg)?;
    policy
        .check(policy_text, license)
        .map_err(AppError::Invalid)?;
    license::check_license_file(license, req.files.iter().map(|f| f.path.as_str()))
        .map_err(AppError::Invalid)
}

/// Every file's blob, checked to exist with the declared size and to be one the
/// caller may name by digest (`access::referable_blobs`). A blob that is stored
/// but not the caller's to name gets the same answer as one that is not stored.
async fn stored_layouts(
    app: &App,
    caller: &Caller,
    req: &CommitRequest,
) -> AppResult<HashMap<Sha256, BlobLayout>> {
    let mut digests: Vec<Sha256> = req.files.iter().map(|f| f.sha256).collect();
    digests.sort_unstable();
    digests.dedup();
    let referable: Vec<Sha256> = crate::access::referable_blobs(&app.db, caller, &digests)
        .await?
        .into_iter()
        .collect();
    let stored: HashMap<Sha256, BlobLayout> = blobs::find_many(&app.db, &referable)
        .await?
        .into_iter()
        .map(|l| (l.sha256, l))
        .collect();
    for f in &req.files {
        match stored.get(&f.sha256) {
            None => {
                return Err(AppError::Invalid(format!(
                    "`{}`: blob {} is not stored for you: upload its bytes before committing \
                     (a commit may name a blob by digest only if you uploaded it or may already download it)",
                    f.path, f.sha256
                )));
            }
            Some(l) if l.size != f.size => {
                return Err(AppError::Invalid(format!(
                    "`{}` is declared as {} bytes but its blob {} has {} bytes",
                    f.path, f.size, f.sha256, l.size
                )));
            }
            Some(_) => {}
        }
    }
    Ok(stored)
}

/// A blob read that failed. Not found: garbage collection removed an unreferenced
/// blob since `stored_layouts` (the commit is refused cleanly; nothing was written).
fn store_error(e: object_store::Error) -> AppError {
    match e {
        object_store::Error::NotFound { .. } => AppError::Invalid(
            "a blob of this commit is no longer stored (it was collected as unused while the commit was checked): \
             upload it again, then commit"
                .into(),
        ),
        e => AppError::internal(e),
    }
}

/// Content checks of every file, a few at a time; safetensors summaries by path.
async fn check_contents(
    app: &App,
    req: &CommitRequest,
    layouts: &HashMap<Sha256, BlobLayout>,
) -> AppResult<HashMap<String, granary_core::manifest::SafetensorsSummary>> {
    let items: Vec<(granary_core::RepoPath, BlobLayout)> = req
        .files
        .iter()
        .map(|f| (f.path.clone(), layouts[&f.sha256]))
        .collect();
    futures::stream::iter(items)
        .map(|(path, layout)| {
            let storage = app.storage.clone();
            let max_header = app.config.limits.max_safetensors_header;
            async move {
                match content::check_file(&storage, &path, layout, max_header).await {
                    Ok(summary) => Ok(summary.map(|s| (path.to_string(), s))),
                    Err(content::ContentError::Read(_, e)) => Err(store_error(e)),
                    Err(e @ content::ContentError::HeaderLimit(..)) => {
                        Err(AppError::TooLarge(e.to_string()))
                    }
                    Err(e) => Err(AppError::Invalid(e.to_string())),
                }
            }
        })
        .buffer_unordered(8)
        .try_filter_map(|x| async move { Ok(x) })
        .try_collect()
        .await
}

/// README.md's front matter, if the revision has a README.
async fn read_card(
    app: &App,
    req: &CommitRequest,
    layouts: &HashMap<Sha256, BlobLayout>,
) -> AppResult<serde_json::Value> {
    let Some(readme) = req.files.iter().find(|f| f.path.as_str() == "README.md") else {
        return Ok(serde_json::json!({}));
    };
    let layout = layouts[&readme.sha256];
    let bytes = app
        .storage
        .read_blob_range(layout, 0..layout.size.min(MAX_CARD_BYTES))
        .await
        .map_err(store_error)?;
    let text = String::from_utf8_lossy(&bytes);
    card::front_matter(&text).map_err(AppError::Invalid)
}
