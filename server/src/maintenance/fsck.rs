//! `granary-server fsck`: checks the database against the object store.
//!
//! Problems (the exit status is non-zero while any remains):
//! - a blob row whose objects are missing or have the wrong size (with `--deep`:
//!   whose bytes do not hash to its digest);
//! - a revision file naming a blob that is not stored (or stored with another size);
//! - a ref naming a revision its model does not have;
//! - a revision whose manifest bytes do not hash to its id;
//! - the Xet store's xorbs and files (`fsck_xet.rs`);
//! - a revision without a signature or log entry, or a log with gaps (`fsck_signing.rs`).
//!
//! Garbage (reported, not a problem): objects under `blobs/` that no row
//! describes, and staged objects under `uploads/` that no session owns.
//!
//! `--repair` deletes the row (and what is left of the objects) of a blob whose
//! bytes are damaged, so that the next push of that file uploads it again; until
//! then the revisions naming it are still reported. It also deletes garbage older
//! than the grace period.

use std::collections::{HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};
use granary_core::{Sha256, Sha256Hasher};

pub use super::fsck_report::{FsckOptions, FsckReport, Problem};
use crate::app::App;
use crate::db::{blobs, maintenance as q};
use crate::storage::{BlobLayout, Key};

/// Runs every check.
pub async fn check(app: &App, opts: FsckOptions) -> anyhow::Result<FsckReport> {
    let mut report = FsckReport::default();
    // Rows first, then the listing: a row's objects are in place before it commits.
    let rows = q::all_blobs(&app.db).await?;
    let objects = super::list(&app.storage, "blobs").await?;
    let listed: HashMap<String, u64> = objects
        .iter()
        .map(|o| (o.location.to_string(), o.size))
        .collect();
    check_blobs(app, opts, &rows, &listed, &mut report).await?;
    check_files(app, &mut report).await?;
    check_refs(app, &mut report).await?;
    check_manifests(app, &mut report).await?;
    check_garbage(app, opts, &rows, objects, &mut report).await?;
    super::fsck_xet::check(app, opts, &mut report).await?;
    super::fsck_signing::check(app, opts, &mut report).await?;
    Ok(report)
}

/// Every blob row's objects exist with the sizes its layout gives them.
async fn check_blobs(
    app: &App,
    opts: FsckOptions,
    rows: &[BlobLayout],
    listed: &HashMap<String, u64>,
    report: &mut FsckReport,
) -> anyhow::Result<()> {
    let checks = futures::stream::iter(rows.iter().copied())
        .map(|layout| async move {
            let damage = match blob_damage(app, &layout, listed).await? {
                Some(d) => Some(d),
                None if opts.deep => deep_damage(app, &layout).await?,
                None => None,
            };
            anyhow::Ok((layout, damage))
        })
        .buffer_unordered(8);
    let found: Vec<(BlobLayout, Option<String>)> = checks.try_collect().await?;
    for (layout, damage) in found {
        report.blobs_checked += 1;
        let Some(detail) = damage else { continue };
        // Collected (or re-stored) meanwhile? Then there is nothing to report.
        if blobs::find(&app.db, &layout.sha256).await? != Some(layout) {
            continue;
        }
        if opts.repair {
            q::forget_blob(&app.db, &layout.sha256).await?;
            for n in 0..layout.part_count {
                app.storage
                    .delete_quietly(&Key::BlobPart(&layout, n).path())
                    .await;
            }
            let refs = q::blob_references(&app.db, &layout.sha256).await?;
            report.repaired.push(format!(
                "blob {}: {detail}; its row was deleted so that it can be uploaded again{}",
                layout.sha256,
                if refs > 0 {
                    format!(" ({refs} revision files name it: push them again)")
                } else {
                    String::new()
                }
            ));
        } else {
            report.problems.push(Problem {
                kind: "blob",
                subject: layout.sha256.to_string(),
                detail,
            });
        }
    }
    Ok(())
}

