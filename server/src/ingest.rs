//! Storing bytes that arrive in one stream (inline files of a Hub commit,
//! single-request uploads): hashed while they stream, staged in parts, and
//! moved into place only once the digest is known and, if one was
//! declared, matches it.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use granary_core::{Sha256, Sha256Hasher};

use crate::app::App;
use crate::db::blobs;
use crate::error::{AppError, AppResult};
use crate::storage::{BlobLayout, Key};

/// Streams `body` into the store as a blob; returns its live layout.
/// With `expected`, a different digest or size is refused and nothing is kept.
pub async fn store_stream<S, E>(app: &App, body: S, expected: Option<(Sha256, u64)>) -> AppResult<BlobLayout>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let staging = crate::db::new_id();
    let result = stage(app, &staging, body, expected.map(|(_, size)| size)).await;
    let outcome = match result {
        Ok((hasher, part_size, parts)) => {
            let size = hasher.len();
            let layout = BlobLayout { sha256: hasher.finish(), size, part_size, part_count: parts };
            finish(app, &staging, layout, expected).await
        }
        Err(e) => Err(e),
    };
    app.storage.delete_prefix(&Key::UploadDir(&staging).path()).await?;
    outcome
}

/// Writes the stream as parts of `upload_part_size` under a staging prefix.
async fn stage<S, E>(app: &App, staging: &str, mut body: S, limit: Option<u64>) -> AppResult<(Sha256Hasher, u64, u64)>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let part_size = app.config.upload_part_size.max(1);
    let max = limit.unwrap_or(app.config.max_file_size);
    let mut hasher = Sha256Hasher::new();
    let mut part: Vec<u8> = Vec::new();
    let mut parts = 0u64;
    let store = app.storage.inner();
    loop {
        let chunk = match body.next().await {
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => return Err(AppError::Invalid(format!("reading the body failed: {e}"))),
            None => None,
        };
        let done = chunk.is_none();
        if let Some(mut c) = chunk {
            if hasher.len() + c.len() as u64 > max {
                return Err(AppError::TooLarge(format!("the file is larger than the {max} bytes allowed")));
            }
            hasher.update(&c);
            while !c.is_empty() {
                let take = (part_size as usize - part.len()).min(c.len());
                part.extend_from_slice(&c.split_to(take));
                if part.len() as u64 == part_size {
                    let key = Key::UploadPart(staging, parts).path();
                    store.put(&key, std::mem::take(&mut part).into()).await?;
                    parts += 1;
                }
            }
        }
        if done {
            if !part.is_empty() || parts == 0 {
                store.put(&Key::UploadPart(staging, parts).path(), std::mem::take(&mut part).into()).await?;
                parts += 1;
            }
            return Ok((hasher, part_size, parts));
        }
    }
}

async fn finish(app: &App, staging: &str, layout: BlobLayout, expected: Option<(Sha256, u64)>) -> AppResult<BlobLayout> {
    if let Some((sha, size)) = expected {
        if sha != layout.sha256 || size != layout.size {
            return Err(AppError::DigestMismatch(format!(
                "the bytes have SHA-256 {} and size {}, but {sha} and {size} were declared; nothing was stored",
                layout.sha256, layout.size
            )));
        }
    }
    if let Some(live) = blobs::find(&app.db, &layout.sha256).await? {
        return Ok(live);
    }
    place(app, staging, &layout).await
}

/// Moves a checked blob's staged parts (`uploads/<staging>/<n>`) to their `blobs/` keys and
/// makes it visible, in one transaction that holds the blob's row from before the first move
/// to after the last: garbage collection of the same digest either finishes before (and the
/// parts land afterwards) or waits until the row is live. Answers the live layout: ours, or
/// that of an identical blob stored first, whose objects are then left as they are (the
/// caller deletes the staged parts).
pub async fn place(app: &App, staging: &str, layout: &BlobLayout) -> AppResult<BlobLayout> {
    for _ in 0..5 {
        let (mut tx, _guard) = app.db.begin_write().await?;
        if blobs::insert_in(&mut tx, layout, granary_core::time::now_ms()).await? {
            for n in 0..layout.part_count {
                app.storage
                    .rename(&Key::UploadPart(staging, n).path(), &Key::BlobPart(layout, n).path())
                    .await?;
            }
            tx.commit().await?;
            return Ok(*layout);
        }
        if let Some(live) = blobs::find_many_locked(&app.db, &mut tx, &[layout.sha256]).await?.pop() {
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
