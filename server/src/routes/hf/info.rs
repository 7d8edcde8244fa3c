//! Reading on the Hub surface: model info, the model listing, tree listings,
//! paths-info, refs and commit history.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, TryStreamExt};
use granary_core::manifest::{FileEntry, Manifest};
use granary_core::time::rfc3339;
use serde_json::{Value, json};

use super::{
    HfCaller, HfError, HfResult, base_url, commit_oid, manifest_files, oids, readable, revision,
};
use crate::app::AppState;
use crate::db::models::{ListFilter, ModelRow};
use crate::db::revisions::RevisionRow;
use crate::db::{models, refs, revisions};
use crate::error::{AppError, Path};

/// The query pairs of a request (repeated keys kept, `expand[]` read as `expand`).
fn query_pairs(raw: &Option<String>) -> Vec<(String, String)> {
    raw.as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.trim_end_matches("[]").to_string(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn flag(pairs: &[(String, String)], key: &str) -> bool {
    matches!(first(pairs, key), Some("true" | "1" | "True"))
}

/// The `Link: <…>; rel="next"` header for the next page: this URL with `cursor` replaced.
fn next_link(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    pairs: &[(String, String)],
    cursor: &str,
) -> HfResult<HeaderValue> {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(k, _)| k != "cursor") {
        q.append_pair(k, v);
    }
    q.append_pair("cursor", cursor);
    let link = format!(
        "<{}{path}?{}>; rel=\"next\"",
        base_url(state, headers),
        q.finish()
    );
    HeaderValue::from_str(&link).map_err(|e| AppError::internal(e).into())
}

/// The tags the Hub would show: the card's, the library, the license, `safetensors`.
fn tags(card: &Value, manifest: Option<&Manifest>, license: Option<&str>) -> Vec<String> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    if let Some(list) = card.get("tags").and_then(Value::as_array) {
        out.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
    } else if let Some(t) = card.get("tags").and_then(Value::as_str) {
        out.insert(t.to_string());
    }
    if let Some(lib) = card.get("library_name").and_then(Value::as_str) {
        out.insert(lib.to_string());
    }
    if manifest.is_some_and(|m| m.files.iter().any(|f| f.safetensors.is_some())) {
        out.insert("safetensors".into());
    }
    if let Some(l) = license {
        out.insert(format!("license:{}", l.to_ascii_lowercase()));
    }
    out.into_iter().collect()
}

/// The Hub's ModelInfo JSON for a model and (if it has one) a revision.
async fn model_json(
    state: &AppState,
    model: &ModelRow,
    r: Option<&RevisionRow>,
    with_blobs: bool,
) -> HfResult<Value> {
    let mut v = json!({
        "_id": model.id,
        "id": model.full_name(),
        "modelId": model.full_name(),
        "author": model.owner,
        "private": model.private,
        "gated": if model.gated { json!("manual") } else { json!(false) },
        "disabled": false,
        "downloads": model.downloads,
        "likes": 0,
        "createdAt": rfc3339(model.created_at),
        "lastModified": rfc3339(model.updated_at),
        "siblings": [],
        "tags": [],
    });
    let Some(r) = r else { return Ok(v) };
    let manifest = manifest_files(r)?;
    let card: Value = serde_json::from_str(&r.card).unwrap_or_else(|_| json!({}));
    let mut siblings = Vec::with_capacity(manifest.files.len());
    for f in &manifest.files {
        let mut s = json!({"rfilename": f.path.as_str(), "size": f.size});
        if with_blobs {
            s["blobId"] = json!(oids::tree_oid(state, &f.sha256, f.size).await?);
            if f.size > super::inline_max(state) {
                let pointer = oids::lfs_pointer(&f.sha256, f.size);
                s["lfs"] =
                    json!({"sha256": f.sha256, "size": f.size, "pointerSize": pointer.len()});
            }
        }
        siblings.push(s);
    }
    v["sha"] = json!(commit_oid(&r.id));
    v["lastModified"] = json!(rfc3339(r.created_at));
    v["siblings"] = json!(siblings);
    v["tags"] = json!(tags(&card, Some(&manifest), Some(&r.license_id)));
    v["cardData"] = card.clone();
    v["usedStorage"] = json!(r.total_size);
    for key in ["pipeline_tag", "library_name"] {
        if let Some(s) = card.get(key).and_then(Value::as_str) {
            v[key] = json!(s);
        }
    }
    let parameters = manifest.parameters();
    if !parameters.is_empty() {
        let total: u64 = parameters.values().sum();
        v["safetensors"] = json!({"parameters": parameters, "total": total});
    }
    Ok(v)
}

