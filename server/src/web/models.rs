//! `/models`: the model list with text search, filters (license and
//! "permissive only", architecture, task, library, verification status,
//! owner), sorts and pages. Every choice lives in the query string, so a
//! filtered list is a link that can be shared.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::{OrPage, PageResult, When, human_count, human_size, page, query_value, seg, when};
use crate::app::AppState;
use crate::db::blobs;
use crate::db::web::{self as q, ListedModel, Search, Sort};
use crate::error::Query;

/// Models per page of the list.
pub const PER_PAGE: u64 = 20;

/// A model as a list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ModelItem {
    pub id: String,
    pub url: String,
    pub owner: String,
    pub owner_url: String,
    pub name: String,
    pub private: bool,
    pub license: Option<String>,
    pub permissive: bool,
    pub task: Option<String>,
    pub library: Option<String>,
    pub parameters: Option<String>,
    pub size: String,
    pub files: i64,
    pub downloads: i64,
    pub updated: When,
    pub verification: Option<String>,
    pub architecture: Option<String>,
    #[serde(skip)]
    pub model_id: String,
    #[serde(skip)]
    pub head: String,
}

/// The list view of a model row (architecture filled in later, when needed).
pub fn item(m: &ListedModel) -> ModelItem {
    let card: serde_json::Value = serde_json::from_str(&m.card).unwrap_or_default();
    let text = |key: &str| crate::publish::card::field(&card, key).map(str::to_string);
    ModelItem {
        id: format!("{}/{}", m.owner, m.name),
        url: format!("/{}/{}", seg(&m.owner), seg(&m.name)),
        owner: m.owner.clone(),
        owner_url: format!("/{}", seg(&m.owner)),
        name: m.name.clone(),
        private: m.private,
        license: m.license_id.clone(),
        permissive: m.permissive,
        task: text("pipeline_tag"),
        library: text("library_name"),
        parameters: (m.parameter_total > 0).then(|| human_count(m.parameter_total as u64)),
        size: human_size(m.total_size as u64),
        files: m.file_count,
        downloads: m.downloads,
        updated: when(m.updated_at),
        verification: m.verification.clone(),
        architecture: None,
        model_id: m.id.clone(),
        head: m.head_revision.clone(),
    }
}

/// The query string of `/models`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub license: String,
    /// `on` (a checked checkbox) or `1`.
    #[serde(default)]
    pub permissive: String,
    #[serde(default)]
    pub arch: String,
    #[serde(default)]
    pub task: String,
    #[serde(default)]
    pub library: String,
    #[serde(default)]
    pub verified: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub page: Option<String>,
}

impl ListQuery {
    fn search(&self) -> Search {
        let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        Search {
            text: some(&self.q),
            owner: some(&self.owner),
            license: some(&self.license),
            permissive_only: matches!(self.permissive.as_str(), "on" | "1" | "true"),
            task: some(&self.task),
            library: some(&self.library),
            verification: some(&self.verified).filter(|v| {
                matches!(
                    v.as_str(),
                    "passed" | "degraded" | "failed" | "error" | "unverified"
                )
            }),
            sort: sort_of(&self.sort),
        }
    }

    fn page(&self) -> u64 {
        self.page
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .clamp(1, 10_000)
    }

    /// The query string of this list at page `page` (empty values left out).
    fn href(&self, page: u64) -> String {
        let pairs = [
            ("q", &self.q),
            ("license", &self.license),
            ("permissive", &self.permissive),
            ("arch", &self.arch),
            ("task", &self.task),
            ("library", &self.library),
            ("verified", &self.verified),
            ("owner", &self.owner),
            ("sort", &self.sort),
        ];
        let mut parts: Vec<String> = pairs
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| format!("{k}={}", query_value(v.trim())))
            .collect();
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        if parts.is_empty() {
            "/models".into()
        } else {
            format!("/models?{}", parts.join("&"))
        }
    }
}

fn sort_of(s: &str) -> Sort {
    match s {
        "updated" => Sort::Updated,
        "name" => Sort::Name,
        "parameters" => Sort::Parameters,
        _ => Sort::Downloads,
    }
}

#[derive(Serialize)]
struct ListPage {
    title: String,
    query: ListQuery,
    permissive_checked: bool,
    sort: &'static str,
    models: Vec<ModelItem>,
    total: u64,
    page: u64,
    pages: u64,
    prev_url: Option<String>,
    next_url: Option<String>,
    licenses: &'static [&'static str],
    tasks: &'static [&'static str],
}

