//! Blob uploads on the native API: ask what is missing, send parts (resumable,
//! in any order, in parallel), complete. The rules live in
//! `ingest::sessions`; this module speaks HTTP.

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use granary_core::Sha256;
use granary_core::api::{
    CreateUploadRequest, MissingBlobsRequest, MissingBlobsResponse, UploadStatus,
};

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::{blob_uploaders, blobs, uploads};
use crate::error::{AppError, AppResult, Json, Path};
use crate::ingest::sessions::{self, Opened};
use crate::storage::BlobLayout;

/// The most blobs one `missing` request may ask about.
const MAX_MISSING_QUERY: usize = 10_000;

/// `POST /api/v1/blobs/missing`: the blobs the caller must send. A blob counts as
/// present only when the caller may name it by digest (it sent the bytes, or may
/// download a revision holding them), so the answer reveals nothing else.
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
    let referable = crate::access::referable_blobs(&state.db, &caller, &digests).await?;
    let known: Vec<Sha256> = referable.into_iter().collect();
    let stored = blobs::find_many(&state.db, &known).await?;
    let missing = req
        .blobs
        .into_iter()
        .filter(|b| {
            !stored
                .iter()
                .any(|s| s.sha256 == b.sha256 && s.size == b.size)
        })
        .collect();
    Ok(Json(MissingBlobsResponse { missing }))
}

/// `POST /api/v1/uploads`: starts the upload of a blob, or finds the one in progress.
pub async fn create_upload(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateUploadRequest>,
) -> AppResult<Json<UploadStatus>> {
    match sessions::open(&state, &caller, req.sha256, req.size).await? {
        Opened::Stored(layout) => Ok(Json(stored_status(&layout))),
        Opened::Session(session) => Ok(Json(session_status(&state, &session).await?)),
    }
}

/// `GET /api/v1/uploads/{id}`.
pub async fn get_upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<UploadStatus>> {
    let session = sessions::own(&state, &caller, &id).await?;
    Ok(Json(session_status(&state, &session).await?))
}

/// `PUT /api/v1/uploads/{id}/parts/{n}`: streams one part to the store.
pub async fn put_part(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, n)): Path<(String, u64)>,
    body: Body,
) -> AppResult<Json<UploadStatus>> {
    let session = sessions::own(&state, &caller, &id).await?;
    match sessions::receive_part(&state.0, &session, n, body).await {
        Ok(()) => Ok(Json(session_status(&state, &session).await?)),
        Err(e) => settle_race(&state, &session, e).await,
    }
}

/// `POST /api/v1/uploads/{id}/complete`: checks the digest and makes the blob visible.
///
/// The completion runs in a task of its own. A client that goes away drops its request's
/// future; dropped between moving the staged parts into place and ending the session, the
/// completion would leave a session whose parts are gone, which every later completion (the
/// same client pushing again resumes it) fails on until garbage collection takes it.
pub async fn complete_upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<UploadStatus>> {
    let session = sessions::own(&state, &caller, &id).await?;
    let (app, owned) = (state.0.clone(), session.clone());
    let completed = tokio::spawn(async move { sessions::complete(&app, &owned).await })
        .await
        .map_err(AppError::internal)?;
    match completed {
        Ok(live) => Ok(Json(stored_status(&live))),
        Err(e) => settle_race(&state, &session, e).await,
    }
}

/// `DELETE /api/v1/uploads/{id}`: abandons an upload and its staged bytes.
pub async fn delete_upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    sessions::own(&state, &caller, &id).await?;
    sessions::abandon(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// After an internal error: if a concurrent request of the same session completed or
/// abandoned it meanwhile (its parts moved or deleted), answer that, not a 500.
async fn settle_race(
    state: &AppState,
    session: &uploads::SessionRow,
    e: AppError,
) -> AppResult<Json<UploadStatus>> {
    if !matches!(e, AppError::Internal(_)) {
        return Err(e);
    }
    let (id, layout) = (session.id.as_str(), sessions::layout(session)?);
    // A concurrent completion of the same session moved the staged parts away and
    // is about to commit the blob: wait for it a little rather than answer a 5xx.
    for _ in 0..60 {
        if uploads::find(&state.db, id).await?.is_none() {
            let sent =
                blob_uploaders::uploaded_by(&state.db, &session.user_id, &[layout.sha256]).await?;
            if let Some(live) = blobs::find(&state.db, &layout.sha256)
                .await?
                .filter(|_| !sent.is_empty())
            {
                return Ok(Json(stored_status(&live)));
            }
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

async fn session_status(state: &AppState, s: &uploads::SessionRow) -> AppResult<UploadStatus> {
    let layout = sessions::layout(s)?;
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
