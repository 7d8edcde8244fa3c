//! Files and versions of a model: the tensor browser of a safetensors file
//! (read from its header by range reads), the history of a ref, and the
//! difference between two revisions. The file tree is `tree.rs`, one file's
//! page `blob.rs`.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use serde::{Deserialize, Serialize};

use super::model::{ModelHeader, load_model, load_revision, manifest_of};
use super::{
    OrPage, PageError, PageResult, When, human_count, human_size, page, path_url, seg, short, when,
};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::models::ModelRow;
use crate::db::web::{self as q, RevisionNode};
use crate::db::{blobs, refs};
use crate::error::{AppError, Path, Query};

/// A branch or tag, linked to its tree.
#[derive(Debug, Serialize)]
pub(super) struct RefLink {
    name: String,
    url: String,
    revision_short: String,
    current: bool,
}

pub(super) fn base_url(model: &ModelRow) -> String {
    format!("/{}/{}", seg(&model.owner), seg(&model.name))
}

pub(super) fn files_base(model: &ModelRow, revision: &str) -> String {
    format!(
        "/api/v1/models/{}/{}/files/{revision}/",
        seg(&model.owner),
        seg(&model.name)
    )
}

/// The model's branches and tags as links to `/{kind}/{ref}` pages.
pub(super) async fn ref_links(
    state: &AppState,
    model: &ModelRow,
    rev: &str,
    revision: &str,
    kind: &str,
) -> Result<(Vec<RefLink>, Vec<RefLink>), PageError> {
    let base = base_url(model);
    let mut branches = Vec::new();
    let mut tags = Vec::new();
    for r in refs::list(&state.db, &model.id).await.or_page(state)? {
        let link = RefLink {
            url: format!("{base}/{kind}/{}", seg(&r.name)),
            revision_short: short(&r.revision_id),
            current: r.name == rev || (rev == revision && r.revision_id == revision),
            name: r.name,
        };
        if r.kind == refs::BRANCH {
            branches.push(link)
        } else {
            tags.push(link)
        }
    }
    Ok((branches, tags))
}

#[derive(Debug, Serialize)]
struct TensorRow {
    name: String,
    dtype: String,
    shape: String,
    parameters: String,
    size: String,
}

#[derive(Serialize)]
struct TensorsPage {
    title: String,
    model: ModelHeader,
    rev: String,
    revision_short: String,
    path: String,
    tree_url: String,
    download_url: Option<String>,
    tensors: Vec<TensorRow>,
    total_parameters: String,
    metadata: Vec<(String, String)>,
}

/// Headers larger than this are not shown (the largest real ones are a few MB).
const MAX_BROWSED_HEADER: u64 = 32 * 1024 * 1024;

/// `GET /{owner}/{name}/tensors/{rev}/{path}`: the tensors a safetensors header declares.
pub async fn tensors(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, rev, path)): Path<(String, String, String, String)>,
) -> PageResult {
    let model = load_model(&state, &caller, &owner, &name).await?;
    let r = load_revision(&state, &model, &rev).await?;
    let manifest = manifest_of(&state, &r)?;
    let missing = || {
        AppError::EntryNotFound(format!(
            "revision {} has no safetensors file `{path}`",
            short(&r.id)
        ))
    };
    let file = manifest
        .file(&path)
        .filter(|_| path.ends_with(".safetensors"))
        .ok_or_else(missing)
        .or_page(&state)?;
    let layout = blobs::find(&state.db, &file.sha256)
        .await
        .or_page(&state)?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("blob {} is missing", file.sha256)))
        .or_page(&state)?;
    let prefix: [u8; 8] = state
        .storage
        .read_blob_range(layout, 0..8.min(layout.size))
        .await
        .or_page(&state)?
        .try_into()
        .map_err(|_| AppError::Invalid("the file is too short to be safetensors".into()))
        .or_page(&state)?;
    let n = granary_core::safetensors_header::check_prefix(layout.size, &prefix)
        .map_err(|e| AppError::Invalid(e.to_string()))
        .or_page(&state)?;
    if n > MAX_BROWSED_HEADER {
        return Err(AppError::TooLarge(format!(
            "this file's header is {n} bytes, too large to browse here"
        )))
        .or_page(&state);
    }
    let header = state
        .storage
        .read_blob_range(layout, 8..8 + n)
        .await
        .or_page(&state)?;
    let ParsedHeader { tensors, metadata } = parse_header(&header).or_page(&state)?;
    let total: u64 = tensors.iter().map(|t| t.1).sum();
    let base = base_url(&model);
    let header = ModelHeader::for_caller(&state, &caller, &model, "files").await?;
    page(
        &state,
        "tensors.html",
        &TensorsPage {
            title: format!("Tensors of {path} in {}", model.full_name()),
            download_url: header
                .downloadable
                .then(|| format!("{}{}", files_base(&model, &r.id), path_url(&path))),
            model: header,
            revision_short: short(&r.id),
            tree_url: format!("{base}/tree/{}", seg(&rev)),
            tensors: tensors.into_iter().map(|(row, _)| row).collect(),
            total_parameters: human_count(total),
            metadata,
            rev,
            path,
        },
    )
}

