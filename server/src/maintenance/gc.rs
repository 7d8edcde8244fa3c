//! Garbage collection: upload sessions nobody continued, staged bytes nobody
//! owns, blobs no revision references, and Xet xorbs no file names, each once
//! older than a grace period.
//!
//! Safe while pushes run, on any number of replicas at once:
//! - A blob is a candidate only if its row is older than the grace period, so a
//!   blob uploaded for a commit still being prepared is left alone (a push has
//!   `grace` to commit what it uploaded).
//! - Each candidate is deleted in its own transaction that locks the row, checks
//!   again with a fresh view that no revision file names it, deletes the row, then
//!   deletes the objects, then commits. A commit naming the blob share-locks the
//!   row (`publish::land`), so either it commits first and the check sees its
//!   reference, or it waits and then finds the blob gone and fails cleanly ("upload
//!   it again"). An upload of the same bytes inserts the row before moving its parts
//!   into place (`ingest::place`), so it waits for the deletion to commit and places
//!   its objects afterwards, never before objects about to be deleted.
//! - Upload sessions are deleted only if still untouched since the cutoff, under a
//!   row lock; staged objects only if no session owns them and they are older than
//!   the cutoff.
//!
//! Abandoned S3 multipart uploads: object_store aborts its multipart upload when a
//! part's body fails, but a process killed mid-write leaves an incomplete multipart
//! upload that object_store cannot list. Give the bucket a lifecycle rule
//! (`AbortIncompleteMultipartUpload`, e.g. after 1 day): docs/DEPLOY.md.

use std::collections::HashMap;

use serde::Serialize;

use crate::app::App;
use crate::db::maintenance as q;
use crate::storage::Key;

/// What to collect.
#[derive(Debug, Clone, Copy)]
pub struct GcOptions {
    /// Only what is older than this many milliseconds is collected.
    pub grace_ms: i64,
    /// Report what would be removed; remove nothing.
    pub dry_run: bool,
}

/// What a collection removed (or, dry, would remove).
#[derive(Debug, Default, Clone, Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    pub grace_minutes: f64,
    pub upload_sessions: u64,
    pub staged_objects: u64,
    pub staged_bytes: u64,
    pub blobs: u64,
    pub blob_objects: u64,
    pub blob_bytes: u64,
    /// Xorbs no Xet file names any more (`xet/`), and their bytes.
    pub xorbs: u64,
    pub xorb_bytes: u64,
    /// Problems that left something in place (it is tried again next time).
    pub errors: Vec<String>,
}

impl GcReport {
    pub fn summary(&self) -> String {
        format!(
            "{}{} upload sessions, {} staged objects ({} bytes), {} blobs ({} objects, {} bytes), {} xorbs ({} bytes){}",
            if self.dry_run {
                "would remove "
            } else {
                "removed "
            },
            self.upload_sessions,
            self.staged_objects,
            self.staged_bytes,
            self.blobs,
            self.blob_objects,
            self.blob_bytes,
            self.xorbs,
            self.xorb_bytes,
            if self.errors.is_empty() {
                String::new()
            } else {
                format!("; {} errors", self.errors.len())
            },
        )
    }
}

/// Runs one collection.
pub async fn collect(app: &App, opts: GcOptions) -> anyhow::Result<GcReport> {
    let cutoff = granary_core::time::now_ms() - opts.grace_ms.max(0);
    let mut report = GcReport {
        dry_run: opts.dry_run,
        grace_minutes: opts.grace_ms as f64 / 60_000.0,
        ..Default::default()
    };
    collect_sessions(app, cutoff, opts.dry_run, &mut report).await?;
    collect_staging(app, cutoff, opts.dry_run, &mut report).await?;
    collect_blobs(app, cutoff, opts.dry_run, &mut report).await?;
    collect_xorbs(app, cutoff, opts.dry_run, &mut report).await?;
    tracing::info!(
        dry_run = opts.dry_run,
        sessions = report.upload_sessions,
        staged_objects = report.staged_objects,
        blobs = report.blobs,
        bytes = report.blob_bytes + report.staged_bytes,
        errors = report.errors.len(),
        "garbage collected"
    );
    Ok(report)
}

/// Upload sessions untouched since `cutoff`, with their staged parts.
async fn collect_sessions(
    app: &App,
    cutoff: i64,
    dry: bool,
    report: &mut GcReport,
) -> anyhow::Result<()> {
    for s in q::stale_sessions(&app.db, cutoff).await? {
        let objects = super::list(&app.storage, Key::UploadDir(&s.id).path().as_ref()).await?;
        if !dry {
            match q::delete_stale_session(&app.db, &s.id, cutoff).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    report
                        .errors
                        .push(format!("cannot delete upload session {}: {e}", s.id));
                    continue;
                }
            }
        }
        report.upload_sessions += 1;
        for o in objects {
            if !dry && let Err(e) = delete(app, &o.location).await {
                report.errors.push(e);
                continue;
            }
            report.staged_objects += 1;
            report.staged_bytes += o.size;
        }
        tracing::debug!(upload = %s.id, blob = %s.sha256, size = s.size, "expired upload session");
    }
    Ok(())
}

