//! The Xet CAS that `hf_xet` talks to, at `/xet` on the same listener (the
//! `casUrl` of the Hub's `xet-*-token` answers): thin over `crate::xet`. Errors
//! are the API's JSON shape with the statuses the Xet spec lists (400 bad
//! input, 401 bad token, 403 wrong scope or bad URL, 404, 416), so that clients
//! retry only what is retryable. Routes the client tries first and falls back
//! from on 404 (`/v2/shards`, `/v1/xorb-grants/…`) are not served.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::TryStreamExt;
use serde_json::json;

use crate::app::{AppState, Stats};
use crate::error::{AppError, AppResult, Json, Path};
use crate::storage::Key;
use crate::xet::data::DataGrant;
use crate::xet::token::{self, Scope};
use crate::xet::{self as domain, MAX_SHARD_BYTES};

/// The CAS routes, nested at `/xet`, and the client's telemetry at the root.
pub fn router() -> Router<AppState> {
    let cas = Router::new()
        .route("/{version}/reconstructions/{file}", get(reconstruction))
        .route("/v1/chunks/{prefix}/{hash}", get(chunk))
        .route(
            "/v1/xorbs/{prefix}/{hash}",
            // The body streams through a parser that stops past MAX_XORB_BYTES.
            post(upload_xorb).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/v1/shards",
            post(upload_shard).layer(DefaultBodyLimit::max(MAX_SHARD_BYTES)),
        )
        .route("/data/{xorb}", get(xorb_data));
    Router::new()
        .nest("/xet", cas)
        .route("/v1/telemetry", post(telemetry))
}

/// The `casUrl` of this server as the client reached it.
pub fn cas_url(state: &AppState, headers: &HeaderMap) -> String {
    format!("{}/xet", crate::client::public_url(state, headers))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn range_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::RANGE)?.to_str().ok()
}

/// `GET /xet/{v1|v2}/reconstructions/{file}`: the same answer in either version's shape.
async fn reconstruction(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((version, file)): Path<(String, String)>,
) -> AppResult<Response> {
    let grant = token::authorise(&state, bearer(&headers), Scope::Read).await?;
    let (range, cas) = (range_header(&headers), cas_url(&state, &headers));
    let rec = &domain::reconstruction::Request {
        app: &state,
        grant: &grant,
        file_hash: &file,
        range,
        cas_url: &cas,
    };
    match version.as_str() {
        "v1" => Ok(Json(domain::reconstruction::v1(rec).await?).into_response()),
        "v2" => Ok(Json(domain::reconstruction::v2(rec).await?).into_response()),
        _ => Err(AppError::NotFound(format!(
            "no reconstruction API {version}"
        ))),
    }
}

/// Global chunk dedup: a keyed shard describing the xorbs that hold the chunk
/// and that the caller may build on (`xet::dedup`), or 404.
async fn chunk(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((_prefix, hash)): Path<(String, String)>,
) -> AppResult<Response> {
    let grant = token::authorise(&state, bearer(&headers), Scope::Read).await?;
    match domain::dedup::answer(&state, &grant.caller, &hash).await? {
        Some(shard) => {
            Ok(([(header::CONTENT_TYPE, "application/octet-stream")], shard).into_response())
        }
        None => Err(AppError::NotFound(format!(
            "chunk {hash} is not known here"
        ))),
    }
}

async fn upload_xorb(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((prefix, hash)): Path<(String, String)>,
    body: Body,
) -> AppResult<Response> {
    let grant = token::authorise(&state, bearer(&headers), Scope::Write).await?;
    if prefix != "default" {
        return Err(AppError::Invalid(format!(
            "unknown xorb prefix `{prefix}`: only `default`"
        )));
    }
    let user = grant.caller.require_user()?;
    let inserted = domain::xorbs::store(&state, user, &hash, body)
        .await
        .inspect_err(|e| tracing::info!(error = %e, user = %user.name, "xorb refused"))?;
    Ok(Json(json!({ "was_inserted": inserted })).into_response())
}

async fn upload_shard(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let grant = token::authorise(&state, bearer(&headers), Scope::Write).await?;
    let user = grant.caller.require_user()?;
    Stats::add(&state.stats.xet_bytes_received, body.len() as u64);
    let any_new = domain::shards::register(&state, &grant.caller, body)
        .await
        .inspect_err(|e| tracing::info!(error = %e, user = %user.name, "shard refused"))?;
    Ok(Json(json!({ "result": u8::from(any_new) })).into_response())
}

/// Xorb bytes under a signed URL, within the range it grants.
async fn xorb_data(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(xorb): Path<String>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let grant = DataGrant::from_query(&state, &xorb, query.as_deref().unwrap_or(""))?;
    let row = crate::db::xet::xorb(&state.db, &xorb)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no xorb {xorb}")))?;
    let granted = grant.range.start..grant.range.end.min(row.size);
    let (status, range) = match range_header(&headers) {
        None => (StatusCode::OK, granted.clone()),
        Some(spec) => {
            let asked = crate::downloads::parse_range(spec, row.size)?
                .ok_or_else(|| AppError::Invalid("one `bytes=start-end` range, please".into()))?;
            if asked.start < granted.start || asked.end > granted.end {
                return Err(AppError::Forbidden(
                    "the range lies outside what this URL grants".into(),
                ));
            }
            (StatusCode::PARTIAL_CONTENT, asked)
        }
    };
    let stream = state
        .storage
        .get_range_stream(&Key::Xorb(&row.hash).path(), range.clone())
        .await
        .map_err(AppError::internal)?
        .map_err(std::io::Error::other);
    let mut res = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, range.end - range.start);
    if status == StatusCode::PARTIAL_CONTENT {
        res = res.header(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!(
                "bytes {}-{}/{}",
                range.start,
                range.end - 1,
                row.size
            ))
            .map_err(AppError::internal)?,
        );
    }
    res.body(Body::from_stream(stream))
        .map_err(AppError::internal)
}

/// The client's telemetry: accepted and dropped.
async fn telemetry() -> StatusCode {
    StatusCode::NO_CONTENT
}
