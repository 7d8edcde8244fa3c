//! `/{owner}/{name}/tree/{ref}[/{dir}]`: the files and folders of one folder of
//! a revision, as the Hub shows them: each entry with its size and the last
//! revision that changed it, file names opening the file's page (`blob.rs`),
//! and download links only for those who may download (gated models).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use axum::extract::State;
use granary_core::manifest::Manifest;
use serde::Serialize;

use super::files::{RefLink, base_url, files_base, ref_links};
use super::model::{ModelHeader, load_model, load_revision, manifest_of};
use super::{OrPage, PageResult, When, human_count, human_size, page, path_url, seg, short, when};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::models::ModelRow;
use crate::db::revisions::{self, RevisionRow};
use crate::error::{AppError, Path};

/// How far back the "last change" of each entry is looked for.
const MAX_HISTORY: usize = 50;

#[derive(Debug, Serialize)]
struct Entry {
    name: String,
    folder: bool,
    url: String,
    size: String,
    bytes: u64,
    /// Files in a folder.
    files: usize,
    sha256: Option<String>,
    download_url: Option<String>,
    tensors_url: Option<String>,
    tensors: Option<u64>,
    parameters: Option<String>,
    last_change: Option<Change>,
}

/// The revision that last changed an entry.
#[derive(Debug, Clone, Serialize)]
struct Change {
    short: String,
    message: String,
    when: When,
    url: String,
}

#[derive(Debug, Serialize)]
struct Crumb {
    name: String,
    url: String,
}

#[derive(Serialize)]
struct TreePage {
    title: String,
    model: ModelHeader,
    rev: String,
    revision: String,
    revision_short: String,
    author: String,
    message: String,
    created: When,
    dir: String,
    crumbs: Vec<Crumb>,
    entries: Vec<Entry>,
    file_count: usize,
    total_size: String,
    branches: Vec<RefLink>,
    tags: Vec<RefLink>,
    history_url: String,
    /// Entries whose last change is older than the history looked at.
    history_cut: bool,
}

/// `GET /{owner}/{name}/tree/{rev}`: the top folder.
pub async fn tree(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, rev)): Path<(String, String, String)>,
) -> PageResult {
    folder(&state, &caller, &owner, &name, rev, String::new()).await
}

/// `GET /{owner}/{name}/tree/{rev}/{dir}`: a folder.
pub async fn tree_dir(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, rev, dir)): Path<(String, String, String, String)>,
) -> PageResult {
    let dir = dir.trim_matches('/').to_string();
    folder(&state, &caller, &owner, &name, rev, dir).await
}

async fn folder(
    state: &AppState,
    caller: &Caller,
    owner: &str,
    name: &str,
    rev: String,
    dir: String,
) -> PageResult {
    let model = load_model(state, caller, owner, name).await?;
    let r = load_revision(state, &model, &rev).await?;
    let manifest = manifest_of(state, &r)?;
    let header = ModelHeader::for_caller(state, caller, &model, "files").await?;
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let children = children(&manifest, &prefix);
    if children.is_empty() && !dir.is_empty() {
        return Err(AppError::EntryNotFound(format!(
            "revision {} has no folder `{dir}`",
            short(&r.id)
        )))
        .or_page(state);
    }
    let (changes, history_cut) = last_changes(state, &model, &r, &manifest, &prefix).await?;
    let base = base_url(&model);
    let downloads = files_base(&model, &r.id);
    let rev_seg = seg(&rev);
    let entries = children
        .into_iter()
        .map(|(child, c)| {
            let path = format!("{prefix}{child}");
            let last_change = changes.get(&child).cloned();
            match c {
                Child::Folder { files, bytes } => Entry {
                    url: format!("{base}/tree/{rev_seg}/{}", path_url(&path)),
                    name: child,
                    folder: true,
                    size: human_size(bytes),
                    bytes,
                    files,
                    sha256: None,
                    download_url: None,
                    tensors_url: None,
                    tensors: None,
                    parameters: None,
                    last_change,
                },
                Child::File(i) => {
                    let f = &manifest.files[i];
                    let is_st = path.ends_with(".safetensors");
                    Entry {
                        url: format!("{base}/blob/{rev_seg}/{}", path_url(&path)),
                        name: child,
                        folder: false,
                        size: human_size(f.size),
                        bytes: f.size,
                        files: 1,
                        sha256: Some(f.sha256.hex()),
                        download_url: header
                            .downloadable
                            .then(|| format!("{downloads}{}", path_url(&path))),
                        tensors_url: is_st
                            .then(|| format!("{base}/tensors/{rev_seg}/{}", path_url(&path))),
                        tensors: f.safetensors.as_ref().map(|s| s.tensors),
                        parameters: f
                            .safetensors
                            .as_ref()
                            .map(|s| human_count(s.total_parameters())),
                        last_change,
                    }
                }
            }
        })
        .collect::<Vec<_>>();
    let mut crumbs = vec![Crumb {
        name: model.name.clone(),
        url: format!("{base}/tree/{rev_seg}"),
    }];
    let mut sofar = String::new();
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        if !sofar.is_empty() {
            sofar.push('/');
        }
        sofar.push_str(part);
        crumbs.push(Crumb {
            name: part.to_string(),
            url: format!("{base}/tree/{rev_seg}/{}", path_url(&sofar)),
        });
    }
    let (branches, tags) = ref_links(state, &model, &rev, &r.id, "tree").await?;
    page(
        state,
        "tree.html",
        &TreePage {
            title: if dir.is_empty() {
                format!("Files of {} at {rev}", model.full_name())
            } else {
                format!("{dir} in {} at {rev}", model.full_name())
            },
            history_url: format!("{base}/commits/{rev_seg}"),
            model: header,
            revision_short: short(&r.id),
            author: r.author.clone(),
            message: r.message.clone(),
            created: when(r.created_at),
            file_count: manifest.files.len(),
            total_size: human_size(manifest.total_size()),
            revision: r.id.clone(),
            rev,
            dir,
            crumbs,
            entries,
            branches,
            tags,
            history_cut,
        },
    )
}

