//! `/{owner}/{name}`: a model's page. The card (README.md) rendered safely,
//! its front matter as badges, and a side panel with parameters, files, the
//! pull commands, the license and the latest verification.

use axum::extract::State;
use axum::http::HeaderMap;
use granary_core::api::VerificationReport;
use granary_core::manifest::Manifest;
use granary_core::model_index::{self, Reported};
use serde::Serialize;

use super::{
    OrPage, PageError, PageResult, When, human_count, human_size, page, path_url, seg, server_url,
    short, when,
};
use crate::access::readable_model;
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::models::ModelRow;
use crate::db::revisions::RevisionRow;
use crate::db::{blobs, refs};
use crate::error::{AppError, Path};
use crate::refs::resolve_revision;

/// The largest README rendered (bigger cards are cut here).
const MAX_README: u64 = 1024 * 1024;

/// What the top of every page of a model shows: its name, links and tabs.
#[derive(Debug, Clone, Serialize)]
pub struct ModelHeader {
    pub id: String,
    pub owner: String,
    pub name: String,
    pub url: String,
    pub owner_url: String,
    pub private: bool,
    pub default_branch: String,
    pub tree_url: String,
    pub commits_url: String,
    pub benchmarks_url: String,
    pub compare_url: String,
    /// Which tab is shown: `card`, `files`, `commits`, `benchmarks`, `settings`.
    pub tab: &'static str,
    /// The viewer administers the model's namespace: the Settings tab shows.
    pub admin: bool,
    /// Files download only after a signed-in user accepts the license.
    pub gated: bool,
    /// The viewer may download the files now (not gated, or accepted): else no page links them.
    pub downloadable: bool,
    /// Sign in, then come back to this model.
    pub sign_in_url: String,
}

impl ModelHeader {
    pub fn new(model: &ModelRow, tab: &'static str) -> Self {
        let url = format!("/{}/{}", seg(&model.owner), seg(&model.name));
        let branch = seg(&model.default_branch);
        Self {
            id: model.full_name(),
            owner: model.owner.clone(),
            name: model.name.clone(),
            owner_url: format!("/{}", seg(&model.owner)),
            private: model.private,
            default_branch: model.default_branch.clone(),
            tree_url: format!("{url}/tree/{branch}"),
            commits_url: format!("{url}/commits/{branch}"),
            benchmarks_url: format!("{url}/benchmarks"),
            compare_url: format!("{url}/compare"),
            sign_in_url: format!("/login?next={}", super::query_value(&url)),
            url,
            tab,
            admin: false,
            gated: model.gated,
            downloadable: !model.gated,
        }
    }

    /// The header as `caller` sees it: with the Settings tab for admins of the namespace.
    pub async fn for_caller(
        state: &AppState,
        caller: &Caller,
        model: &ModelRow,
        tab: &'static str,
    ) -> Result<Self, PageError> {
        let role = crate::access::role_on(&state.db, caller, &model.owner)
            .await
            .or_page(state)?;
        let downloadable = crate::access::may_download(&state.db, caller, model)
            .await
            .or_page(state)?;
        Ok(Self {
            admin: role == Some(crate::access::Role::Admin),
            downloadable,
            ..Self::new(model, tab)
        })
    }
}

/// Loads a model the caller may see; an invalid, missing or private one is a 404 page.
pub async fn load_model(
    state: &AppState,
    caller: &Caller,
    owner: &str,
    name: &str,
) -> Result<ModelRow, PageError> {
    let not_found = || AppError::model_not_found(&format!("{owner}/{name}"));
    let id = granary_core::ModelId::new(owner, name)
        .map_err(|_| not_found())
        .or_page(state)?;
    readable_model(state, caller, &id).await.or_page(state)
}

/// Resolves a ref of a model; an unknown one is a 404 page.
pub async fn load_revision(
    state: &AppState,
    model: &ModelRow,
    rev: &str,
) -> Result<std::sync::Arc<RevisionRow>, PageError> {
    resolve_revision(&state.db, model, rev)
        .await
        .map_err(|e| match e {
            AppError::Invalid(m) => AppError::RevisionNotFound(m),
            other => other,
        })
        .or_page(state)
}

/// Parses a revision's stored manifest.
pub fn manifest_of(state: &AppState, r: &RevisionRow) -> Result<Manifest, PageError> {
    serde_json::from_str(&r.manifest)
        .map_err(AppError::internal)
        .or_page(state)
}

