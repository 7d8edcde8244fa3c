//! Git LFS uploads for the Hub clients (huggingface_hub ≤ 1.19, or any
//! version with `HF_HUB_DISABLE_XET=1`): the batch call, the upload URLs it
//! hands out, and verify.
//!
//! The clients call upload URLs without any credentials, so each URL carries
//! its own: an HMAC-SHA256 over (model, oid, size, chunk size, expiry, token
//! id) with a key derived from the session secret (`GRANARY_SESSION_SECRET`)
//! or, without one, generated once and kept in `<data-dir>/hf-signing.key`.
//! A URL lives an hour, and works only while the token that asked for it is
//! live and may still write the model: revoking the token stops it. The bytes
//! are recorded as sent by that token's user. Basic transfer: one `PUT` of the
//! bytes, stored once their size and SHA-256 check. Multipart (objects over
//! the upload part size): one `PUT` per part into a staging area of that URL
//! alone, then a `POST` that assembles, checks and stores them. A URL whose
//! signature does not check answers exactly like a missing model.
//!
//! `batch` and `verify` answer "already there" only for objects the caller may
//! name by digest (`access::referable_blobs`): knowing a digest grants nothing.

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures::{StreamExt, TryStreamExt};
use granary_core::Sha256;
use granary_core::time::now_secs;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use super::bodies::{LfsBatch, LfsObject, parse};
use super::{HfCaller, HfError, HfResult, base_url, json_status, readable};
use crate::app::{AppState, Stats};
use crate::db::blobs;
use crate::db::models::ModelRow;
use crate::error::{AppError, Path};
use crate::storage::{Key, PutError};

/// How long an upload URL stays valid (the upload may take longer; it must start by then).
const URL_LIFETIME_SECS: u64 = 3600;

/// What an upload URL authorises: one object of one model, for one token's user.
struct Grant<'a> {
    /// The model, `owner/name` lower-cased.
    repo: String,
    oid: &'a str,
    size: u64,
    /// Part size of a multipart upload; 0 for a basic one.
    chunk: u64,
    exp: u64,
    token_id: &'a str,
}

impl Grant<'_> {
    fn mac(&self, state: &AppState) -> HfResult<Hmac<sha2::Sha256>> {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&crate::url_keys::hf_key(state)?)
            .map_err(AppError::internal)?;
        let Grant {
            repo,
            oid,
            size,
            chunk,
            exp,
            token_id,
        } = self;
        mac.update(
            format!("granary-hf-lfs-v2\n{repo}\n{oid}\n{size}\n{chunk}\n{exp}\n{token_id}")
                .as_bytes(),
        );
        Ok(mac)
    }

    /// The query string of the URL.
    fn query(&self, state: &AppState) -> HfResult<String> {
        let sig = hex::encode(self.mac(state)?.finalize().into_bytes());
        Ok(format!(
            "chunk={}&exp={}&tok={}&sig={sig}",
            self.chunk, self.exp, self.token_id
        ))
    }
}

fn repo_key(owner: &str, name: &str) -> String {
    format!(
        "{}/{}",
        owner.to_ascii_lowercase(),
        name.to_ascii_lowercase()
    )
}

/// An upload URL that checked: the model, its part size (0: basic), the user to
/// record as the uploader, and the staging area private to this URL.
struct Authorised {
    model: ModelRow,
    chunk: u64,
    uploader: String,
    staging: String,
}

/// Checks an upload URL: its signature first (a bad one answers exactly like a
/// missing model, so a URL reveals nothing), then its expiry, then that its token
/// is live and may still write the model.
async fn authorise(
    state: &AppState,
    owner: &str,
    name: &str,
    oid: &str,
    size: u64,
    raw: &Option<String>,
) -> HfResult<Authorised> {
    let missing = || HfError::repo_not_found(&format!("{owner}/{name}"));
    let pairs: Vec<(String, String)> = raw
        .as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let chunk: u64 = get("chunk")
        .and_then(|c| c.parse().ok())
        .ok_or_else(missing)?;
    let exp: u64 = get("exp")
        .and_then(|c| c.parse().ok())
        .ok_or_else(missing)?;
    let token_id = get("tok").ok_or_else(missing)?;
    let sig = get("sig")
        .and_then(|s| hex::decode(s).ok())
        .ok_or_else(missing)?;
    let grant = Grant {
        repo: repo_key(owner, name),
        oid,
        size,
        chunk,
        exp,
        token_id,
    };
    grant
        .mac(state)?
        .verify_slice(&sig)
        .map_err(|_| missing())?;
    let refused = |why: &str| {
        HfError::from(AppError::Forbidden(format!(
            "this upload URL {why}: ask the batch endpoint again"
        )))
    };
    if exp < now_secs() {
        return Err(refused("has expired"));
    }
    let now = granary_core::time::now_ms();
    let (user, token) = crate::db::users::find_by_token_id(&state.db, token_id, now)
        .await?
        .ok_or_else(|| refused("belongs to a token that was revoked or has expired"))?;
    let caller = crate::auth::Caller::from_token(user, token);
    let model = readable(state, &caller, owner, name).await?;
    let uploader = super::writer(state, &caller, &model.owner).await?.id;
    // One staging area per URL: uploads of the same object through other URLs never mix.
    let staging = format!("hf-lfs-{}", &hex::encode(&sig)[..32]);
    Ok(Authorised {
        model,
        chunk,
        uploader,
        staging,
    })
}