/// An entry of a folder: a file (its index in the manifest) or a folder.
enum Child {
    File(usize),
    Folder { files: usize, bytes: u64 },
}

/// The entries directly under `prefix`, folders first, each group by name.
fn children(manifest: &Manifest, prefix: &str) -> Vec<(String, Child)> {
    let mut folders: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    let mut files: BTreeMap<String, usize> = BTreeMap::new();
    for (i, f) in manifest.files.iter().enumerate() {
        let Some(rest) = f.path.as_str().strip_prefix(prefix) else {
            continue;
        };
        match rest.split_once('/') {
            Some((folder, _)) => {
                let e = folders.entry(folder.to_string()).or_default();
                e.0 += 1;
                e.1 += f.size;
            }
            None => {
                files.insert(rest.to_string(), i);
            }
        }
    }
    folders
        .into_iter()
        .map(|(n, (files, bytes))| (n, Child::Folder { files, bytes }))
        .chain(files.into_iter().map(|(n, i)| (n, Child::File(i))))
        .collect()
}

/// What each entry under `prefix` holds: a file's digest, or a hash of a folder's paths and
/// digests. An entry changed between two revisions when this differs.
fn signatures(manifest: &Manifest, prefix: &str) -> HashMap<String, u64> {
    let mut parts: BTreeMap<String, Vec<(&str, String)>> = BTreeMap::new();
    for f in &manifest.files {
        if let Some(rest) = f.path.as_str().strip_prefix(prefix) {
            let entry = rest.split('/').next().unwrap_or(rest);
            parts
                .entry(entry.to_string())
                .or_default()
                .push((rest, f.sha256.hex()));
        }
    }
    parts
        .into_iter()
        .map(|(entry, mut files)| {
            files.sort();
            let mut h = DefaultHasher::new();
            files.hash(&mut h);
            (entry, h.finish())
        })
        .collect()
}

/// The revision that last changed each entry under `prefix`, following first parents back
/// from `r` (at most [`MAX_HISTORY`] of them; `true` when some entry is older than that).
async fn last_changes(
    state: &AppState,
    model: &ModelRow,
    r: &Arc<RevisionRow>,
    manifest: &Manifest,
    prefix: &str,
) -> Result<(HashMap<String, Change>, bool), super::PageError> {
    let base = base_url(model);
    let change = |rev: &RevisionRow| Change {
        short: short(&rev.id),
        message: rev.message.lines().next().unwrap_or_default().to_string(),
        when: when(rev.created_at),
        url: format!("{base}/commit/{}", rev.id),
    };
    let mine = signatures(manifest, prefix);
    let mut pending: Vec<String> = mine.keys().cloned().collect();
    let mut found = HashMap::new();
    let mut current = r.clone();
    for _ in 0..MAX_HISTORY {
        let parent = match &current.parent_id {
            Some(id) => revisions::find(&state.db, &model.id, id)
                .await
                .or_page(state)?,
            None => None,
        };
        let Some(parent) = parent else {
            // The first revision added whatever is still unexplained.
            for entry in pending.drain(..) {
                found.insert(entry, change(&current));
            }
            break;
        };
        let theirs = signatures(&manifest_of(state, &parent)?, prefix);
        pending.retain(|entry| {
            if theirs.get(entry) == mine.get(entry) {
                return true;
            }
            found.insert(entry.clone(), change(&current));
            false
        });
        if pending.is_empty() {
            break;
        }
        current = parent;
    }
    Ok((found, !pending.is_empty()))
}
