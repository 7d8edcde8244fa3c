//! `fsck`'s checks of the Xet store (`xet/`), beside the blob checks in `fsck.rs`.
//!
//! Problems:
//! - a xorb row whose object is missing or has another size (with `--deep`: whose
//!   chunks do not hash to its name, or not to the chunk hashes recorded for it);
//! - a Xet file whose terms name a xorb that is not stored.
//!
//! Garbage: objects under `xet/xorbs/` that no row describes.
//!
//! `--repair` forgets a damaged xorb (its row and object) and the Xet form of the
//! files built on it: their blobs stay, so they still download, over plain HTTP.

use std::collections::{HashMap, HashSet};

use super::fsck_report::{FsckOptions, FsckReport, Problem};
use crate::app::App;
use crate::db::xet;
use crate::storage::Key;

/// Runs the Xet checks into `report`.
pub async fn check(app: &App, opts: FsckOptions, report: &mut FsckReport) -> anyhow::Result<()> {
    // Rows first, then the listing: a xorb's object is in place before its row commits.
    let rows = xet::all_xorbs(&app.db).await?;
    let objects = super::list(&app.storage, "xet/xorbs").await?;
    let listed: HashMap<String, u64> = objects
        .iter()
        .map(|o| (o.location.to_string(), o.size))
        .collect();
    for (hash, size) in &rows {
        report.xorbs_checked += 1;
        let key = Key::Xorb(hash).path().to_string();
        let damage = match listed.get(&key) {
            None => Some("its object is missing".to_string()),
            Some(&got) if got != *size => Some(format!("its object holds {got} bytes, not {size}")),
            Some(_) if opts.deep => deep_damage(app, hash).await?,
            Some(_) => None,
        };
        let Some(detail) = damage else { continue };
        // Collected meanwhile? Then there is nothing to report.
        if xet::xorb(&app.db, hash).await?.is_none() {
            continue;
        }
        if opts.repair {
            let files = xet::forget_xorb(&app.db, hash).await?;
            app.storage.delete_quietly(&Key::Xorb(hash).path()).await;
            report.repaired.push(format!(
                "xorb {hash}: {detail}; forgotten, with the Xet form of {files} file(s) built on it (their blobs remain)"
            ));
        } else {
            report.problems.push(Problem {
                kind: "xorb",
                subject: hash.clone(),
                detail,
            });
        }
    }
    for (file, xorb) in xet::files_naming_missing_xorbs(&app.db).await? {
        report.problems.push(Problem {
            kind: "xet_file",
            subject: file,
            detail: format!("a term names xorb {xorb}, which is not stored"),
        });
    }
    let known: HashSet<String> = rows
        .iter()
        .map(|(h, _)| Key::Xorb(h).path().to_string())
        .collect();
    for o in objects {
        let key = o.location.to_string();
        if known.contains(&key) {
            continue;
        }
        // Stored since the rows were read?
        let name = key.rsplit('/').next().unwrap_or_default();
        if xet::xorb(&app.db, name).await?.is_some() {
            continue;
        }
        report.garbage(app, opts, &o).await;
    }
    Ok(())
}

/// What is wrong with a xorb's bytes: chunks that do not parse, or hash to
/// another xorb or other chunk hashes than those recorded.
async fn deep_damage(app: &App, hash: &str) -> anyhow::Result<Option<String>> {
    let Some(row) = xet::xorb(&app.db, hash).await? else {
        return Ok(None);
    };
    let raw = crate::xet::xorbs::read(app, hash, 0..row.size)
        .await
        .map_err(|e| anyhow::anyhow!("reading xorb {hash}: {e}"))?;
    let parsed = match tokio::task::spawn_blocking(move || crate::xet::xorbs::parse(&raw)).await? {
        Ok(p) => p,
        Err(e) => return Ok(Some(format!("its chunks do not parse: {e}"))),
    };
    if parsed.hash.hex() != hash {
        return Ok(Some(format!("its chunks hash to {}", parsed.hash.hex())));
    }
    let recorded = xet::chunk_hashes(&app.db, hash).await?.unwrap_or_default();
    if !recorded.is_empty() && recorded != parsed.chunk_hashes {
        return Ok(Some(
            "its chunks do not hash to the recorded chunk hashes".into(),
        ));
    }
    Ok(None)
}
