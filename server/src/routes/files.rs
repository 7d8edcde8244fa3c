//! `GET|HEAD /api/v1/models/{owner}/{name}/files/{rev}/{*path}`: file downloads
//! on the native API, with `Range` and `HEAD` (`downloads.rs` decides access
//! and caching for every surface).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::Response;
use granary_core::api::headers::REVISION;

use crate::app::AppState;
use crate::auth::Caller;
use crate::downloads;
use crate::error::{AppError, AppResult, ModelPath, Path};

pub async fn download_file(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ModelPath(id): ModelPath,
    Path((_, _, rev, path)): Path<(String, String, String, String)>,
) -> AppResult<Response> {
    let source = downloads::open(&state, &caller, &id, &rev).await?;
    let file = source.file(&state, &path).await?.ok_or_else(|| {
        AppError::EntryNotFound(format!(
            "revision {} of `{id}` has no file `{path}`",
            &source.revision.id[..12]
        ))
    })?;
    let mut res = downloads::serve_file(&state, &method, &headers, &file).await?;
    res.headers_mut().insert(
        REVISION,
        HeaderValue::from_str(&file.revision_id).map_err(AppError::internal)?,
    );
    Ok(res)
}
