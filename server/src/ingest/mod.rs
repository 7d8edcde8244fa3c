//! Every way bytes become a blob: resumable upload sessions (`sessions.rs`, the
//! native API) and bytes that arrive in one stream (inline files of a Hub
//! commit, Git LFS objects). Either way the bytes that are stored are the
//! bytes that were hashed: they are staged, checked against the declared size
//! and SHA-256, and only then moved to their `blobs/` keys and made visible.
//! Whoever sent them is recorded as an uploader of the blob (`blob_uploaders`),
//! which is what lets a later commit of theirs name it by digest.

pub mod digests;
pub mod sessions;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use granary_core::{Sha256, Sha256Hasher};
use object_store::path::Path;

use crate::app::App;
use crate::db::{blob_uploaders, blobs};
use crate::error::{AppError, AppResult};
use crate::storage::{BlobLayout, Key, ObjectWriter};

/// Streams `body` into the store as a blob sent by `uploader` (a user id);
/// returns its live layout. With `expected`, a different digest or size is
/// refused and nothing is kept.
pub async fn store_stream<S, E>(
    app: &App,
    uploader: &str,
    body: S,
    expected: Option<(Sha256, u64)>,
) -> AppResult<BlobLayout>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let staging = crate::db::new_id();
    let result = stage(app, &staging, body, expected.map(|(_, size)| size)).await;
    let outcome = match result {
        Ok((hasher, part_size, parts)) => {
            let size = hasher.len();
            let layout = BlobLayout {
                sha256: hasher.finish(),
                size,
                part_size,
                part_count: parts,
            };
            finish(app, uploader, &staging, layout, expected).await
        }
        Err(e) => Err(e),
    };
    app.storage
        .delete_prefix(&Key::UploadDir(&staging).path())
        .await?;
    outcome
}

/// Writes the stream as parts of `upload_part_size` under a staging prefix.
async fn stage<S, E>(
    app: &App,
    staging: &str,
    mut body: S,
    limit: Option<u64>,
) -> AppResult<(Sha256Hasher, u64, u64)>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let part_size = app.config.upload_part_size.max(1);
    let max = limit.unwrap_or(app.config.max_file_size);
    let mut hasher = Sha256Hasher::new();
    let mut writer: Option<ObjectWriter> = None;
    let mut parts = 0u64;
    let outcome = async {
        loop {
            let chunk = match body.next().await {
                Some(Ok(c)) => Some(c),
                Some(Err(e)) => {
                    return Err(AppError::Invalid(format!("reading the body failed: {e}")));
                }
                None => None,
            };
            let Some(mut c) = chunk else { break };
            if hasher.len() + c.len() as u64 > max {
                return Err(AppError::TooLarge(format!(
                    "the file is larger than the {max} bytes allowed"
                )));
            }
            hasher.update(&c);
            while !c.is_empty() {
                let part = match &mut writer {
                    Some(w) => w,
                    None => writer.insert(
                        app.storage
                            .writer(&Key::UploadPart(staging, parts).path())
                            .await?,
                    ),
                };
                let take = (part_size - part.written()).min(c.len() as u64) as usize;
                part.write(c.split_to(take)).await?;
                if part.written() == part_size {
                    if let Some(full) = writer.take() {
                        full.finish().await?;
                    }
                    parts += 1;
                }
            }
        }
        match writer.take() {
            Some(last) => last.finish().await?,
            // An empty blob is one empty part.
            None if parts == 0 => {
                let key = Key::UploadPart(staging, 0).path();
                app.storage.put(&key, Bytes::new()).await?;
            }
            None => return Ok(parts),
        }
        Ok(parts + 1)
    }
    .await;
    match outcome {
        Ok(parts) => Ok((hasher, part_size, parts)),
        Err(e) => {
            if let Some(w) = writer.take() {
                w.abort().await;
            }
            Err(e)
        }
    }
}

async fn finish(
    app: &App,
    uploader: &str,
    staging: &str,
    layout: BlobLayout,
    expected: Option<(Sha256, u64)>,
) -> AppResult<BlobLayout> {
    if let Some((sha, size)) = expected
        && (sha != layout.sha256 || size != layout.size)
    {
        return Err(AppError::DigestMismatch(format!(
            "the bytes have SHA-256 {} and size {}, but {sha} and {size} were declared; nothing was stored",
            layout.sha256, layout.size
        )));
    }
    let staged: Vec<Path> = (0..layout.part_count)
        .map(|n| Key::UploadPart(staging, n).path())
        .collect();
    let live = match blobs::find(&app.db, &layout.sha256).await? {
        Some(live) => live,
        None => place(app, &staged, &layout).await?,
    };
    received_from(app, uploader, &live).await?;
    Ok(live)
}

/// Records that `uploader` sent the bytes of a blob now stored.
pub async fn received_from(app: &App, uploader: &str, live: &BlobLayout) -> AppResult<()> {
    blob_uploaders::record(
        &app.db,
        &live.sha256,
        uploader,
        granary_core::time::now_ms(),
    )
    .await?;
    Ok(())
}

/// Moves a checked blob's staged parts (`staged[n]` is part n) to their `blobs/` keys and
/// makes it visible, in one transaction that holds the blob's row from before the first move
/// to after the last: garbage collection of the same digest either finishes before (and the
/// parts land afterwards) or waits until the row is live. Answers the live layout: ours, or
/// that of an identical blob stored first, whose objects are then left as they are (the
/// caller deletes the staged parts).
pub async fn place(app: &App, staged: &[Path], layout: &BlobLayout) -> AppResult<BlobLayout> {
    if staged.len() as u64 != layout.part_count {
        return Err(AppError::internal_msg(format!(
            "blob {} has {} parts but {} were staged",
            layout.sha256,
            layout.part_count,
            staged.len()
        )));
    }
    for _ in 0..5 {
        let (mut tx, _guard) = app.db.begin_write().await?;
        if blobs::insert_in(&mut tx, layout, granary_core::time::now_ms()).await? {
            for (n, from) in staged.iter().enumerate() {
                app.storage
                    .rename(from, &Key::BlobPart(layout, n as u64).path())
                    .await?;
            }
            tx.commit().await?;
            return Ok(*layout);
        }
        if let Some(live) = blobs::find_many_locked(&app.db, &mut tx, &[layout.sha256])
            .await?
            .pop()
        {
            tx.commit().await?;
            return Ok(live);
        }
        // The row existed, then was collected before we could lock it: insert ours.
    }
    Err(AppError::Conflict(format!(
        "blob {} is being stored and collected at the same time: complete the upload again",
        layout.sha256
    )))
}