#[derive(Deserialize)]
struct TensorInfo {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

/// What a safetensors header lists.
struct ParsedHeader {
    /// The tensors in file order, each with its parameter count.
    tensors: Vec<(TensorRow, u64)>,
    /// The `__metadata__` entries, values as text.
    metadata: Vec<(String, String)>,
}

/// The tensors of a header, in file order, with their parameter counts; and `__metadata__`.
fn parse_header(header: &[u8]) -> Result<ParsedHeader, AppError> {
    let map: BTreeMap<String, serde_json::Value> = serde_json::from_slice(header)
        .map_err(|e| AppError::Invalid(format!("the safetensors header is not valid JSON: {e}")))?;
    let mut metadata = Vec::new();
    let mut tensors = Vec::new();
    for (name, value) in map {
        if name == "__metadata__" {
            if let Some(m) = value.as_object() {
                metadata = m
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string()),
                        )
                    })
                    .collect();
            }
            continue;
        }
        let info: TensorInfo = serde_json::from_value(value).map_err(|e| {
            AppError::Invalid(format!("tensor `{name}` in the header is malformed: {e}"))
        })?;
        let count: u64 = info.shape.iter().product();
        let shape = format!(
            "[{}]",
            info.shape
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        let bytes = info.data_offsets.1.saturating_sub(info.data_offsets.0);
        tensors.push((
            info.data_offsets.0,
            TensorRow {
                name,
                dtype: info.dtype,
                shape,
                parameters: human_count(count),
                size: human_size(bytes),
            },
            count,
        ));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    Ok(ParsedHeader {
        tensors: tensors.into_iter().map(|(_, row, n)| (row, n)).collect(),
        metadata,
    })
}

/// Revisions per page of the history.
const COMMITS_PER_PAGE: usize = 50;

#[derive(Serialize)]
struct CommitRow {
    id: String,
    short: String,
    author: String,
    author_url: String,
    message: String,
    created: When,
    tree_url: String,
    compare_url: Option<String>,
}

#[derive(Serialize)]
struct CommitsPage {
    title: String,
    model: ModelHeader,
    rev: String,
    commits: Vec<CommitRow>,
    next_url: Option<String>,
    branches: Vec<RefLink>,
    tags: Vec<RefLink>,
}

#[derive(Deserialize)]
pub struct CommitsQuery {
    /// Start from this revision (the next page's link).
    after: Option<String>,
}

/// Walks `start` and its parents, newest first, up to `limit` revisions.
pub fn walk<'a>(
    nodes: &'a HashMap<String, RevisionNode>,
    start: &str,
    limit: usize,
) -> Vec<&'a RevisionNode> {
    let mut out = Vec::new();
    let mut next = nodes.get(start);
    while let Some(node) = next {
        if out.len() == limit {
            break;
        }
        out.push(node);
        next = node.parent_id.as_deref().and_then(|p| nodes.get(p));
    }
    out
}