/// What is wrong with a blob's objects, judged from the listing and confirmed with HEAD.
async fn blob_damage(
    app: &App,
    layout: &BlobLayout,
    listed: &HashMap<String, u64>,
) -> anyhow::Result<Option<String>> {
    for n in 0..layout.part_count {
        let key = Key::BlobPart(layout, n).path();
        let range = layout.part_range(n);
        let want = range.end - range.start;
        if listed.get(key.as_ref()) == Some(&want) {
            continue;
        }
        match app.storage.inner().head(&key).await {
            Ok(meta) if meta.size == want => continue,
            Ok(meta) => {
                return Ok(Some(format!(
                    "object {key} has {} bytes, not {want}",
                    meta.size
                )));
            }
            Err(object_store::Error::NotFound { .. }) => {
                return Ok(Some(format!("object {key} is missing")));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// Whether a blob's bytes hash to its digest.
async fn deep_damage(app: &App, layout: &BlobLayout) -> anyhow::Result<Option<String>> {
    let mut hasher = Sha256Hasher::new();
    let mut stream = app.storage.blob_range_stream(*layout, 0..layout.size);
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => hasher.update(&c),
            Err(object_store::Error::NotFound { path, .. }) => {
                return Ok(Some(format!("object {path} is missing")));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let (size, digest) = (hasher.len(), hasher.finish());
    Ok((size != layout.size || digest != layout.sha256).then(|| {
        format!(
            "its bytes have SHA-256 {digest} and size {size}, not {} and {}",
            layout.sha256, layout.size
        )
    }))
}

/// Every revision file names a stored blob of its size.
async fn check_files(app: &App, report: &mut FsckReport) -> anyhow::Result<()> {
    for f in q::dangling_files(&app.db).await? {
        let detail = match f.blob_size {
            None => format!("blob {} is not stored: push the file again", f.sha256),
            Some(s) => format!(
                "blob {} has {s} bytes, but the file has {}",
                f.sha256, f.size
            ),
        };
        report.problems.push(Problem {
            kind: "file",
            subject: format!(
                "{}/{}@{}:{}",
                f.owner,
                f.name,
                &f.revision_id[..12.min(f.revision_id.len())],
                f.path
            ),
            detail,
        });
    }
    Ok(())
}

/// Every ref names a revision of its model.
async fn check_refs(app: &App, report: &mut FsckReport) -> anyhow::Result<()> {
    for r in q::dangling_refs(&app.db).await? {
        report.problems.push(Problem {
            kind: "ref",
            subject: format!("{}/{}:{}", r.owner, r.name, r.ref_name),
            detail: format!(
                "{} `{}` names revision {}, which the model does not have",
                r.kind, r.ref_name, r.revision_id
            ),
        });
    }
    Ok(())
}

/// Every revision's manifest bytes hash to its id.
async fn check_manifests(app: &App, report: &mut FsckReport) -> anyhow::Result<()> {
    let mut after: Option<(String, String)> = None;
    loop {
        let page = q::revision_manifests(
            &app.db,
            after.as_ref().map(|(m, i)| (m.as_str(), i.as_str())),
            500,
        )
        .await?;
        let Some((model, last)) = page.last() else {
            break;
        };
        after = Some((model.clone(), last.id.clone()));
        for (_, r) in &page {
            report.revisions_checked += 1;
            let actual = Sha256::of(r.manifest.as_bytes()).hex();
            if actual != r.id {
                report.problems.push(Problem {
                    kind: "manifest",
                    subject: format!("{}/{}@{}", r.owner, r.name, r.id),
                    detail: format!("the manifest bytes hash to {actual}, not to the revision id"),
                });
            }
        }
    }
    Ok(())
}

/// Objects no row or session accounts for; with `repair`, deleted once older than the grace.
async fn check_garbage(
    app: &App,
    opts: FsckOptions,
    rows: &[BlobLayout],
    objects: Vec<object_store::ObjectMeta>,
    report: &mut FsckReport,
) -> anyhow::Result<()> {
    let expected: HashSet<String> = rows
        .iter()
        .flat_map(|l| (0..l.part_count).map(move |n| Key::BlobPart(l, n).path().to_string()))
        .collect();
    let mut garbage = Vec::new();
    for o in objects {
        let key = o.location.to_string();
        if expected.contains(&key) {
            continue;
        }
        // A blob stored since the rows were read is not garbage.
        if let Some(sha) = blob_of_key(&key)
            && let Some(live) = blobs::find(&app.db, &sha).await?
            && (0..live.part_count).any(|n| Key::BlobPart(&live, n).path().as_ref() == key)
        {
            continue;
        }
        garbage.push(o);
    }
    let mut sessions: HashMap<String, bool> = HashMap::new();
    for o in super::list(&app.storage, "uploads").await? {
        let Some(id) = super::staging_id(&o.location) else {
            continue;
        };
        if !sessions.contains_key(&id) {
            sessions.insert(id.clone(), q::session_exists(&app.db, &id).await?);
        }
        if !sessions[&id] {
            garbage.push(o);
        }
    }
    for o in garbage {
        report.garbage(app, opts, &o).await;
    }
    Ok(())
}

/// The digest a `blobs/sha256/ab/<hex>[.parts/…]` key belongs to.
fn blob_of_key(key: &str) -> Option<Sha256> {
    let rest = key.strip_prefix("blobs/sha256/")?;
    let (_, name) = rest.split_once('/')?;
    let hex = name.split('.').next()?;
    hex.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::blob_of_key;

    #[test]
    fn blob_keys() {
        let hex = "ab".repeat(32);
        assert_eq!(
            blob_of_key(&format!("blobs/sha256/ab/{hex}"))
                .unwrap()
                .hex(),
            hex
        );
        assert_eq!(
            blob_of_key(&format!("blobs/sha256/ab/{hex}.parts/1024/3"))
                .unwrap()
                .hex(),
            hex
        );
        assert!(blob_of_key("uploads/x/0").is_none());
    }
}
