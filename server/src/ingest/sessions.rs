//! Resumable upload sessions (the native API): open a session for a blob,
//! send its parts in any order, in parallel, over any replica, then complete.
//!
//! A received part is immutable. Each attempt at sending part n streams into
//! its own object (`uploads/<session>/<n>.<attempt>`), and the database records
//! the first attempt that finished as *the* part n; a replayed part is refused
//! before its body is read, and an attempt that loses a race deletes its own
//! object. So the bytes completion hashes (or hashed while they streamed) are
//! exactly the bytes it moves into place.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use futures::StreamExt;
use granary_core::{Sha256, Sha256Hasher};
use object_store::path::Path;

use crate::app::{App, Stats};
use crate::auth::Caller;
use crate::db::{blobs, uploads};
use crate::error::{AppError, AppResult};
use crate::storage::{BlobLayout, Key, PutError};

/// What opening an upload found.
pub enum Opened {
    /// The caller may already name this blob by digest: nothing to send.
    Stored(BlobLayout),
    /// The caller's session for the blob (new, or the one in progress).
    Session(uploads::SessionRow),
}

/// Opens (or finds) the caller's upload of a blob. A blob the caller may not
/// name by digest gets a session even when the registry stores it: the caller
/// must send the bytes, so the answer says nothing about what is stored.
pub async fn open(app: &App, caller: &Caller, sha256: Sha256, size: u64) -> AppResult<Opened> {
    let user = caller.require_writer()?;
    if size > app.config.max_file_size {
        return Err(AppError::TooLarge(format!(
            "the blob is {size} bytes; this registry accepts files up to {} bytes (max_file_size)",
            app.config.max_file_size
        )));
    }
    if crate::access::referable_blobs(&app.db, caller, &[sha256])
        .await?
        .contains(&sha256)
        && let Some(layout) = blobs::find(&app.db, &sha256).await?
    {
        if layout.size == size {
            return Ok(Opened::Stored(layout));
        }
        return Err(AppError::Invalid(format!(
            "blob {sha256} is stored with {} bytes, not {size}",
            layout.size
        )));
    }
    if let Some(session) = uploads::find_for(&app.db, &user.id, &sha256).await? {
        return Ok(Opened::Session(session));
    }
    crate::quota::reserve_upload(app, user, size).await?;
    let part_size = app.config.upload_part_size.max(1);
    let part_count = BlobLayout::part_count(size, part_size);
    let now = granary_core::time::now_ms();
    let session =
        uploads::find_or_create(&app.db, &user.id, &sha256, size, part_size, part_count, now)
            .await?;
    Ok(Opened::Session(session))
}

/// The session `id` if it belongs to the caller; anything else is "no such upload".
pub async fn own(app: &App, caller: &Caller, id: &str) -> AppResult<uploads::SessionRow> {
    let user = caller.require_writer()?;
    match uploads::find(&app.db, id).await? {
        Some(s) if s.user_id == user.id => Ok(s),
        _ => Err(AppError::NotFound(format!(
            "upload {id} does not exist (it may have completed or expired): start it again with POST /api/v1/uploads"
        ))),
    }
}

/// The storage layout a session's blob will have.
pub fn layout(s: &uploads::SessionRow) -> AppResult<BlobLayout> {
    Ok(BlobLayout {
        sha256: s.sha256.parse().map_err(AppError::internal)?,
        size: s.size as u64,
        part_size: s.part_size as u64,
        part_count: s.part_count as u64,
    })
}

fn already_received(id: &str, n: u64) -> AppError {
    AppError::PartReceived(format!(
        "part {n} of upload {id} was already received, and a received part is never replaced: \
         send only the parts the upload lacks (GET /api/v1/uploads/{id}), or abandon it (DELETE) to start over"
    ))
}

