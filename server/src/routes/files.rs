//! File downloads by revision and path, with `Range` and `HEAD`.

use std::ops::Range;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use granary_core::api::headers::REVISION;

use crate::app::{AppState, Stats};
use crate::auth::Caller;
use crate::db::{blobs, revisions};
use crate::error::{AppError, AppResult, Path};
use crate::routes::{model_id, readable_model, resolve_revision};

/// A file resolved for download.
pub struct ResolvedFile {
    pub revision_id: String,
    pub size: u64,
    pub sha256: granary_core::Sha256,
}

/// `GET|HEAD /api/v1/models/{owner}/{name}/files/{rev}/{*path}`.
pub async fn download_file(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    Path((owner, name, rev, path)): Path<(String, String, String, String)>,
) -> AppResult<Response> {
    let id = model_id(&owner, &name)?;
    let model = readable_model(&state, &caller, &id).await?;
    let revision = resolve_revision(&state.db, &model, &rev).await?;
    crate::access::check_download(&state.db, &caller, &model).await?;
    let (size, sha) = revisions::find_file(&state.db, &model.id, &revision.id, &path)
        .await?
        .ok_or_else(|| {
            AppError::EntryNotFound(format!("revision {} of `{id}` has no file `{path}`", &revision.id[..12]))
        })?;
    let file = ResolvedFile {
        revision_id: revision.id.clone(),
        size: size as u64,
        sha256: sha.parse().map_err(AppError::internal)?,
    };
    let mut res = serve_file(&state, &method, &headers, &file).await?;
    res.headers_mut()
        .insert(REVISION, HeaderValue::from_str(&file.revision_id).map_err(AppError::internal)?);
    Ok(res)
}

/// Answers a file request: full, ranged or HEAD. Shared by every surface that serves files.
pub async fn serve_file(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    file: &ResolvedFile,
) -> AppResult<Response> {
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(spec) if file.size > 0 => parse_range(spec, file.size)?,
        _ => None,
    };
    let (status, body_range) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.clone()),
        None => (StatusCode::OK, 0..file.size),
    };
    let len = body_range.end - body_range.start;
    let mut builder = Response::builder()
        .status(status)
        .header(header::ETAG, format!("\"{}\"", file.sha256))
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, len)
        .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable");
    if let Some(r) = &range {
        builder = builder.header(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{}", r.start, r.end - 1, file.size),
        );
    } else if file.size == 0 {
        builder = builder.header(header::CONTENT_RANGE, "bytes */0");
    }
    if *method == Method::HEAD || len == 0 {
        return builder.body(Body::empty()).map_err(AppError::internal);
    }
    let layout = blobs::find(&state.db, &file.sha256)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("blob {} of a revision is missing", file.sha256)))?;
    if let Some(redirect) = crate::presign::redirect(state, headers, file, &layout).await? {
        return Ok(redirect);
    }
    Stats::add(&state.stats.file_requests, 1);
    let app = state.0.clone();
    let stream = state
        .storage
        .blob_range_stream(layout, body_range)
        .inspect(move |chunk| {
            if let Ok(c) = chunk {
                Stats::add(&app.stats.file_bytes_sent, c.len() as u64);
            }
        });
    builder.body(Body::from_stream(stream)).map_err(AppError::internal)
}

/// Parses a single `bytes=` range against a file of `size > 0` bytes.
/// Unparseable or multi-range headers are ignored (the whole file is sent), as RFC 9110 allows;
/// an end past the file is clamped; a start past the end is 416.
pub fn parse_range(spec: &str, size: u64) -> AppResult<Option<Range<u64>>> {
    let Some(set) = spec.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if set.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = set.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else { return Ok(None) };
        if n == 0 {
            return Err(AppError::RangeNotSatisfiable { size });
        }
        size.saturating_sub(n)..size
    } else {
        let Ok(start) = a.parse::<u64>() else { return Ok(None) };
        let end = if b.is_empty() {
            size
        } else {
            let Ok(last) = b.parse::<u64>() else { return Ok(None) };
            if last < start {
                return Ok(None);
            }
            last.saturating_add(1).min(size)
        };
        if start >= size {
            return Err(AppError::RangeNotSatisfiable { size });
        }
        start..end
    };
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-0", 10).unwrap(), Some(0..1));
        assert_eq!(parse_range("bytes=2-", 10).unwrap(), Some(2..10));
        assert_eq!(parse_range("bytes=-3", 10).unwrap(), Some(7..10));
        assert_eq!(parse_range("bytes=5-100", 10).unwrap(), Some(5..10));
        assert_eq!(parse_range("bytes=0-1,3-4", 10).unwrap(), None);
        assert_eq!(parse_range("items=0-1", 10).unwrap(), None);
        assert_eq!(parse_range("bytes=5-2", 10).unwrap(), None);
        assert!(parse_range("bytes=10-", 10).is_err());
        assert!(parse_range("bytes=-0", 10).is_err());
    }
}
