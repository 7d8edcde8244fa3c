//! `HEAD|GET /{owner}/{name}/resolve/{rev}/{path…}`: file downloads for the
//! Hub clients. Served directly, or with `--presign-downloads` redirected to
//! the object store (`presign.rs`); never compressed, with the
//! metadata both clients need on every answer: `X-Repo-Commit` (40 hex),
//! `ETag` and `X-Linked-Etag` (`"<sha256>"`, strong), `X-Linked-Size`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::Response;

use super::{HfCaller, HfError, HfResult, commit_oid, readable, revision};
use crate::app::AppState;
use crate::db::revisions;
use crate::error::{AppError, Path};
use crate::routes::files::{ResolvedFile, serve_file};

pub async fn resolve_file(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    method: Method,
    headers: HeaderMap,
    Path((owner, name, rev, path)): Path<(String, String, String, String)>,
) -> HfResult<Response> {
    let anonymous = caller.user.is_none();
    let model = readable(&state, &caller, &owner, &name)
        .await
        .map_err(|e| HfError { anonymous, ..e })?;
    crate::access::check_download(&state.db, &caller, &model)
        .await
        .map_err(|e| HfError { anonymous, ..HfError::from(e) })?;
    let r = revision(&state, &model, &rev).await?;
    let commit = commit_oid(&r.id);
    let (size, sha) = revisions::find_file(&state.db, &model.id, &r.id, &path).await?.ok_or_else(|| {
        HfError::entry_not_found(
            format!("{path} does not exist at revision {commit} of {}", model.full_name()),
            commit.clone(),
        )
    })?;
    let file = ResolvedFile {
        revision_id: r.id.clone(),
        size: size as u64,
        sha256: sha.parse().map_err(AppError::internal)?,
    };
    let mut res = serve_file(&state, &method, &headers, &file).await?;
    let h = res.headers_mut();
    let header = |s: String| HeaderValue::from_str(&s).map_err(AppError::internal);
    h.insert("x-repo-commit", header(commit)?);
    h.insert("x-linked-etag", header(format!("\"{}\"", file.sha256))?);
    h.insert("x-linked-size", header(file.size.to_string())?);
    h.insert(
        granary_core::api::headers::REVISION,
        header(file.revision_id)?,
    );
    // A branch or tag may move: only a commit-addressed answer is immutable.
    if !rev.eq_ignore_ascii_case(&r.id) && !rev.eq_ignore_ascii_case(&r.id[..40]) {
        h.insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    Ok(res)
}
