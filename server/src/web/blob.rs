//! One file of a revision, at the Hub's URLs: `/{owner}/{name}/blob/{ref}/{path}`
//! shows it (text, JSON and YAML highlighted, Markdown rendered, safetensors
//! opening their tensor view, other binaries as size and SHA-256), `raw/` sends
//! its bytes as plain text, and `/{owner}/{name}/commit/{id}` (the URL `hf
//! upload` prints) shows what a revision changed. GGUF files show their header's metadata
//! and tensors (`granary_core::checks::gguf`).
//!
//! The bytes are shown only to those who may download them (a gated model's
//! license accepted): the page is built from the same access checks as the
//! downloads (`access::may_download`, `downloads::open`). Everything shown is
//! escaped (`highlight.rs`) or sanitised (`render.rs`).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Redirect};
use serde::Serialize;

use super::files::{base_url, files_base};
use super::highlight::{Syntax, highlight};
use super::model::{ModelHeader, load_model, load_revision, manifest_of};
use super::{OrPage, PageResult, human_size, page, path_url, seg, short};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::blobs;
use crate::error::{AppError, Path};

/// The largest file shown on its page; bigger ones are offered for download.
pub const MAX_SHOWN: u64 = 1024 * 1024;

/// What the page shows of the file.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum View {
    /// Highlighted text, in `html`.
    Text,
    /// Rendered Markdown, in `html`.
    Markdown,
    /// Not text: size and digest only.
    Binary,
    /// Text, but more than [`MAX_SHOWN`] bytes.
    TooLarge,
    /// A gated model whose license the viewer has not accepted.
    Gated,
    /// A GGUF file's header: metadata and tensors, in `gguf`.
    Gguf,
}

/// The largest GGUF header read (tokenizer vocabularies make them megabytes).
const MAX_GGUF_HEADER: u64 = 32 * 1024 * 1024;

#[derive(Serialize)]
struct GgufView {
    version: u32,
    metadata: Vec<(String, String)>,
    tensors: Vec<(String, String, String)>,
}

#[derive(Serialize)]
struct Crumb {
    name: String,
    url: String,
}

#[derive(Serialize)]
struct BlobPage {
    title: String,
    model: ModelHeader,
    rev: String,
    revision_short: String,
    path: String,
    crumbs: Vec<Crumb>,
    size: String,
    bytes: u64,
    sha256: String,
    view: View,
    html: Option<String>,
    gguf: Option<GgufView>,
    /// Why a GGUF header could not be shown.
    problem: Option<String>,
    lines: usize,
    download_url: Option<String>,
    raw_url: Option<String>,
    tree_url: String,
    max_shown: String,
}