/// Every revision of a model by id.
pub async fn revision_graph(
    state: &AppState,
    model: &ModelRow,
) -> Result<HashMap<String, RevisionNode>, PageError> {
    Ok(q::revision_nodes(&state.db, &model.id)
        .await
        .or_page(state)?
        .into_iter()
        .map(|n| (n.id.clone(), n))
        .collect())
}

/// `GET /{owner}/{name}/commits/{rev}[?after=ID]`: the history of a ref, newest first.
pub async fn commits(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, rev)): Path<(String, String, String)>,
    Query(query): Query<CommitsQuery>,
) -> PageResult {
    let model = load_model(&state, &caller, &owner, &name).await?;
    let head = load_revision(&state, &model, &rev).await?;
    let nodes = revision_graph(&state, &model).await?;
    let start = match query.after.filter(|a| nodes.contains_key(a)) {
        Some(after) => after,
        None => head.id.clone(),
    };
    let mut chain = walk(&nodes, &start, COMMITS_PER_PAGE + 1);
    let next_url = (chain.len() > COMMITS_PER_PAGE).then(|| {
        let next = chain.pop().expect("longer than a page");
        format!(
            "{}/commits/{}?after={}",
            base_url(&model),
            seg(&rev),
            next.id
        )
    });
    let base = base_url(&model);
    let commits = chain
        .into_iter()
        .map(|n| CommitRow {
            short: short(&n.id),
            author: n.author.clone(),
            author_url: format!("/{}", seg(&n.author)),
            message: n.message.clone(),
            created: when(n.created_at),
            tree_url: format!("{base}/tree/{}", n.id),
            compare_url: n
                .parent_id
                .as_ref()
                .map(|p| format!("{base}/compare/{}...{}", p, n.id)),
            id: n.id.clone(),
        })
        .collect();
    let (branches, tags) = ref_links(&state, &model, &rev, &head.id, "commits").await?;
    page(
        &state,
        "commits.html",
        &CommitsPage {
            title: format!("History of {} at {rev}", model.full_name()),
            model: ModelHeader::for_caller(&state, &caller, &model, "commits").await?,
            rev,
            commits,
            next_url,
            branches,
            tags,
        },
    )
}

#[derive(Deserialize)]
pub struct CompareQuery {
    from: Option<String>,
    to: Option<String>,
}

/// `GET /{owner}/{name}/compare?from=A&to=B`: the form, or a redirect to `compare/A...B`.
pub async fn compare_form(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name)): Path<(String, String)>,
    Query(query): Query<CompareQuery>,
) -> PageResult {
    let model = load_model(&state, &caller, &owner, &name).await?;
    let nonempty = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    if let (Some(from), Some(to)) = (nonempty(query.from), nonempty(query.to)) {
        let url = format!("{}/compare/{}...{}", base_url(&model), seg(&from), seg(&to));
        return Ok(Redirect::to(&url).into_response());
    }
    render_compare(&state, &caller, &model, None).await
}

/// `GET /{owner}/{name}/compare/{a}...{b}`: files added, removed and changed from `a` to `b`.
pub async fn compare(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, spec)): Path<(String, String, String)>,
) -> PageResult {
    let model = load_model(&state, &caller, &owner, &name).await?;
    let Some((from, to)) = spec.split_once("...") else {
        return Err(AppError::NotFound(
            "compare two revisions as `compare/A...B`".into(),
        ))
        .or_page(&state);
    };
    render_compare(
        &state,
        &caller,
        &model,
        Some((from.to_string(), to.to_string())),
    )
    .await
}

#[derive(Serialize)]
struct Change {
    path: String,
    kind: &'static str,
    old_size: Option<String>,
    new_size: Option<String>,
    old_sha256: Option<String>,
    new_sha256: Option<String>,
    url: Option<String>,
}