/// `GET /api/models/{owner}/{name}`: the model at the head of its default branch.
pub async fn model_info(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    Path((owner, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> HfResult<Response> {
    let model = readable(&state, &caller, &owner, &name).await?;
    let head = match &model.head_revision {
        Some(h) => revisions::find(&state.db, &model.id, h).await?,
        None => None,
    };
    let blobs = flag(&query_pairs(&raw), "blobs");
    Ok(axum::Json(model_json(&state, &model, head.as_deref(), blobs).await?).into_response())
}

/// `GET /api/models/{owner}/{name}/revision/{rev}`.
pub async fn model_info_at(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    Path((owner, name, rev)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> HfResult<Response> {
    let model = readable(&state, &caller, &owner, &name).await?;
    let r = revision(&state, &model, &rev).await?;
    let blobs = flag(&query_pairs(&raw), "blobs");
    Ok(axum::Json(model_json(&state, &model, Some(&r), blobs).await?).into_response())
}

/// `GET /api/models?search=&author=&filter=&limit=&full=&cursor=`: public models by
/// name (the Hub's `sort` keys are accepted; the order is by name).
pub async fn list_models(
    State(state): State<AppState>,
    // Unused but checked: a bad token is 401 here too, never silently anonymous.
    HfCaller(_caller): HfCaller,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> HfResult<Response> {
    let pairs = query_pairs(&raw);
    let limit: u32 = first(&pairs, "limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100)
        .clamp(1, 100);
    let filters: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "filter")
        .map(|(_, v)| v.to_string())
        .collect();
    let full = flag(&pairs, "full");
    let filter = ListFilter {
        owner: first(&pairs, "author")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        text: first(&pairs, "search")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        license: None,
        after: first(&pairs, "cursor")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        limit,
        ..Default::default()
    };
    let mut rows = models::list(&state.db, &filter).await?;
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|m| m.full_name().to_ascii_lowercase())
    } else {
        None
    };
    let mut out = Vec::with_capacity(rows.len());
    for m in &rows {
        let head = match &m.head_revision {
            Some(h) => revisions::find(&state.db, &m.id, h).await?,
            None => None,
        };
        let mut v = model_json(&state, m, head.as_deref(), false).await?;
        let tags: Vec<&str> = v["tags"]
            .as_array()
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let pipeline = v["pipeline_tag"].as_str();
        let library = v["library_name"].as_str();
        let keep = filters.iter().all(|f| {
            tags.contains(&f.as_str())
                || pipeline == Some(f.as_str())
                || library == Some(f.as_str())
        });
        if !keep {
            continue;
        }
        if !full && let Some(o) = v.as_object_mut() {
            o.remove("siblings");
            o.remove("cardData");
        }
        out.push(v);
    }
    let mut res = axum::Json(out).into_response();
    if let Some(cursor) = next {
        res.headers_mut().insert(
            header::LINK,
            next_link(&state, &headers, "/api/models", &pairs, &cursor)?,
        );
    }
    Ok(res)
}

/// One entry of a tree listing (§1.2 of the protocol notes).
async fn file_entry(state: &AppState, f: &FileEntry) -> HfResult<Value> {
    let mut v = json!({
        "type": "file",
        "path": f.path.as_str(),
        "oid": oids::tree_oid(state, &f.sha256, f.size).await?,
        "size": f.size,
    });
    if f.size > super::inline_max(state) {
        let pointer = oids::lfs_pointer(&f.sha256, f.size);
        v["lfs"] = json!({"oid": f.sha256, "size": f.size, "pointerSize": pointer.len()});
    }
    // Uploaded over Xet: its Xet file hash, as the Hub lists it.
    if let Some(xet) = crate::db::xet::file_of_blob(&state.db, &f.sha256.hex()).await? {
        v["xetHash"] = json!(xet.file_hash);
    }
    Ok(v)
}

/// What a tree listing of `dir` holds: `(path, Some(file))` or `(path, None)` for a directory.
fn tree_items<'a>(
    manifest: &'a Manifest,
    dir: &str,
    recursive: bool,
) -> Vec<(String, Option<&'a FileEntry>)> {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut items: BTreeMap<String, Option<&FileEntry>> = BTreeMap::new();
    for f in &manifest.files {
        let Some(rest) = f.path.as_str().strip_prefix(&prefix) else {
            continue;
        };
        let segments: Vec<&str> = rest.split('/').collect();
        for i in 1..segments.len() {
            if !recursive && i > 1 {
                break;
            }
            items.insert(format!("{prefix}{}", segments[..i].join("/")), None);
        }
        if recursive || segments.len() == 1 {
            items.insert(f.path.to_string(), Some(f));
        }
    }
    // Directories first, then files, each by path (as the Hub lists them).
    let mut out: Vec<_> = items.into_iter().collect();
    out.sort_by(|a, b| (a.1.is_some(), &a.0).cmp(&(b.1.is_some(), &b.0)));
    out
}

async fn tree(
    state: AppState,
    caller: crate::auth::Caller,
    headers: HeaderMap,
    (owner, name, rev, dir): (String, String, String, String),
    raw: Option<String>,
) -> HfResult<Response> {
    let model = readable(&state, &caller, &owner, &name).await?;
    let r = revision(&state, &model, &rev).await?;
    let manifest = manifest_files(&r)?;
    let pairs = query_pairs(&raw);
    let dir = dir.trim_matches('/').to_string();
    let items = tree_items(&manifest, &dir, flag(&pairs, "recursive"));
    if items.is_empty() && !dir.is_empty() {
        return Err(HfError::entry_not_found(
            format!(
                "{dir} is not a folder of revision {} of {}",
                commit_oid(&r.id),
                model.full_name()
            ),
            commit_oid(&r.id),
        ));
    }
    let limit: usize = first(&pairs, "limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(1000)
        .clamp(1, 1000);
    let start: usize = first(&pairs, "cursor")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let page: Vec<(String, Option<FileEntry>)> = items
        .iter()
        .skip(start)
        .take(limit)
        .map(|(p, f)| (p.clone(), f.cloned()))
        .collect();
    let entries: Vec<Value> = futures::stream::iter(page)
        .map(|(path, file)| {
            let state = state.clone();
            let rid = r.id.clone();
            async move {
                match file {
                    Some(f) => file_entry(&state, &f).await,
                    None => Ok(json!({"type": "directory", "path": path, "oid": oids::directory_oid(&rid, &path)})),
                }
            }
        })
        .buffered(4)
        .try_collect()
        .await?;
    let mut res = axum::Json(entries).into_response();
    if start + limit < items.len() {
        let path = if dir.is_empty() {
            format!("/api/models/{}/tree/{}", model.full_name(), urlencode(&rev))
        } else {
            format!(
                "/api/models/{}/tree/{}/{dir}",
                model.full_name(),
                urlencode(&rev)
            )
        };
        let link = next_link(
            &state,
            &headers,
            &path,
            &pairs,
            &(start + limit).to_string(),
        )?;
        res.headers_mut().insert(header::LINK, link);
    }
    Ok(res)
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `GET /api/models/{owner}/{name}/tree/{rev}`.
pub async fn tree_root(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    headers: HeaderMap,
    Path((owner, name, rev)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> HfResult<Response> {
    tree(
        state,
        caller,
        headers,
        (owner, name, rev, String::new()),
        raw,
    )
    .await
}

/// `GET /api/models/{owner}/{name}/tree/{rev}/{path…}`.
pub async fn tree_path(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    headers: HeaderMap,
    Path(p): Path<(String, String, String, String)>,
    RawQuery(raw): RawQuery,
) -> HfResult<Response> {
    tree(state, caller, headers, p, raw).await
}

/// `POST /api/models/{owner}/{name}/paths-info/{rev}`, form-encoded
/// `paths=a&paths=b&expand=false` (a JSON `{"paths": [...]}` body is read too).
pub async fn paths_info(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    headers: HeaderMap,
    Path((owner, name, rev)): Path<(String, String, String)>,
    body: Bytes,
) -> HfResult<Response> {
    let model = readable(&state, &caller, &owner, &name).await?;
    let r = revision(&state, &model, &rev).await?;
    let manifest = manifest_files(&r)?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("json"));
    let paths: Vec<String> = if is_json {
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| HfError::invalid(format!("invalid JSON body: {e}")))?;
        v["paths"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    } else {
        url::form_urlencoded::parse(&body)
            .filter(|(k, _)| k == "paths" || k == "paths[]")
            .map(|(_, v)| v.into_owned())
            .collect()
    };
    let mut out = Vec::new();
    for p in paths {
        let p = p.trim_matches('/');
        if let Some(f) = manifest.files.iter().find(|f| f.path.as_str() == p) {
            out.push(file_entry(&state, f).await?);
        } else if manifest
            .files
            .iter()
            .any(|f| f.path.as_str().starts_with(&format!("{p}/")))
        {
            out.push(json!({"type": "directory", "path": p, "oid": oids::directory_oid(&r.id, p)}));
        }
    }
    Ok(axum::Json(out).into_response())
}

/// `GET /api/models/{owner}/{name}/refs[?include_prs=1]`.
pub async fn list_refs(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    Path((owner, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> HfResult<Response> {
    let model = readable(&state, &caller, &owner, &name).await?;
    let (mut branches, mut tags) = (Vec::new(), Vec::new());
    for r in refs::list(&state.db, &model.id).await? {
        let (list, prefix) = if r.kind == refs::BRANCH {
            (&mut branches, "refs/heads")
        } else {
            (&mut tags, "refs/tags")
        };
        list.push(json!({"name": r.name, "ref": format!("{prefix}/{}", r.name), "targetCommit": commit_oid(&r.revision_id)}));
    }
    let mut v = json!({"branches": branches, "tags": tags, "converts": []});
    if flag(&query_pairs(&raw), "include_prs") {
        v["pullRequests"] = json!([]);
    }
    Ok(axum::Json(v).into_response())
}

/// `GET /api/models/{owner}/{name}/commits/{rev}?p=&limit=`: newest first, following parents.
pub async fn list_commits(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    headers: HeaderMap,
    Path((owner, name, rev)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> HfResult<Response> {
    let model = readable(&state, &caller, &owner, &name).await?;
    let pairs = query_pairs(&raw);
    let limit: usize = first(&pairs, "limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(50)
        .clamp(1, 1000);
    let page: usize = first(&pairs, "p").and_then(|l| l.parse().ok()).unwrap_or(0);
    let start = revision(&state, &model, &rev).await?;
    let mut out = Vec::new();
    let mut skipped = 0;
    let mut more = false;
    let mut next = Some(start);
    while let Some(r) = next.take() {
        if out.len() == limit {
            more = true;
            break;
        }
        next = match &r.parent_id {
            Some(p) => revisions::find(&state.db, &model.id, p).await?,
            None => None,
        };
        if skipped < page * limit {
            skipped += 1;
            continue;
        }
        let (title, message) = match r.message.split_once('\n') {
            Some((t, m)) => (t.to_string(), m.trim_start().to_string()),
            None => (r.message.clone(), String::new()),
        };
        out.push(json!({
            "id": commit_oid(&r.id),
            "authors": [{"user": r.author}],
            "date": rfc3339(r.created_at),
            "title": title,
            "message": message,
        }));
    }
    let mut res = axum::Json(out).into_response();
    if more {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(k, _)| k != "p") {
            q.append_pair(k, v);
        }
        q.append_pair("p", &(page + 1).to_string());
        let link = format!(
            "<{}/api/models/{}/commits/{}?{}>; rel=\"next\"",
            base_url(&state, &headers),
            model.full_name(),
            urlencode(&rev),
            q.finish()
        );
        res.headers_mut().insert(
            header::LINK,
            HeaderValue::from_str(&link).map_err(AppError::internal)?,
        );
    }
    Ok(res)
}