/// `GET /{owner}/{name}/blob/{rev}/{path}`.
pub async fn blob(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, rev, path)): Path<(String, String, String, String)>,
) -> PageResult {
    let model = load_model(&state, &caller, &owner, &name).await?;
    let r = load_revision(&state, &model, &rev).await?;
    let manifest = manifest_of(&state, &r)?;
    let file = manifest
        .file(&granary_core::paths::nfc(&path))
        .ok_or_else(|| {
            AppError::EntryNotFound(format!("revision {} has no file `{path}`", short(&r.id)))
        })
        .or_page(&state)?
        .clone();
    let base = base_url(&model);
    let rev_seg = seg(&rev);
    if path.ends_with(".safetensors") {
        let url = format!("{base}/tensors/{rev_seg}/{}", path_url(&path));
        return Ok(Redirect::to(&url).into_response());
    }
    let header = ModelHeader::for_caller(&state, &caller, &model, "files").await?;
    let downloadable = header.downloadable;
    let mut gguf = None;
    let mut problem = None;
    let (view, html, lines) = if !downloadable {
        (View::Gated, None, 0)
    } else if path.to_ascii_lowercase().ends_with(".gguf") {
        let layout = blobs::find(&state.db, &file.sha256)
            .await
            .or_page(&state)?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("blob {} is missing", file.sha256)))
            .or_page(&state)?;
        let bytes = state
            .storage
            .read_blob_range(layout, 0..layout.size.min(MAX_GGUF_HEADER))
            .await
            .or_page(&state)?;
        match granary_core::checks::gguf::parse(&bytes) {
            Ok(h) => {
                gguf = Some(GgufView {
                    version: h.version,
                    metadata: h.metadata,
                    tensors: h
                        .tensors
                        .into_iter()
                        .map(|(n, t, shape)| (n, t, format!("{shape:?}")))
                        .collect(),
                });
                (View::Gguf, None, 0)
            }
            Err(e) => {
                problem = Some(e);
                (View::Binary, None, 0)
            }
        }
    } else if file.size > MAX_SHOWN {
        (
            if looks_binary(&path) {
                View::Binary
            } else {
                View::TooLarge
            },
            None,
            0,
        )
    } else {
        let layout = blobs::find(&state.db, &file.sha256)
            .await
            .or_page(&state)?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("blob {} is missing", file.sha256)))
            .or_page(&state)?;
        let bytes = state
            .storage
            .read_blob_range(layout, 0..layout.size)
            .await
            .or_page(&state)?;
        match std::str::from_utf8(&bytes) {
            Ok(text) if !text.contains('\0') && !looks_binary(&path) => {
                let lines = text.lines().count();
                if is_markdown(&path) {
                    let files = files_base(&model, &r.id);
                    let html = super::render::markdown_to_safe_html(
                        super::render::strip_front_matter(text),
                        &files,
                    );
                    (View::Markdown, Some(html), lines)
                } else {
                    (View::Text, Some(highlight(Syntax::of(&path), text)), lines)
                }
            }
            _ => (View::Binary, None, 0),
        }
    };
    let mut crumbs = vec![Crumb {
        name: model.name.clone(),
        url: format!("{base}/tree/{rev_seg}"),
    }];
    let parts: Vec<&str> = path.split('/').collect();
    for i in 0..parts.len() {
        let sofar = parts[..=i].join("/");
        let kind = if i + 1 == parts.len() { "blob" } else { "tree" };
        crumbs.push(Crumb {
            name: parts[i].to_string(),
            url: format!("{base}/{kind}/{rev_seg}/{}", path_url(&sofar)),
        });
    }
    let download_url =
        downloadable.then(|| format!("{}{}", files_base(&model, &r.id), path_url(&path)));
    let raw_url = (downloadable && view != View::Binary)
        .then(|| format!("{base}/raw/{}/{}", r.id, path_url(&path)));
    page(
        &state,
        "blob.html",
        &BlobPage {
            title: format!("{path} · {}", model.full_name()),
            model: header,
            revision_short: short(&r.id),
            tree_url: format!("{base}/tree/{rev_seg}"),
            size: human_size(file.size),
            bytes: file.size,
            sha256: file.sha256.hex(),
            max_shown: human_size(MAX_SHOWN),
            rev,
            path,
            crumbs,
            view,
            html,
            gguf,
            problem,
            lines,
            download_url,
            raw_url,
        },
    )
}

/// Files that are never shown as text, whatever their bytes.
fn looks_binary(path: &str) -> bool {
    const BINARY: [&str; 14] = [
        ".safetensors",
        ".gguf",
        ".bin",
        ".pt",
        ".pth",
        ".onnx",
        ".ckpt",
        ".h5",
        ".msgpack",
        ".npz",
        ".npy",
        ".zip",
        ".tar",
        ".gz",
    ];
    let lower = path.to_ascii_lowercase();
    BINARY.iter().any(|ext| lower.ends_with(ext))
}

fn is_markdown(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".md") || lower.ends_with(".markdown")
}

/// `GET /{owner}/{name}/raw/{rev}/{path}`: the file's bytes as plain text in the browser,
/// through the same checks as every download (`downloads::open`). Sent as
/// `text/plain` with `nosniff` and a sandboxing CSP, so no file runs as a page.
pub async fn raw(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    Path((owner, name, rev, path)): Path<(String, String, String, String)>,
) -> PageResult {
    let id = granary_core::ModelId::new(&owner, &name)
        .map_err(|_| AppError::model_not_found(&format!("{owner}/{name}")))
        .or_page(&state)?;
    let source = crate::downloads::open(&state, &caller, &id, &rev)
        .await
        .or_page(&state)?;
    let file = source
        .file(&state, &path)
        .await
        .or_page(&state)?
        .ok_or_else(|| AppError::EntryNotFound(format!("no file `{path}` at `{rev}`")))
        .or_page(&state)?;
    let mut res = crate::downloads::serve_file(&state, &method, &headers, &file)
        .await
        .or_page(&state)?;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    Ok(res)
}

/// `GET /{owner}/{name}/commit/{rev}`: what a revision changed (the URL `hf upload` prints,
/// with the Hub's 40-hex alias of a revision id); the first revision shows its files.
pub async fn commit(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, rev)): Path<(String, String, String)>,
) -> PageResult {
    let model = load_model(&state, &caller, &owner, &name).await?;
    let r = load_revision(&state, &model, &rev).await?;
    let base = base_url(&model);
    let url = match &r.parent_id {
        Some(parent) => format!("{base}/compare/{parent}...{}", r.id),
        None => format!("{base}/tree/{}", r.id),
    };
    Ok(Redirect::to(&url).into_response())
}