#[derive(Serialize)]
struct ComparePage {
    title: String,
    model: ModelHeader,
    from: String,
    to: String,
    compared: bool,
    from_short: String,
    to_short: String,
    from_url: String,
    to_url: String,
    changes: Vec<Change>,
    added: usize,
    removed: usize,
    changed: usize,
    unchanged: usize,
}

async fn render_compare(
    state: &AppState,
    caller: &Caller,
    model: &ModelRow,
    pair: Option<(String, String)>,
) -> PageResult {
    let mut ctx = ComparePage {
        title: format!("Compare revisions of {}", model.full_name()),
        model: ModelHeader::for_caller(state, caller, model, "commits").await?,
        from: String::new(),
        to: String::new(),
        compared: false,
        from_short: String::new(),
        to_short: String::new(),
        from_url: String::new(),
        to_url: String::new(),
        changes: vec![],
        added: 0,
        removed: 0,
        changed: 0,
        unchanged: 0,
    };
    let Some((from, to)) = pair else {
        ctx.to = model.default_branch.clone();
        return page(state, "compare.html", &ctx);
    };
    let a = load_revision(state, model, &from).await?;
    let b = load_revision(state, model, &to).await?;
    let old = manifest_of(state, &a)?;
    let new = manifest_of(state, &b)?;
    let old_files: BTreeMap<&str, _> = old.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let new_files: BTreeMap<&str, _> = new.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let blobs = format!("{}/blob/{}/", base_url(model), b.id);
    for (path, f) in &new_files {
        match old_files.get(path) {
            None => {
                ctx.added += 1;
                ctx.changes.push(Change {
                    path: path.to_string(),
                    kind: "added",
                    old_size: None,
                    new_size: Some(human_size(f.size)),
                    old_sha256: None,
                    new_sha256: Some(f.sha256.hex()),
                    url: Some(format!("{blobs}{}", path_url(path))),
                });
            }
            Some(o) if o.sha256 != f.sha256 => {
                ctx.changed += 1;
                ctx.changes.push(Change {
                    path: path.to_string(),
                    kind: "changed",
                    old_size: Some(human_size(o.size)),
                    new_size: Some(human_size(f.size)),
                    old_sha256: Some(o.sha256.hex()),
                    new_sha256: Some(f.sha256.hex()),
                    url: Some(format!("{blobs}{}", path_url(path))),
                });
            }
            Some(_) => ctx.unchanged += 1,
        }
    }
    for (path, o) in &old_files {
        if !new_files.contains_key(path) {
            ctx.removed += 1;
            ctx.changes.push(Change {
                path: path.to_string(),
                kind: "removed",
                old_size: Some(human_size(o.size)),
                new_size: None,
                old_sha256: Some(o.sha256.hex()),
                new_sha256: None,
                url: None,
            });
        }
    }
    ctx.changes.sort_by(|x, y| x.path.cmp(&y.path));
    let base = base_url(model);
    ctx.compared = true;
    ctx.from_short = short(&a.id);
    ctx.to_short = short(&b.id);
    ctx.from_url = format!("{base}/tree/{}", a.id);
    ctx.to_url = format!("{base}/tree/{}", b.id);
    ctx.title = format!("{from}...{to} in {}", model.full_name());
    ctx.from = from;
    ctx.to = to;
    page(state, "compare.html", &ctx)
}

#[cfg(test)]
mod tests {
    use super::parse_header;

    #[test]
    fn lists_tensors_in_file_order() {
        let file = granary_core::safetensors_header::build(&[
            ("b.weight", "F32", vec![2, 3], vec![0; 24]),
            ("a.bias", "F32", vec![3], vec![0; 12]),
        ]);
        let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
        let tensors = parse_header(&file[8..8 + n]).unwrap().tensors;
        assert_eq!(tensors.len(), 2);
        assert_eq!(tensors[0].0.name, "b.weight");
        assert_eq!(tensors[0].0.shape, "[2, 3]");
        assert_eq!(tensors[0].1, 6);
    }
}