/// Common choices offered by the filter inputs (any value may be typed).
const LICENSES: &[&str] = &[
    "apache-2.0",
    "mit",
    "bsd-3-clause",
    "bsd-2-clause",
    "cc-by-4.0",
    "cc-by-sa-4.0",
    "openrail",
    "llama3",
    "gemma",
    "other",
];
const TASKS: &[&str] = &[
    "text-generation",
    "text-classification",
    "token-classification",
    "fill-mask",
    "feature-extraction",
    "sentence-similarity",
    "question-answering",
    "summarization",
    "translation",
    "image-classification",
    "automatic-speech-recognition",
    "text-to-image",
];

/// `GET /models`.
pub async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> PageResult {
    let search = query.search();
    let page_no = query.page();
    let arch = query.arch.trim().to_string();
    let (mut models, total) = if arch.is_empty() {
        let total = q::count(&state.db, &search).await.or_page(&state)? as u64;
        let rows = q::search(&state.db, &search, (page_no - 1) * PER_PAGE, Some(PER_PAGE))
            .await
            .or_page(&state)?;
        (rows.iter().map(item).collect::<Vec<_>>(), total)
    } else {
        // The architecture is in each head revision's config.json, not in the database:
        // filter the other way's matches here, then page.
        let rows = q::search(&state.db, &search, 0, None)
            .await
            .or_page(&state)?;
        let mut matched = Vec::new();
        for row in &rows {
            let found = architecture(&state, &row.id, &row.head_revision).await;
            if found
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(&arch))
            {
                let mut it = item(row);
                it.architecture = found;
                matched.push(it);
            }
        }
        let total = matched.len() as u64;
        let start = ((page_no - 1) * PER_PAGE) as usize;
        (
            matched
                .into_iter()
                .skip(start)
                .take(PER_PAGE as usize)
                .collect(),
            total,
        )
    };
    for m in models.iter_mut().filter(|m| m.architecture.is_none()) {
        m.architecture = architecture(&state, &m.model_id, &m.head).await;
    }
    let pages = total.div_ceil(PER_PAGE).max(1);
    let title = match search.text.as_deref() {
        Some(t) => format!("Models matching “{t}”"),
        None => "Models".to_string(),
    };
    page(
        &state,
        "models.html",
        &ListPage {
            title,
            permissive_checked: search.permissive_only,
            sort: match search.sort {
                Sort::Downloads => "downloads",
                Sort::Updated => "updated",
                Sort::Name => "name",
                Sort::Parameters => "parameters",
            },
            models,
            total,
            page: page_no,
            pages,
            prev_url: (page_no > 1).then(|| query.href(page_no - 1)),
            next_url: (page_no < pages).then(|| query.href(page_no + 1)),
            licenses: LICENSES,
            tasks: TASKS,
            query,
        },
    )
}

/// `architectures[0]` of config.json, by the blob's digest: blobs never change.
static ARCHITECTURES: LazyLock<Mutex<HashMap<String, Option<String>>>> =
    LazyLock::new(Default::default);

/// The architecture config.json of a revision names (`LlamaForCausalLM`), if any.
pub async fn architecture(state: &AppState, model_id: &str, revision_id: &str) -> Option<String> {
    let sha = q::file_digest(&state.db, model_id, revision_id, "config.json")
        .await
        .ok()??;
    if let Some(hit) = ARCHITECTURES.lock().ok()?.get(&sha) {
        return hit.clone();
    }
    let found = read_architecture(state, &sha).await;
    if let Ok(mut cache) = ARCHITECTURES.lock() {
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.insert(sha, found.clone());
    }
    found
}

async fn read_architecture(state: &AppState, sha: &str) -> Option<String> {
    const MAX_CONFIG: u64 = 1024 * 1024;
    let layout = blobs::find(&state.db, &sha.parse().ok()?).await.ok()??;
    if layout.size > MAX_CONFIG {
        return None;
    }
    let bytes = state
        .storage
        .read_blob_range(layout, 0..layout.size)
        .await
        .ok()?;
    let config: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    config
        .get("architectures")
        .and_then(|a| a.get(0))
        .and_then(|a| a.as_str())
        .or_else(|| config.get("model_type").and_then(|t| t.as_str()))
        .map(|s| s.chars().take(100).collect())
}