fn lfs_json(status: StatusCode, v: Value) -> Response {
    let mut res = json_status(status, v);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.git-lfs+json"),
    );
    res
}

/// `POST /{owner}/{name}.git/info/lfs/objects/batch`.
pub async fn batch(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    headers: HeaderMap,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> HfResult<Response> {
    let name = repo.strip_suffix(".git").unwrap_or(&repo);
    let model = readable(&state, &caller, &owner, name).await?;
    super::writer(&state, &caller, &model.owner).await?;
    let v: LfsBatch = parse(&body)?;
    if v.operation != "upload" {
        return Err(HfError::invalid(
            "only the `upload` operation is served here; download with /resolve",
        ));
    }
    let multipart_ok = v.transfers.iter().any(|x| x == "multipart");
    let part_size = state.config.upload_part_size.max(1024 * 1024);
    let base = base_url(&state, &headers);
    let repo_url = format!("{base}/api/hf-lfs/{}", model.full_name());
    let token_id = caller.token_id.clone().ok_or_else(|| {
        HfError::from(AppError::Unauthorized(
            "Git LFS uploads need an API token".into(),
        ))
    })?;
    let exp = now_secs() + URL_LIFETIME_SECS;
    let asked: Vec<Sha256> = v
        .objects
        .iter()
        .filter_map(|o| o.oid.to_ascii_lowercase().parse().ok())
        .collect();
    let referable = crate::access::referable_blobs(&state.db, &caller, &asked).await?;
    let mut objects = Vec::new();
    for o in &v.objects {
        let oid = o.oid.to_ascii_lowercase();
        let size = o.size.unwrap_or(0);
        let Ok(sha) = oid.parse::<Sha256>() else {
            objects.push(json!({"oid": oid, "size": size, "error": {"code": 422, "message": "oid must be a SHA-256 in hex"}}));
            continue;
        };
        if size > state.config.max_file_size {
            objects.push(json!({"oid": oid, "size": size, "error": {"code": 413, "message": format!("files over {} bytes are refused", state.config.max_file_size)}}));
            continue;
        }
        if referable.contains(&sha)
            && blobs::find(&state.db, &sha)
                .await?
                .is_some_and(|b| b.size == size)
        {
            objects.push(json!({"oid": oid, "size": size}));
            continue;
        }
        let verify = json!({"href": format!("{base}/{}.git/info/lfs/objects/verify", model.full_name()), "header": {}});
        let repo = repo_key(&model.owner, &model.name);
        let grant = |chunk| Grant {
            repo: repo.clone(),
            oid: &oid,
            size,
            chunk,
            exp,
            token_id: &token_id,
        };
        let upload = if multipart_ok && size > part_size {
            let q = grant(part_size).query(&state)?;
            let mut header = serde_json::Map::new();
            header.insert("chunk_size".into(), json!(part_size.to_string()));
            for n in 1..=size.div_ceil(part_size) {
                header.insert(
                    n.to_string(),
                    json!(format!("{repo_url}/{oid}/{size}/{n}?{q}")),
                );
            }
            json!({"href": format!("{repo_url}/{oid}/{size}?{q}"), "header": header})
        } else {
            let q = grant(0).query(&state)?;
            json!({"href": format!("{repo_url}/{oid}/{size}?{q}")})
        };
        objects.push(json!({"oid": oid, "size": size, "authenticated": true, "actions": {"upload": upload, "verify": verify}}));
    }
    Ok(lfs_json(
        StatusCode::OK,
        json!({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}),
    ))
}

fn parse_object(oid: &str) -> HfResult<Sha256> {
    oid.parse()
        .map_err(|_| HfError::invalid(format!("`{oid}` is not a SHA-256")))
}

/// `PUT /api/hf-lfs/{owner}/{name}/{oid}/{size}?…` (basic transfer): the whole object.
pub async fn put_object(
    State(state): State<AppState>,
    Path((owner, name, oid, size)): Path<(String, String, String, u64)>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> HfResult<Response> {
    let url = authorise(&state, &owner, &name, &oid, size, &raw).await?;
    let sha = parse_object(&oid)?;
    let app = state.0.clone();
    let stream = body
        .into_data_stream()
        .inspect_ok(move |c| Stats::add(&app.stats.blob_bytes_received, c.len() as u64));
    crate::ingest::store_stream(&state, &url.uploader, stream, Some((sha, size))).await?;
    tracing::info!(model = %url.model.full_name(), blob = %sha, bytes = size, "LFS object stored");
    Ok(json_status(StatusCode::OK, json!({})))
}

/// `PUT /api/hf-lfs/{owner}/{name}/{oid}/{size}/{part}?…` (multipart): part `part` (from 1).
pub async fn put_part(
    State(state): State<AppState>,
    Path((owner, name, oid, size, part)): Path<(String, String, String, u64, u64)>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> HfResult<Response> {
    let url = authorise(&state, &owner, &name, &oid, size, &raw).await?;
    parse_object(&oid)?;
    let chunk = url.chunk;
    let count = size.div_ceil(chunk.max(1));
    if chunk == 0 || part == 0 || part > count {
        return Err(HfError::invalid(format!(
            "part {part} is not one of the {count} parts of this upload"
        )));
    }
    let start = (part - 1) * chunk;
    let len = chunk.min(size - start);
    let app = state.0.clone();
    let stream = body
        .into_data_stream()
        .inspect_ok(move |c| Stats::add(&app.stats.blob_bytes_received, c.len() as u64))
        .boxed();
    let key = Key::UploadPart(&url.staging, part - 1).path();
    state
        .storage
        .put_stream_exact(&key, len, stream)
        .await
        .map_err(|e| match e {
            PutError::Store(e) => AppError::internal(e),
            other => AppError::Invalid(format!("part {part}: {other}")),
        })?;
    let mut res = json_status(StatusCode::OK, json!({}));
    let etag = HeaderValue::from_str(&format!("\"{oid}-{part}\"")).map_err(AppError::internal)?;
    res.headers_mut().insert(header::ETAG, etag);
    Ok(res)
}

/// `POST /api/hf-lfs/{owner}/{name}/{oid}/{size}?…` (multipart completion): assembles the
/// staged parts, checks size and SHA-256, stores the object.
pub async fn complete_multipart(
    State(state): State<AppState>,
    Path((owner, name, oid, size)): Path<(String, String, String, u64)>,
    RawQuery(raw): RawQuery,
) -> HfResult<Response> {
    let url = authorise(&state, &owner, &name, &oid, size, &raw).await?;
    let sha = parse_object(&oid)?;
    let chunk = url.chunk;
    if chunk == 0 {
        return Err(HfError::invalid("this URL takes a PUT of the whole object"));
    }
    let dir = url.staging.clone();
    let count = size.div_ceil(chunk);
    for n in 0..count {
        if !state
            .storage
            .exists(&Key::UploadPart(&dir, n).path())
            .await?
        {
            return Err(AppError::Conflict(format!(
                "part {} of {count} was never uploaded: send it again",
                n + 1
            ))
            .into());
        }
    }
    let storage = state.storage.clone();
    let dir2 = dir.clone();
    let parts = futures::stream::iter(0..count)
        .then(move |n| {
            let storage = storage.clone();
            let key = Key::UploadPart(&dir2, n).path();
            let len = chunk.min(size - n * chunk);
            async move { storage.get_range_stream(&key, 0..len).await }
        })
        .try_flatten()
        .boxed();
    let stored = crate::ingest::store_stream(&state, &url.uploader, parts, Some((sha, size))).await;
    state
        .storage
        .delete_prefix(&Key::UploadDir(&dir).path())
        .await?;
    stored?;
    tracing::info!(model = %url.model.full_name(), blob = %sha, bytes = size, parts = count, "LFS object assembled");
    Ok(json_status(StatusCode::OK, json!({})))
}

/// `POST /{owner}/{name}.git/info/lfs/objects/verify` `{"oid", "size"}` (authenticated).
pub async fn verify(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> HfResult<Response> {
    let name = repo.strip_suffix(".git").unwrap_or(&repo);
    let model = readable(&state, &caller, &owner, name).await?;
    super::writer(&state, &caller, &model.owner).await?;
    let v: LfsObject = parse(&body)?;
    let (oid, size) = (v.oid.as_str(), v.size);
    let sha = parse_object(oid)?;
    let referable = crate::access::referable_blobs(&state.db, &caller, &[sha]).await?;
    match blobs::find(&state.db, &sha)
        .await?
        .filter(|_| referable.contains(&sha))
    {
        Some(b) if size.is_none_or(|s| s == b.size) => Ok(lfs_json(StatusCode::OK, json!({}))),
        Some(b) => Err(HfError::invalid(format!(
            "object {oid} has {} bytes, not {}",
            b.size,
            size.unwrap_or_default()
        ))),
        None => Err(HfError::invalid(format!(
            "object {oid} was not received: upload it again"
        ))),
    }
}
