//! Blob uploads: ask what is missing, send parts (resumable, in any order,
//! in parallel), complete. A blob becomes visible only once its size and
//! SHA-256 match what the client declared.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use futures::StreamExt;
use granary_core::api::{CreateUploadRequest, MissingBlobsRequest, MissingBlobsResponse, UploadStatus};
use granary_core::{Sha256, Sha256Hasher};

use crate::app::{AppState, Stats};
use crate::auth::Caller;
use crate::db::{blobs, uploads};
use crate::error::{AppError, AppResult, Json, Path};
use crate::storage::{BlobLayout, Key, PutError};

/// SHA-256 state of uploads whose parts have so far arrived in order: part n
/// streaming in while parts 0..n are hashed is hashed as it streams, so
/// `complete` needs no second pass over the bytes. Process-local; a session
/// continued on another replica, or parts sent out of order, fall back to
/// re-reading the parts at `complete`.
#[derive(Debug, Default)]
pub struct RunningDigests(Mutex<HashMap<String, (u64, Sha256Hasher)>>);

impl RunningDigests {
    /// A copy of the state, if `n` is the next part in order.
    fn resume(&self, id: &str, n: u64) -> Option<Sha256Hasher> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(id) {
            Some((next, h)) if *next == n => Some(h.clone()),
            None if n == 0 => Some(Sha256Hasher::new()),
            _ => None,
        }
    }

    /// Stores the state after part `n` was wholly received.
    fn advance(&self, id: &str, n: u64, hasher: Sha256Hasher) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let expected = map.get(id).map_or(0, |(next, _)| *next);
        if expected == n {
            map.insert(id.to_string(), (n + 1, hasher));
        }
    }

    /// The finished state, if every one of `parts` parts was hashed in order.
    fn take_complete(&self, id: &str, parts: u64) -> Option<Sha256Hasher> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.remove(id) {
            Some((next, h)) if next == parts => Some(h),
            _ => None,
        }
    }

    fn forget(&self, id: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}

/// The most blobs one `missing` request may ask about.
const MAX_MISSING_QUERY: usize = 10_000;

/// `POST /api/v1/blobs/missing`.
pub async fn missing_blobs(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<MissingBlobsRequest>,
) -> AppResult<Json<MissingBlobsResponse>> {
    caller.require_writer()?;
    if req.blobs.len() > MAX_MISSING_QUERY {
        return Err(AppError::TooLarge(format!(
            "ask about at most {MAX_MISSING_QUERY} blobs at once"
        )));
    }
    let digests: Vec<Sha256> = req.blobs.iter().map(|b| b.sha256).collect();
    let stored = blobs::find_many(&state.db, &digests).await?;
    let missing = req
        .blobs
        .into_iter()
        .filter(|b| !stored.iter().any(|s| s.sha256 == b.sha256 && s.size == b.size))
        .collect();
    Ok(Json(MissingBlobsResponse { missing }))
}

/// `POST /api/v1/uploads`: starts the upload of a blob, or finds the one in progress.
pub async fn create_upload(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateUploadRequest>,
) -> AppResult<Json<UploadStatus>> {
    let user = caller.require_writer()?;
    if req.size > state.config.max_file_size {
        return Err(AppError::TooLarge(format!(
            "the blob is {} bytes; this registry accepts files up to {} bytes (max_file_size)",
            req.size, state.config.max_file_size
        )));
    }
    if let Some(layout) = blobs::find(&state.db, &req.sha256).await? {
        if layout.size != req.size {
            return Err(AppError::Invalid(format!(
                "blob {} is stored with {} bytes, not {}",
                req.sha256, layout.size, req.size
            )));
        }
        return Ok(Json(stored_status(&layout)));
    }
    let part_size = state.config.upload_part_size.max(1);
    let part_count = BlobLayout::part_count(req.size, part_size);
    let now = granary_core::time::now_ms();
    let session =
        uploads::find_or_create(&state.db, &user.id, &req.sha256, req.size, part_size, part_count, now)
            .await?;
    Ok(Json(session_status(&state, &session).await?))
}

/// `GET /api/v1/uploads/{id}`.
pub async fn get_upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<UploadStatus>> {
    let session = own_session(&state, &caller, &id).await?;
    Ok(Json(session_status(&state, &session).await?))
}

/// `PUT /api/v1/uploads/{id}/parts/{n}`: streams one part to the store.
pub async fn put_part(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, n)): Path<(String, u64)>,
    body: Body,
) -> AppResult<Json<UploadStatus>> {
    let session = own_session(&state, &caller, &id).await?;
    let layout = session_layout(&session)?;
    match receive_part(&state, &session, layout, &id, n, body).await {
        Err(e) => settle_race(&state, &id, &layout, e).await,
        ok => ok,
    }
}