/// Streams part `n` of a session into its own object and records it, unless
/// the part was received already.
pub async fn receive_part(
    app: &Arc<App>,
    session: &uploads::SessionRow,
    n: u64,
    body: Body,
) -> AppResult<()> {
    let layout = layout(session)?;
    let id = session.id.as_str();
    if n >= layout.part_count {
        return Err(AppError::Invalid(format!(
            "part {n} does not exist: this upload has parts 0 to {}",
            layout.part_count - 1
        )));
    }
    if uploads::has_part(&app.db, id, n).await? {
        return Err(already_received(id, n));
    }
    let range = layout.part_range(n);
    let expected = range.end - range.start;
    let attempt = crate::db::new_id();
    let key = Key::UploadAttempt(id, n, &attempt).path();
    let running = Arc::new(Mutex::new(app.upload_digests.resume(id, n)));
    let (hashing, stats) = (running.clone(), app.clone());
    let stream = body
        .into_data_stream()
        .inspect(move |chunk| {
            if let Ok(c) = chunk {
                Stats::add(&stats.stats.blob_bytes_received, c.len() as u64);
                if let Some(h) = hashing.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                    h.update(c);
                }
            }
        })
        .boxed();
    app.storage
        .put_stream_exact(&key, expected, stream)
        .await
        .map_err(|e| match e {
            PutError::Store(e) => AppError::internal(e),
            other => AppError::Invalid(format!(
                "part {n} of upload {id}: {other}; send the part again"
            )),
        })?;
    match uploads::record_part(
        &app.db,
        id,
        n,
        expected,
        &attempt,
        granary_core::time::now_ms(),
    )
    .await
    {
        Ok(true) => {}
        Ok(false) => {
            // Another attempt at the same part finished first: its bytes are the part.
            app.storage.delete_quietly(&key).await;
            return Err(already_received(id, n));
        }
        Err(e) => {
            // The session was completed or abandoned while this part streamed in (or the
            // database failed): the part is not recorded, so leave no staged bytes behind.
            app.storage.delete_quietly(&key).await;
            return Err(e.into());
        }
    }
    if let Some(h) = running.lock().unwrap_or_else(|e| e.into_inner()).take() {
        app.upload_digests.advance(id, n, h);
    }
    Ok(())
}

/// Checks the recorded parts against the declared size and SHA-256 and, on a
/// match, moves them into place as the blob; on a mismatch deletes them.
/// Either way the session ends. Answers the live blob.
pub async fn complete(app: &App, session: &uploads::SessionRow) -> AppResult<BlobLayout> {
    let layout = layout(session)?;
    let id = session.id.as_str();
    let parts = uploads::parts(&app.db, id).await?;
    let missing: Vec<u64> = (0..layout.part_count)
        .filter(|n| !parts.iter().any(|p| p.part_number as u64 == *n))
        .collect();
    if !missing.is_empty() {
        return Err(AppError::Conflict(format!(
            "upload {id} still lacks parts {missing:?}: send them, then complete"
        )));
    }
    let staged: Vec<Path> = parts
        .iter()
        .map(|p| match &p.attempt {
            Some(a) => Key::UploadAttempt(id, p.part_number as u64, a).path(),
            None => Key::UploadPart(id, p.part_number as u64).path(),
        })
        .collect();
    let hasher = match app.upload_digests.take_complete(id, layout.part_count) {
        Some(h) => h,
        None => rehash(app, &staged, &layout).await?,
    };
    let (size, digest) = (hasher.len(), hasher.finish());
    if size != layout.size || digest != layout.sha256 {
        abandon(app, id).await?;
        return Err(AppError::DigestMismatch(format!(
            "the uploaded bytes have SHA-256 {digest} and size {size}, but {} and {} were declared; \
             nothing was stored: upload the blob again",
            layout.sha256, layout.size
        )));
    }
    let live = super::place(app, &staged, &layout).await?;
    super::received_from(app, &session.user_id, &live).await?;
    abandon(app, id).await?;
    tracing::info!(blob = %layout.sha256, bytes = layout.size, parts = layout.part_count, "blob stored");
    Ok(live)
}

/// Reads the staged parts in order and hashes them.
async fn rehash(app: &App, staged: &[Path], layout: &BlobLayout) -> AppResult<Sha256Hasher> {
    let mut hasher = Sha256Hasher::new();
    for (n, key) in staged.iter().enumerate() {
        let range = layout.part_range(n as u64);
        let mut part = app
            .storage
            .get_range_stream(key, 0..range.end - range.start)
            .await?;
        while let Some(chunk) = part.next().await {
            hasher.update(&chunk?);
        }
    }
    Ok(hasher)
}

/// Ends a session: forgets it and deletes whatever it staged.
pub async fn abandon(app: &App, id: &str) -> AppResult<()> {
    app.upload_digests.forget(id);
    uploads::delete(&app.db, id).await?;
    app.storage
        .delete_prefix(&Key::UploadDir(id).path())
        .await?;
    Ok(())
}
