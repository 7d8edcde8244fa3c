//! The Hugging Face Hub-compatible API (`HF_ENDPOINT=http://granary…`), as the
//! real clients (huggingface_hub, the hf-hub crate) speak it; the contract is
//! `docs/HF.md`. Commit ids on this surface are the first 40 hex characters of
//! Granary's 64-hex revision ids; every revision argument also takes the full
//! id, a branch or a tag.
//!
//! Files: `errors.rs` (X-Error-Code), `info.rs` (model info, listings, tree,
//! paths-info, refs, commits), `resolve.rs` (file downloads), `commit.rs` (the
//! NDJSON commit), `lfs.rs` (Git LFS batch, signed uploads, verify), `repos.rs`
//! (create/delete, branches, tags, whoami, validate-yaml, preupload),
//! `oids.rs` (git blob ids), `xet.rs` (Xet tokens and `/resolve`'s Xet headers).

mod bodies;
mod commit;
mod errors;
mod info;
mod lfs;
mod oids;
mod repos;
mod resolve;
mod xet;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{any, get, post, put};
use granary_core::ModelId;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::models::ModelRow;
use crate::db::revisions::RevisionRow;
use crate::error::AppError;
pub use errors::{HfError, HfResult};

/// Every route of the Hub-compatible surface (merged into the main router).
pub fn router() -> Router<AppState> {
    Router::new()
        // Downloads.
        .route(
            "/{owner}/{name}/resolve/{rev}/{*path}",
            get(resolve::resolve_file),
        )
        .route("/datasets/{*rest}", any(errors::other_repo_type))
        .route("/spaces/{*rest}", any(errors::other_repo_type))
        // Reading.
        .route("/api/models", get(info::list_models))
        .route("/api/models/{owner}/{name}", get(info::model_info))
        .route(
            "/api/models/{owner}/{name}/revision/{rev}",
            get(info::model_info_at),
        )
        .route(
            "/api/models/{owner}/{name}/tree/{rev}",
            get(info::tree_root),
        )
        .route(
            "/api/models/{owner}/{name}/tree/{rev}/{*path}",
            get(info::tree_path),
        )
        .route(
            "/api/models/{owner}/{name}/paths-info/{rev}",
            post(info::paths_info),
        )
        .route("/api/models/{owner}/{name}/refs", get(info::list_refs))
        .route(
            "/api/models/{owner}/{name}/commits/{rev}",
            get(info::list_commits),
        )
        .route(
            "/api/models/{owner}/{name}/xet-read-token/{rev}",
            get(xet::read_token),
        )
        .route(
            "/api/models/{owner}/{name}/xet-write-token/{rev}",
            get(xet::write_token),
        )
        .route("/api/datasets/{*rest}", any(errors::other_repo_type))
        .route("/api/spaces/{*rest}", any(errors::other_repo_type))
        .route("/api/agent-harnesses", get(errors::not_here))
        // Accounts and repositories.
        .route("/api/whoami-v2", get(repos::whoami))
        .route(
            "/api/validate-yaml",
            post(repos::validate_yaml).layer(DefaultBodyLimit::max(repos::MAX_VALIDATE_YAML_BODY)),
        )
        .route("/api/repos/create", post(repos::create_repo))
        .route(
            "/api/repos/delete",
            axum::routing::delete(repos::delete_repo),
        )
        .route(
            "/api/models/{owner}/{name}/branch/{branch}",
            post(repos::create_branch).delete(repos::delete_branch),
        )
        .route(
            "/api/models/{owner}/{name}/tag/{rev}",
            post(repos::create_tag).delete(repos::delete_tag),
        )
        // Uploads.
        .route(
            "/api/models/{owner}/{name}/preupload/{rev}",
            post(repos::preupload),
        )
        .route(
            "/api/models/{owner}/{name}/commit/{rev}",
            post(commit::create_commit).layer(DefaultBodyLimit::disable()),
        )
        .route("/{owner}/{name}/info/lfs/objects/batch", post(lfs::batch))
        .route("/{owner}/{name}/info/lfs/objects/verify", post(lfs::verify))
        .route(
            "/api/hf-lfs/{owner}/{name}/{oid}/{size}",
            put(lfs::put_object)
                .post(lfs::complete_multipart)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/hf-lfs/{owner}/{name}/{oid}/{size}/{part}",
            put(lfs::put_part).layer(DefaultBodyLimit::disable()),
        )
        .layer(axum::middleware::map_response(errors::add_error_message))
}

/// The caller of a Hub request; a bad token answers in the Hub's error shape.
pub struct HfCaller(pub Caller);

impl axum::extract::FromRequestParts<AppState> for HfCaller {
    type Rejection = HfError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, HfError> {
        Ok(HfCaller(Caller::from_request_parts(parts, state).await?))
    }
}

/// The files larger than this are `lfs` on this surface (preupload, tree,
/// siblings); smaller ones travel inline in commits (`--hf-inline-max`).
pub fn inline_max(app: &crate::app::App) -> u64 {
    app.config.hf_inline_max
}

/// The public base URL of this server as the client reached it, without a trailing `/`.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    crate::client::public_url(state, headers)
}

/// The 40-hex commit id the Hub clients see for a revision id.
pub fn commit_oid(revision_id: &str) -> String {
    revision_id.chars().take(40).collect()
}

/// Parses `ns/name` from a URL; a malformed name is simply a missing repo.
pub fn repo_id(ns: &str, name: &str) -> HfResult<ModelId> {
    ModelId::new(ns, name).map_err(|_| HfError::repo_not_found(&format!("{ns}/{name}")))
}

/// The model, if the caller may read it (else RepoNotFound, private ones included).
pub async fn readable(
    state: &AppState,
    caller: &Caller,
    ns: &str,
    name: &str,
) -> HfResult<ModelRow> {
    let id = repo_id(ns, name)?;
    Ok(crate::access::readable_model(state, caller, &id).await?)
}

/// The caller, if they may write models under `owner` (their own namespace, or an
/// organisation where they hold the `write` role).
pub async fn writer(
    state: &AppState,
    caller: &Caller,
    owner: &str,
) -> HfResult<crate::db::users::UserRow> {
    caller.require_writer()?;
    Ok(
        crate::access::require_role(&state.db, caller, owner, crate::access::Role::Write)
            .await?
            .clone(),
    )
}

/// Resolves a revision argument (branch, tag, 40-hex alias, full id).
pub async fn revision(
    state: &AppState,
    model: &ModelRow,
    rev: &str,
) -> HfResult<std::sync::Arc<RevisionRow>> {
    match crate::refs::resolve_revision(&state.db, model, rev).await {
        Ok(r) => Ok(r),
        // A name that is not even a valid ref name cannot exist either.
        Err(AppError::Invalid(msg)) => Err(AppError::RevisionNotFound(msg).into()),
        Err(e) => Err(e.into()),
    }
}

/// The files of a revision, from its manifest.
pub fn manifest_files(r: &RevisionRow) -> HfResult<granary_core::manifest::Manifest> {
    serde_json::from_str(&r.manifest).map_err(|e| AppError::internal(e).into())
}

/// A JSON response with a status.
pub fn json_status(status: StatusCode, v: serde_json::Value) -> axum::response::Response {
    use axum::response::IntoResponse;
    (status, axum::Json(v)).into_response()
}
