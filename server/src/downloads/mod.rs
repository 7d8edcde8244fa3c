//! Serving the files of a revision, for every surface that serves them (the
//! native `/files`, the Hub's `/resolve`, and whatever comes next): who may
//! download, in which order the checks run, and how a response may be cached.
//!
//! Checks run in one order everywhere: the model must be readable (else "not
//! found", private and missing alike), then its gate passed, then the
//! revision resolved, then the file found. Cache policy follows from who may
//! read the bytes and how they were addressed:
//!
//! | model                | by revision id                         | by branch, tag or prefix |
//! |----------------------|----------------------------------------|--------------------------|
//! | public, not gated    | `public, max-age=31536000, immutable`  | `public, no-cache`       |
//! | private or gated     | `private, max-age=31536000, immutable` | `private, no-cache`      |
//!
//! Private and gated answers also carry `Vary: Authorization, Cookie`, so no
//! shared cache hands them to someone else. Every answer carries
//! `X-Content-Type-Options: nosniff` and `Content-Disposition: attachment`.
//!
//! Downloads are counted here too, once per pull of a revision (`counter.rs`).

use std::ops::Range;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use granary_core::{ModelId, Sha256};

use crate::app::{AppState, Stats};
use crate::auth::Caller;
use crate::db::blobs;
use crate::db::models::ModelRow;
use crate::db::revisions::{self, RevisionRow};
use crate::error::{AppError, AppResult};

pub mod counter;
mod presign;

/// How a file response may be cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Anyone may read the bytes (a public model without a gate).
    pub public: bool,
    /// The request named the revision by its id, so the answer never changes.
    pub immutable: bool,
}

impl CachePolicy {
    /// The `Cache-Control` value.
    pub fn cache_control(self) -> &'static str {
        match (self.public, self.immutable) {
            (true, true) => "public, max-age=31536000, immutable",
            (true, false) => "public, no-cache",
            (false, true) => "private, max-age=31536000, immutable",
            (false, false) => "private, no-cache",
        }
    }

    fn apply(self, h: &mut HeaderMap) {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(self.cache_control()),
        );
        if !self.public {
            h.insert(
                header::VARY,
                HeaderValue::from_static("Authorization, Cookie"),
            );
        }
    }
}

/// A revision the caller may download from.
pub struct Source {
    pub model: ModelRow,
    pub revision: Arc<RevisionRow>,
    policy: CachePolicy,
}

/// A file resolved for download.
pub struct ResolvedFile {
    pub model_id: String,
    pub revision_id: String,
    pub path: String,
    pub size: u64,
    pub sha256: Sha256,
    pub cache: CachePolicy,
    /// Fetching it counts a download of the revision (`counter.rs`).
    pub query_file: bool,
}

/// The revision `rev` of a model, if the caller may download its files: the model
/// readable, its gate passed, then the revision resolved (a branch, tag, id, id
/// prefix, or the Hub's 40-hex alias).
pub async fn open(state: &AppState, caller: &Caller, id: &ModelId, rev: &str) -> AppResult<Source> {
    let model = crate::access::readable_model(state, caller, id).await?;
    crate::access::check_download(&state.db, caller, &model).await?;
    let revision = crate::refs::resolve_revision(&state.db, &model, rev).await?;
    let by_id = rev.len() >= 40 && revision.id.starts_with(&rev.to_ascii_lowercase());
    let policy = CachePolicy {
        public: !model.private && !model.gated,
        immutable: by_id,
    };
    Ok(Source {
        model,
        revision,
        policy,
    })
}

impl Source {
    /// The file at `path` (compared in Unicode NFC, as paths are stored), if the revision has one.
    pub async fn file(&self, state: &AppState, path: &str) -> AppResult<Option<ResolvedFile>> {
        let path = granary_core::paths::nfc(path);
        let Some((size, sha)) =
            revisions::find_file(&state.db, &self.model.id, &self.revision.id, &path).await?
        else {
            return Ok(None);
        };
        let query_file = state
            .downloads
            .is_query_file(&state.db, &self.model.id, &self.revision.id, &path)
            .await?;
        Ok(Some(ResolvedFile {
            model_id: self.model.id.clone(),
            revision_id: self.revision.id.clone(),
            query_file,
            path,
            size: size as u64,
            sha256: sha.parse().map_err(AppError::internal)?,
            cache: self.policy,
        }))
    }
}

/// `Content-Disposition: attachment` with the file's name, plain when it is
/// printable ASCII, else as RFC 6266 `filename*`.
fn disposition(path: &str) -> HeaderValue {
    let name = path.rsplit('/').next().unwrap_or(path);
    let plain = name
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    let value = if plain {
        format!("attachment; filename=\"{name}\"")
    } else {
        let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        format!(
            "attachment; filename*=UTF-8''{}",
            encoded.replace('+', "%20")
        )
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// Answers a file request: full, ranged or HEAD, or a redirect to a presigned URL.
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
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CONTENT_DISPOSITION, disposition(&file.path));
    if let Some(h) = builder.headers_mut() {
        file.cache.apply(h);
    }
    if let Some(r) = &range {
        builder = builder.header(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{}", r.start, r.end - 1, file.size),
        );
    } else if file.size == 0 {
        builder = builder.header(header::CONTENT_RANGE, "bytes */0");
    }
    // One download per pull: a GET of the query file, whole or from its first byte.
    if *method == Method::GET && file.query_file && body_range.start == 0 {
        state.downloads.record(&file.model_id);
    }
    if *method == Method::HEAD || len == 0 {
        return builder.body(Body::empty()).map_err(AppError::internal);
    }
    let layout = blobs::find(&state.db, &file.sha256).await?.ok_or_else(|| {
        AppError::internal(anyhow::anyhow!(
            "blob {} of a revision is missing",
            file.sha256
        ))
    })?;
    if let Some(redirect) = presign::redirect(state, headers, file, &layout).await? {
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
    builder
        .body(Body::from_stream(stream))
        .map_err(AppError::internal)
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
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 {
            return Err(AppError::RangeNotSatisfiable { size });
        }
        size.saturating_sub(n)..size
    } else {
        let Ok(start) = a.parse::<u64>() else {
            return Ok(None);
        };
        let end = if b.is_empty() {
            size
        } else {
            let Ok(last) = b.parse::<u64>() else {
                return Ok(None);
            };
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
    use super::{CachePolicy, parse_range};

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

    #[test]
    fn only_public_revision_addressed_answers_are_shared_and_immutable() {
        let p = |public, immutable| CachePolicy { public, immutable }.cache_control();
        assert_eq!(p(true, true), "public, max-age=31536000, immutable");
        for (public, immutable) in [(true, false), (false, true), (false, false)] {
            assert!(
                !p(public, immutable).contains("public, max-age"),
                "{public} {immutable}"
            );
        }
        assert!(p(false, true).starts_with("private"));
        assert!(p(true, false).contains("no-cache"));
    }

    #[test]
    fn names_the_file() {
        assert_eq!(
            super::disposition("a/model.safetensors"),
            "attachment; filename=\"model.safetensors\""
        );
        assert_eq!(
            super::disposition("caf\u{e9}.txt"),
            "attachment; filename*=UTF-8''caf%C3%A9.txt"
        );
        assert_eq!(
            super::disposition("a\"b"),
            "attachment; filename*=UTF-8''a%22b"
        );
    }
}
