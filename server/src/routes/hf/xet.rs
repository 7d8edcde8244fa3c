//! The Hub's Xet entry points: `xet-read-token` and `xet-write-token` hand out
//! short-lived CAS tokens (`crate::xet::token`) for one model and one revision
//! (read) or branch (write), and `/resolve` names the Xet file of a download
//! (`X-Xet-Hash` and where to get a read token) when the file was uploaded
//! over Xet. The JSON answer is what `hf_xet` reads; huggingface_hub reads the
//! same values from the `X-Xet-*` headers.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::{HfCaller, HfError, HfResult, base_url, commit_oid, json_status, readable, revision};
use crate::app::AppState;
use crate::error::{AppError, Path};
use crate::xet::token::{self, Claims, Scope};

/// `GET /api/models/{owner}/{name}/xet-read-token/{rev}`.
pub async fn read_token(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    headers: HeaderMap,
    Path((owner, name, rev)): Path<(String, String, String)>,
) -> HfResult<Response> {
    let model = readable(&state, &caller, &owner, &name).await?;
    crate::access::check_download(&state.db, &caller, &model).await?;
    let r = revision(&state, &model, &rev).await?;
    answer(&state, &headers, &caller, &model, Scope::Read, r.id.clone())
}

/// `GET /api/models/{owner}/{name}/xet-write-token/{rev}`.
pub async fn write_token(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    headers: HeaderMap,
    Path((owner, name, rev)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> HfResult<Response> {
    let model = readable(&state, &caller, &owner, &name).await?;
    super::writer(&state, &caller, &model.owner).await?;
    if query.is_some_and(|q| q.contains("create_pr=1")) {
        return Err(HfError::invalid(
            "pull requests are not supported here: upload to a branch",
        ));
    }
    granary_core::names::validate_ref_name(&rev)
        .map_err(|e| HfError::invalid(format!("`{rev}` is not a branch name: {e}")))?;
    if caller.token_id.is_none() {
        return Err(AppError::Unauthorized("Xet uploads need an API token".into()).into());
    }
    answer(&state, &headers, &caller, &model, Scope::Write, rev)
}

fn answer(
    state: &AppState,
    headers: &HeaderMap,
    caller: &crate::auth::Caller,
    model: &crate::db::models::ModelRow,
    scope: Scope,
    reference: String,
) -> HfResult<Response> {
    let exp = granary_core::time::now_secs() + state.config.xet_token_secs;
    let claims = Claims {
        scope,
        model: model.id.clone(),
        repo: model.full_name(),
        reference,
        token: caller.token_id.clone(),
        exp,
    };
    let access = token::issue(state, &claims)?;
    let cas = crate::routes::xet::cas_url(state, headers);
    let mut res = json_status(
        StatusCode::OK,
        json!({"accessToken": access, "exp": exp, "casUrl": cas}),
    );
    let h = res.headers_mut();
    let value = |s: String| HeaderValue::from_str(&s).map_err(AppError::internal);
    h.insert("x-xet-cas-url", value(cas)?);
    h.insert("x-xet-access-token", value(access)?);
    h.insert("x-xet-token-expiration", value(exp.to_string())?);
    Ok(res)
}

/// Adds the Xet headers to a `/resolve` answer when the file has a Xet form.
pub async fn add_resolve_headers(
    state: &AppState,
    headers: &HeaderMap,
    model: &crate::db::models::ModelRow,
    revision_id: &str,
    sha256: &str,
    res: &mut Response,
) -> HfResult<()> {
    let Some(file) = crate::db::xet::file_of_blob(&state.db, sha256).await? else {
        return Ok(());
    };
    let refresh = format!(
        "{}/api/models/{}/xet-read-token/{}",
        base_url(state, headers),
        model.full_name(),
        commit_oid(revision_id)
    );
    let value = |s: String| HeaderValue::from_str(&s).map_err(AppError::internal);
    let h = res.headers_mut();
    h.insert("x-xet-hash", value(file.file_hash)?);
    h.insert("x-xet-refresh-route", value(refresh.clone())?);
    h.append(
        axum::http::header::LINK,
        value(format!("<{refresh}>; rel=\"xet-auth\""))?,
    );
    Ok(())
}