/// Objects under `uploads/` that no session owns and that are older than `cutoff`:
/// leftovers of interrupted single-stream ingests, Hub LFS multipart uploads never
/// completed, and parts written after their session was collected.
async fn collect_staging(
    app: &App,
    cutoff: i64,
    dry: bool,
    report: &mut GcReport,
) -> anyhow::Result<()> {
    let mut owned: HashMap<String, bool> = HashMap::new();
    for o in super::list(&app.storage, "uploads").await? {
        if super::modified_ms(&o) >= cutoff {
            continue;
        }
        let Some(id) = super::staging_id(&o.location) else {
            continue;
        };
        let has_session = match owned.get(&id) {
            Some(v) => *v,
            None => {
                let v = q::session_exists(&app.db, &id).await?;
                owned.insert(id.clone(), v);
                v
            }
        };
        if has_session {
            continue;
        }
        if !dry && let Err(e) = delete(app, &o.location).await {
            report.errors.push(e);
            continue;
        }
        report.staged_objects += 1;
        report.staged_bytes += o.size;
    }
    Ok(())
}

/// Blobs older than `cutoff` that no revision references: row first, then objects,
/// in one transaction per blob (see the module docs).
async fn collect_blobs(
    app: &App,
    cutoff: i64,
    dry: bool,
    report: &mut GcReport,
) -> anyhow::Result<()> {
    for candidate in q::unreferenced_blobs(&app.db, cutoff).await? {
        if dry {
            report.blobs += 1;
            report.blob_objects += candidate.part_count;
            report.blob_bytes += candidate.size;
            continue;
        }
        let (mut tx, _guard) = app.db.begin_write().await?;
        let layout =
            match q::lock_unreferenced_blob(&app.db, &mut tx, &candidate.sha256, cutoff).await {
                Ok(Some(layout)) => layout,
                Ok(None) => continue,
                Err(e) => {
                    report
                        .errors
                        .push(format!("cannot collect blob {}: {e}", candidate.sha256));
                    continue;
                }
            };
        for n in 0..layout.part_count {
            match delete(app, &Key::BlobPart(&layout, n).path()).await {
                Ok(()) => report.blob_objects += 1,
                // The row goes anyway: the blob is unreferenced, and an object left
                // behind is reported by `fsck` and overwritten by a new upload.
                Err(e) => report.errors.push(e),
            }
        }
        if let Err(e) = tx.commit().await {
            report
                .errors
                .push(format!("cannot collect blob {}: {e}", layout.sha256));
            continue;
        }
        report.blobs += 1;
        report.blob_bytes += layout.size;
        tracing::debug!(blob = %layout.sha256, bytes = layout.size, "collected an unreferenced blob");
    }
    Ok(())
}

/// Xorbs sent before `cutoff` that no Xet file names, once the files whose
/// blobs were collected are forgotten: row, then object, in one transaction
/// per xorb that holds its row (`xet::xorbs` places a xorb under the same lock).
async fn collect_xorbs(
    app: &App,
    cutoff: i64,
    dry: bool,
    report: &mut GcReport,
) -> anyhow::Result<()> {
    if !dry {
        crate::db::xet::forget_files_without_blobs(&app.db).await?;
    }
    for (hash, size) in crate::db::xet::unreferenced_xorbs(&app.db, cutoff).await? {
        if dry {
            report.xorbs += 1;
            report.xorb_bytes += size as u64;
            continue;
        }
        let (mut tx, _guard) = app.db.begin_write().await?;
        match crate::db::xet::delete_unreferenced_xorb(&app.db, &mut tx, &hash, cutoff).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                report
                    .errors
                    .push(format!("cannot collect xorb {hash}: {e}"));
                continue;
            }
        }
        if let Err(e) = delete(app, &Key::Xorb(&hash).path()).await {
            report.errors.push(e);
            continue; // the transaction rolls back: the row stays, tried again next time
        }
        if let Err(e) = tx.commit().await {
            report
                .errors
                .push(format!("cannot collect xorb {hash}: {e}"));
            continue;
        }
        report.xorbs += 1;
        report.xorb_bytes += size as u64;
    }
    Ok(())
}

/// Deletes an object; one already gone counts as deleted.
async fn delete(app: &App, key: &object_store::path::Path) -> Result<(), String> {
    match app.storage.inner().delete(key).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(format!("cannot delete {key}: {e}")),
    }
}

/// Runs [`collect`] every `interval` until the process ends (inside `serve`).
pub async fn run_periodically(
    app: std::sync::Arc<App>,
    interval: std::time::Duration,
    grace_ms: i64,
) {
    loop {
        tokio::time::sleep(interval).await;
        match collect(
            &app,
            GcOptions {
                grace_ms,
                dry_run: false,
            },
        )
        .await
        {
            Ok(r) if !r.errors.is_empty() => {
                tracing::warn!(errors = ?r.errors, "garbage collection left some objects")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "garbage collection failed; trying again next time")
            }
        }
    }
}