/// After an internal error: if a concurrent request of the same session completed or
/// abandoned it meanwhile (its parts moved or deleted), answer that, not a 500.
async fn settle_race(state: &AppState, id: &str, layout: &BlobLayout, e: AppError) -> AppResult<Json<UploadStatus>> {
    if !matches!(e, AppError::Internal(_)) {
        return Err(e);
    }
    // A concurrent completion of the same session moved the staged parts away and
    // is about to commit the blob: wait for it a little rather than answer a 5xx.
    for _ in 0..60 {
        if let Some(live) = blobs::find(&state.db, &layout.sha256).await? {
            return Ok(Json(stored_status(&live)));
        }
        if uploads::find(&state.db, id).await?.is_none() {
            return Err(AppError::NotFound(format!(
                "upload {id} was completed or abandoned by another request meanwhile: start it again with POST /api/v1/uploads"
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tracing::warn!(upload = %id, error = ?e, "completing an upload failed while another request raced it");
    Err(AppError::Conflict(format!(
        "upload {id} is being completed by another request: ask again with POST /api/v1/uploads"
    )))
}

async fn receive_part(
    state: &AppState,
    session: &uploads::SessionRow,
    layout: BlobLayout,
    id: &str,
    n: u64,
    body: Body,
) -> AppResult<Json<UploadStatus>> {
    if n >= layout.part_count {
        return Err(AppError::Invalid(format!(
            "part {n} does not exist: this upload has parts 0 to {}",
            layout.part_count - 1
        )));
    }
    let range = layout.part_range(n);
    let expected = range.end - range.start;
    let stats = state.0.clone();
    let running = Arc::new(Mutex::new(state.upload_digests.resume(id, n)));
    let hashing = running.clone();
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
    state
        .storage
        .put_stream_exact(&Key::UploadPart(id, n).path(), expected, stream)
        .await
        .map_err(|e| match e {
            PutError::Store(e) => AppError::internal(e),
            other => AppError::Invalid(format!("part {n} of upload {id}: {other}; send the part again")),
        })?;
    if let Err(e) = uploads::record_part(&state.db, id, n, expected, granary_core::time::now_ms()).await {
        // The session was completed or abandoned while this part streamed in (or the
        // database failed): the part is not recorded, so leave no staged bytes behind.
        state.storage.delete_quietly(&Key::UploadPart(id, n).path()).await;
        return Err(e.into());
    }
    if let Some(h) = running.lock().unwrap_or_else(|e| e.into_inner()).take() {
        state.upload_digests.advance(id, n, h);
    }
    Ok(Json(session_status(state, session).await?))
}

/// `POST /api/v1/uploads/{id}/complete`: checks the digest and makes the blob visible.
pub async fn complete_upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<UploadStatus>> {
    let session = own_session(&state, &caller, &id).await?;
    let layout = session_layout(&session)?;
    match finish_upload(&state, &id, layout).await {
        Err(e) => settle_race(&state, &id, &layout, e).await,
        ok => ok,
    }
}

async fn finish_upload(state: &AppState, id: &str, layout: BlobLayout) -> AppResult<Json<UploadStatus>> {
    let received = uploads::received_parts(&state.db, id).await?;
    let missing: Vec<u64> = (0..layout.part_count).filter(|n| !received.contains(n)).collect();
    if !missing.is_empty() {
        return Err(AppError::Conflict(format!(
            "upload {id} still lacks parts {missing:?}: send them, then complete"
        )));
    }
    let hasher = match state.upload_digests.take_complete(id, layout.part_count) {
        Some(h) => h,
        None => rehash_parts(state, id, &layout).await?,
    };
    let (size, digest) = (hasher.len(), hasher.finish());
    if size != layout.size || digest != layout.sha256 {
        discard(state, id).await?;
        return Err(AppError::DigestMismatch(format!(
            "the uploaded bytes have SHA-256 {digest} and size {size}, but {} and {} were declared; \
             nothing was stored: upload the blob again",
            layout.sha256, layout.size
        )));
    }
    let live = crate::ingest::place(state, id, &layout).await?;
    discard(state, id).await?;
    tracing::info!(blob = %layout.sha256, bytes = layout.size, parts = layout.part_count, "blob stored");
    Ok(Json(stored_status(&live)))
}

/// `DELETE /api/v1/uploads/{id}`: abandons an upload and its staged bytes.
pub async fn delete_upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    own_session(&state, &caller, &id).await?;
    discard(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reads the staged parts in order and hashes them.
async fn rehash_parts(state: &AppState, id: &str, layout: &BlobLayout) -> AppResult<Sha256Hasher> {
    let mut hasher = Sha256Hasher::new();
    for n in 0..layout.part_count {
        let range = layout.part_range(n);
        let mut parts = state
            .storage
            .get_range_stream(&Key::UploadPart(id, n).path(), 0..range.end - range.start)
            .await?;
        while let Some(chunk) = parts.next().await {
            hasher.update(&chunk?);
        }
    }
    Ok(hasher)
}

async fn discard(state: &AppState, id: &str) -> AppResult<()> {
    state.upload_digests.forget(id);
    uploads::delete(&state.db, id).await?;
    state.storage.delete_prefix(&Key::UploadDir(id).path()).await?;
    Ok(())
}

async fn own_session(state: &AppState, caller: &Caller, id: &str) -> AppResult<uploads::SessionRow> {
    let user = caller.require_writer()?;
    match uploads::find(&state.db, id).await? {
        Some(s) if s.user_id == user.id => Ok(s),
        _ => Err(AppError::NotFound(format!(
            "upload {id} does not exist (it may have completed or expired): start it again with POST /api/v1/uploads"
        ))),
    }
}

fn session_layout(s: &uploads::SessionRow) -> AppResult<BlobLayout> {
    Ok(BlobLayout {
        sha256: s.sha256.parse().map_err(AppError::internal)?,
        size: s.size as u64,
        part_size: s.part_size as u64,
        part_count: s.part_count as u64,
    })
}

async fn session_status(state: &AppState, s: &uploads::SessionRow) -> AppResult<UploadStatus> {
    let layout = session_layout(s)?;
    Ok(UploadStatus {
        id: Some(s.id.clone()),
        sha256: layout.sha256,
        size: layout.size,
        part_size: layout.part_size,
        part_count: layout.part_count,
        received: uploads::received_parts(&state.db, &s.id).await?,
        stored: false,
    })
}

fn stored_status(layout: &BlobLayout) -> UploadStatus {
    UploadStatus {
        id: None,
        sha256: layout.sha256,
        size: layout.size,
        part_size: layout.part_size,
        part_count: layout.part_count,
        received: (0..layout.part_count).collect(),
        stored: true,
    }
}