/// A front-matter badge: a label, its text and maybe a link.
#[derive(Debug, Clone, Serialize)]
pub struct Badge {
    pub kind: &'static str,
    pub label: &'static str,
    pub text: String,
    pub url: Option<String>,
}

/// Badges of one kind folded into one disclosure, so long lists do not push the card off a
/// phone's first screen.
#[derive(Debug, Clone, Serialize)]
pub struct Folded {
    pub kind: &'static str,
    pub text: String,
    pub badges: Vec<Badge>,
}

/// More badges of one kind than this are folded.
const MAX_BADGES_OF_A_KIND: usize = 3;

/// Splits `badges` into those shown and the kinds folded (in first-seen order).
pub fn fold_badges(badges: Vec<Badge>) -> (Vec<Badge>, Vec<Folded>) {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for b in &badges {
        match counts.iter_mut().find(|(k, _)| *k == b.kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((b.kind, 1)),
        }
    }
    let many = |kind: &str| {
        counts
            .iter()
            .any(|(k, n)| *k == kind && *n > MAX_BADGES_OF_A_KIND)
    };
    let (folded, shown): (Vec<Badge>, Vec<Badge>) = badges.into_iter().partition(|b| many(b.kind));
    let groups = counts
        .iter()
        .filter(|(_, n)| *n > MAX_BADGES_OF_A_KIND)
        .map(|(kind, n)| {
            let noun = match *kind {
                "dataset" => "datasets",
                "language" => "languages",
                "tag" => "tags",
                "base" => "base models",
                other => other,
            };
            Folded {
                kind,
                text: format!("{n} {noun}"),
                badges: folded.iter().filter(|b| b.kind == *kind).cloned().collect(),
            }
        })
        .collect();
    (shown, groups)
}

/// A license as a page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LicenseView {
    pub id: String,
    pub name: Option<String>,
    pub permissive: bool,
    pub url: Option<String>,
}

/// Where a license's text is: SPDX's page for an SPDX id, else the LICENSE file of the revision.
pub fn license_view(r: &RevisionRow, manifest: &Manifest, files_base: &str) -> LicenseView {
    let id = r.license_id.clone();
    let license_file = [
        "LICENSE",
        "LICENSE.md",
        "LICENSE.txt",
        "LICENCE",
        "license",
        "LICENSE.MD",
    ]
    .into_iter()
    .find(|p| manifest.file(p).is_some())
    .map(|p| format!("{files_base}{}", path_url(p)));
    let url = match spdx::license_id(&id) {
        Some(l) if !id.eq_ignore_ascii_case("other") => {
            Some(format!("https://spdx.org/licenses/{}.html", l.name))
        }
        _ => license_file,
    };
    LicenseView {
        id,
        name: r.license_name.clone(),
        permissive: r.permissive,
        url,
    }
}

/// The strings of a front-matter field that is a string or a list of strings.
fn strings(card: &serde_json::Value, key: &str) -> Vec<String> {
    match card.get(key) {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .take(50)
            .collect(),
        _ => vec![],
    }
}

/// The badges of a card's front matter.
pub fn badges(card: &serde_json::Value, license: &LicenseView) -> Vec<Badge> {
    let mut out = vec![Badge {
        kind: "license",
        label: "License",
        text: match &license.name {
            Some(name) => format!("{} ({name})", license.id),
            None => license.id.clone(),
        },
        url: license.url.clone(),
    }];
    let models_with = |key: &str, value: &str| Some(format!("/models?{key}={}", seg(value)));
    for task in strings(card, "pipeline_tag") {
        out.push(Badge {
            kind: "task",
            label: "Task",
            url: models_with("task", &task),
            text: task,
        });
    }
    for lib in strings(card, "library_name") {
        out.push(Badge {
            kind: "library",
            label: "Library",
            url: models_with("library", &lib),
            text: lib,
        });
    }
    for base in strings(card, "base_model") {
        let url = base
            .parse::<granary_core::ModelId>()
            .ok()
            .map(|id| format!("/{}/{}", seg(id.owner()), seg(id.name())));
        out.push(Badge {
            kind: "base",
            label: "Base model",
            text: base,
            url,
        });
    }
    for d in strings(card, "datasets") {
        out.push(Badge {
            kind: "dataset",
            label: "Dataset",
            text: d,
            url: None,
        });
    }
    for l in strings(card, "language") {
        out.push(Badge {
            kind: "language",
            label: "Language",
            text: l,
            url: None,
        });
    }
    for t in strings(card, "tags") {
        out.push(Badge {
            kind: "tag",
            label: "Tag",
            url: models_with("q", &t),
            text: t,
        });
    }
    out
}

