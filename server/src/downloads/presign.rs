//! Presigned downloads (`--presign-downloads`): a file request answered with a
//! short-lived `302` to a signed object-store URL, so the bytes go from the
//! store to the client without passing through a server.
//!
//! Only when all of these hold; otherwise the server streams the bytes itself:
//! - the store can sign URLs (S3 and S3-compatible stores);
//! - the request is a `GET` of a non-empty file (`HEAD` answers stay local: they carry all
//!   the metadata and never touch the store);
//! - the blob is stored in one object (blobs uploaded in several parts are read part by
//!   part, which a single URL cannot express);
//! - the client is not the Rust `hf-hub` crate (`User-Agent` containing `hf-hub/`): it sends
//!   its `Authorization: Bearer` header straight to the redirect target, which S3-compatible
//!   stores refuse as a second authentication mechanism (hf-protocol §6.4).
//!
//! The redirect carries the file's metadata, as the Hub clients read it from the `3xx`
//! when it points at another origin: `ETag`, `X-Linked-Etag` and `X-Linked-Size` here,
//! `X-Repo-Commit` added by the `/resolve` handler. A `Range` header is sent again by the
//! client to the store, which honours it.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::ResolvedFile;
use crate::app::{AppState, Stats};
use crate::error::{AppError, AppResult};
use crate::storage::{BlobLayout, Key};

/// The `User-Agent` part of the Rust Hub client, which must not be redirected.
const HF_HUB_RUST_AGENT: &str = "hf-hub/";

/// A `302` to a presigned URL of `layout`'s bytes, when presigned downloads
/// apply to this `GET` (see the module docs); `None` to stream the bytes.
pub async fn redirect(
    state: &AppState,
    headers: &HeaderMap,
    file: &ResolvedFile,
    layout: &BlobLayout,
) -> AppResult<Option<Response>> {
    let s3 = &state.config.s3;
    if !s3.presign_downloads
        || !state.storage.can_sign()
        || layout.part_count != 1
        || layout.size == 0
    {
        return Ok(None);
    }
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if agent.contains(HF_HUB_RUST_AGENT) {
        return Ok(None);
    }
    let ttl = Duration::from_secs(s3.presign_ttl_secs.max(1));
    let url = match state
        .storage
        .signed_get_url(&Key::BlobPart(layout, 0).path(), ttl)
        .await
    {
        Some(Ok(url)) => url,
        Some(Err(e)) => {
            tracing::warn!(blob = %file.sha256, error = %e, "cannot presign a download; streaming it instead");
            return Ok(None);
        }
        None => return Ok(None),
    };
    Stats::add(&state.stats.file_redirects, 1);
    let etag = format!("\"{}\"", file.sha256);
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, url.as_str())
        .header(header::ETAG, &etag)
        .header("x-linked-etag", &etag)
        .header("x-linked-size", file.size)
        .header(header::ACCEPT_RANGES, "bytes")
        // The signature expires: the redirect itself must not be cached.
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .map(Some)
        .map_err(AppError::internal)
}
