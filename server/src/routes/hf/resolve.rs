//! `HEAD|GET /{owner}/{name}/resolve/{rev}/{path…}`: file downloads for the
//! Hub clients. Served directly, or with `--presign-downloads` redirected to
//! the object store (`presign.rs`); never compressed, with the
//! metadata both clients need on every answer: `X-Repo-Commit` (40 hex),
//! `ETag` and `X-Linked-Etag` (`"<sha256>"`, strong), `X-Linked-Size`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::Response;

use super::{HfCaller, HfError, HfResult, commit_oid, repo_id};
use crate::app::AppState;
use crate::downloads;
use crate::error::{AppError, Path};

pub async fn resolve_file(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    method: Method,
    headers: HeaderMap,
    Path((owner, name, rev, path)): Path<(String, String, String, String)>,
) -> HfResult<Response> {
    let anonymous = caller.user.is_none();
    let id = repo_id(&owner, &name).map_err(|e| HfError { anonymous, ..e })?;
    let source = match downloads::open(&state, &caller, &id, &rev).await {
        Ok(s) => s,
        // A name that is not even a valid ref name cannot exist either.
        Err(AppError::Invalid(msg)) => return Err(AppError::RevisionNotFound(msg).into()),
        Err(e @ (AppError::NotFound(_) | AppError::Gated(_))) => {
            return Err(HfError {
                anonymous,
                ..HfError::from(e)
            });
        }
        Err(e) => return Err(e.into()),
    };
    let commit = commit_oid(&source.revision.id);
    let file = source.file(&state, &path).await?.ok_or_else(|| {
        HfError::entry_not_found(
            format!(
                "{path} does not exist at revision {commit} of {}",
                source.model.full_name()
            ),
            commit.clone(),
        )
    })?;
    let mut res = downloads::serve_file(&state, &method, &headers, &file).await?;
    let h = res.headers_mut();
    let header = |s: String| HeaderValue::from_str(&s).map_err(AppError::internal);
    h.insert("x-repo-commit", header(commit)?);
    h.insert("x-linked-etag", header(format!("\"{}\"", file.sha256))?);
    h.insert("x-linked-size", header(file.size.to_string())?);
    h.insert(
        granary_core::api::headers::REVISION,
        header(file.revision_id.clone())?,
    );
    super::xet::add_resolve_headers(
        &state,
        &headers,
        &source.model,
        &file.revision_id,
        &file.sha256.hex(),
        &mut res,
    )
    .await?;
    Ok(res)
}