/// A verification report as the side panel shows it.
#[derive(Debug, Clone, Serialize)]
pub struct VerificationView {
    pub status: String,
    pub reason: Option<String>,
    pub device: String,
    pub architecture: String,
    pub dtype: String,
    pub load: Option<String>,
    pub latency: Option<String>,
    pub throughput: Option<String>,
    pub memory: Option<String>,
    pub fingerprint: Option<String>,
    /// The registry's evaluations, one line each.
    pub evaluations: Vec<EvaluationView>,
    /// Whether the run's report carries a signed attestation (docs/SIGNING.md).
    pub attested: bool,
}

/// One evaluation as the pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct EvaluationView {
    pub name: String,
    /// `spearman 0.5771 (threshold 0.2)`.
    pub result: String,
    pub verdict: String,
    /// The first 12 hex digits of the input set's SHA-256; `digest` has them all.
    pub digest_short: String,
    pub digest: String,
}

/// The evaluations of a report, as the model and Benchmarks pages show them.
pub fn evaluation_views(r: &VerificationReport) -> Vec<EvaluationView> {
    r.evaluations
        .iter()
        .map(|e| EvaluationView {
            name: e.name.clone(),
            result: e.summary(),
            verdict: e.verdict.clone(),
            digest_short: e.digest.chars().take(12).collect(),
            digest: e.digest.clone(),
        })
        .collect()
}

pub fn verification_view(r: &VerificationReport) -> VerificationView {
    let fingerprint = match &r.fingerprint {
        serde_json::Value::Null => None,
        v => {
            let text = v.to_string();
            Some(if text.chars().count() > 240 {
                format!("{}…", text.chars().take(240).collect::<String>())
            } else {
                text
            })
        }
    };
    let throughput = r
        .tokens_per_s
        .map(|t| format!("{t:.1} tokens/s"))
        .or_else(|| r.items_per_s.map(|t| format!("{t:.1} items/s")))
        .or_else(|| r.gflops.map(|g| format!("{g:.2} GFLOP/s")));
    VerificationView {
        status: r.status.to_string(),
        reason: r.reason.clone(),
        device: r.device.clone(),
        architecture: r.architecture.clone(),
        dtype: r.dtype_label(),
        load: r.load_ms.map(|ms| format!("{ms:.0} ms")),
        latency: r.latency_ms.map(|ms| format!("{ms:.1} ms")),
        throughput,
        memory: r.peak_memory_bytes.map(human_size),
        fingerprint,
        evaluations: evaluation_views(r),
        attested: r.attestation.is_some(),
    }
}

#[derive(Serialize)]
struct DtypeCount {
    dtype: String,
    count: String,
}

#[derive(Serialize)]
struct ModelPage {
    title: String,
    description: String,
    model: ModelHeader,
    empty: bool,
    revision: Option<String>,
    revision_short: Option<String>,
    updated: Option<When>,
    card_html: Option<String>,
    badges: Vec<Badge>,
    /// Kinds with many badges, each folded into one ("21 datasets").
    folded: Vec<Folded>,
    license: Option<LicenseView>,
    parameters: Option<String>,
    dtypes: Vec<DtypeCount>,
    file_count: usize,
    size: String,
    pull_cli: String,
    pull_hf: String,
    verification: Option<VerificationView>,
    /// The API URLs of the revision's signature and verification reports (with their attestations).
    signature_url: Option<String>,
    attestation_url: Option<String>,
    /// The card's own `model-index` figures, shown beside the measured ones.
    reported: Vec<Reported>,
    pending: Option<String>,
    branches: usize,
    tags: usize,
    downloads: i64,
    /// Downloads of the last 30 days (today included).
    downloads_30d: i64,
}

/// `GET /{owner}/{name}`.
pub async fn model_page(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
) -> PageResult {
    let model = load_model(&state, &caller, &owner, &name).await?;
    let header = ModelHeader::for_caller(&state, &caller, &model, "card").await?;
    let server = server_url(&state, &headers);
    let refs = refs::list(&state.db, &model.id).await.or_page(&state)?;
    let today = crate::downloads::counter::day_of(granary_core::time::now_ms());
    let downloads_30d = crate::db::downloads::since(&state.db, &model.id, today - 29)
        .await
        .or_page(&state)?;
    let mut ctx = ModelPage {
        title: model.full_name(),
        description: format!("{} on Granary", model.full_name()),
        empty: true,
        revision: None,
        revision_short: None,
        updated: None,
        card_html: None,
        badges: vec![],
        folded: vec![],
        license: None,
        parameters: None,
        dtypes: vec![],
        file_count: 0,
        size: human_size(0),
        pull_cli: format!("granary pull {}", model.full_name()),
        pull_hf: format!("HF_ENDPOINT={server} hf download {}", model.full_name()),
        verification: None,
        signature_url: None,
        attestation_url: None,
        reported: Vec::new(),
        pending: None,
        branches: refs.iter().filter(|r| r.kind == refs::BRANCH).count(),
        tags: refs.iter().filter(|r| r.kind == refs::TAG).count(),
        downloads: model.downloads,
        downloads_30d,
        model: header,
    };
    let Some(head) = model.head_revision.clone() else {
        return page(&state, "model.html", &ctx);
    };
    let r = load_revision(&state, &model, &head).await?;
    let manifest = manifest_of(&state, &r)?;
    let files_base = format!(
        "/api/v1/models/{}/{}/files/{}/",
        seg(&model.owner),
        seg(&model.name),
        r.id
    );
    let card: serde_json::Value = serde_json::from_str(&r.card).unwrap_or_default();
    let license = license_view(&r, &manifest, &files_base);
    ctx.empty = false;
    (ctx.badges, ctx.folded) = fold_badges(badges(&card, &license));
    ctx.reported = model_index::self_reported(&card);
    ctx.license = Some(license);
    ctx.card_html = readme_html(&state, &manifest, &files_base).await?;
    let params = manifest.parameters();
    let total: u64 = params.values().sum();
    ctx.parameters = (total > 0).then(|| human_count(total));
    ctx.dtypes = params
        .into_iter()
        .map(|(dtype, n)| DtypeCount {
            dtype,
            count: human_count(n),
        })
        .collect();
    ctx.file_count = manifest.files.len();
    ctx.size = human_size(manifest.total_size());
    ctx.updated = Some(when(r.created_at));
    let reports = crate::verification::reports(&state.db, &model.id, &r.id)
        .await
        .or_page(&state)?;
    ctx.pending = reports
        .iter()
        .find(|v| !v.status.is_finished())
        .map(|v| v.status.to_string());
    ctx.verification = reports
        .iter()
        .find(|v| v.status.is_finished())
        .map(verification_view);
    let api = format!(
        "/api/v1/models/{}/{}/revisions/{}",
        model.owner, model.name, r.id
    );
    ctx.signature_url = Some(format!("{api}/signature"));
    ctx.attestation_url = Some(format!("{api}/verification"));
    ctx.revision_short = Some(short(&r.id));
    ctx.revision = Some(r.id.clone());
    page(&state, "model.html", &ctx)
}

/// The README of a revision as safe HTML, if it has one.
async fn readme_html(
    state: &AppState,
    manifest: &Manifest,
    files_base: &str,
) -> Result<Option<String>, PageError> {
    let Some(file) = manifest
        .files
        .iter()
        .find(|f| f.path.as_str() == "README.md")
        .or_else(|| {
            manifest
                .files
                .iter()
                .find(|f| f.path.as_str().eq_ignore_ascii_case("readme.md"))
        })
    else {
        return Ok(None);
    };
    let layout = blobs::find(&state.db, &file.sha256)
        .await
        .or_page(state)?
        .ok_or_else(|| {
            AppError::internal(anyhow::anyhow!(
                "blob {} of a revision is missing",
                file.sha256
            ))
        })
        .or_page(state)?;
    let bytes = state
        .storage
        .read_blob_range(layout, 0..layout.size.min(MAX_README))
        .await
        .or_page(state)?;
    let text = String::from_utf8_lossy(&bytes);
    let body = super::render::strip_front_matter(&text);
    Ok(Some(super::render::markdown_to_safe_html(body, files_base)))
}

#[cfg(test)]
mod fold_tests {
    use super::{Badge, fold_badges};

    fn badge(kind: &'static str, text: &str) -> Badge {
        Badge {
            kind,
            label: "x",
            text: text.into(),
            url: None,
        }
    }

    #[test]
    fn long_lists_of_a_kind_fold_into_one() {
        let mut badges = vec![
            badge("license", "mit"),
            badge("tag", "a"),
            badge("tag", "b"),
        ];
        badges.extend((0..21).map(|i| badge("dataset", &format!("d{i}"))));
        let (shown, folded) = fold_badges(badges);
        assert_eq!(shown.len(), 3, "the license and two tags stay");
        assert_eq!(folded.len(), 1);
        assert_eq!(folded[0].text, "21 datasets");
        assert_eq!(folded[0].badges.len(), 21);
    }
}
