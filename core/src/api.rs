//! JSON bodies of the native API (`/api/v1/...`). docs/API.md describes the
//! endpoints; these types are the contract both sides compile against.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::manifest::{LicenseInfo, SafetensorsSummary};
use crate::{RepoPath, Sha256};

/// The one error shape of every API: `{"error": "<sentence>", "code": "<machine code>"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub code: String,
}

/// Machine-readable error codes of [`ErrorBody::code`].
pub mod codes {
    pub const NOT_FOUND: &str = "not_found";
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const FORBIDDEN: &str = "forbidden";
    pub const GATED: &str = "gated";
    pub const CONFLICT: &str = "conflict";
    pub const INVALID: &str = "invalid";
    pub const DIGEST_MISMATCH: &str = "digest_mismatch";
    /// A part of an upload session was already received; parts are never replaced.
    pub const PART_RECEIVED: &str = "part_received";
    pub const TOO_LARGE: &str = "too_large";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const RANGE: &str = "range_not_satisfiable";
    pub const INTERNAL: &str = "internal";
}

/// A blob a client intends to upload or reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    pub sha256: Sha256,
    pub size: u64,
}

/// `POST /api/v1/blobs/missing`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MissingBlobsRequest {
    pub blobs: Vec<BlobRef>,
}

/// The blobs of the request that the server does not hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MissingBlobsResponse {
    pub missing: Vec<BlobRef>,
}

/// `POST /api/v1/uploads`: start, or find again, the upload of one blob.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateUploadRequest {
    pub sha256: Sha256,
    pub size: u64,
}

/// Where an upload stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadStatus {
    /// `None` when the blob is already stored and nothing needs sending.
    pub id: Option<String>,
    pub sha256: Sha256,
    pub size: u64,
    /// Every part but the last is exactly this long.
    pub part_size: u64,
    pub part_count: u64,
    /// Part numbers (from 0) the server holds.
    pub received: Vec<u64>,
    /// True once the blob is stored and visible.
    pub stored: bool,
}

impl UploadStatus {
    /// The byte range `[start, end)` of part `n`.
    pub fn part_range(&self, n: u64) -> (u64, u64) {
        let start = n * self.part_size;
        (start, (start + self.part_size).min(self.size))
    }

    /// Parts still to send.
    pub fn missing_parts(&self) -> Vec<u64> {
        (0..self.part_count)
            .filter(|n| !self.received.contains(n))
            .collect()
    }
}

/// One file of a commit request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitFile {
    pub path: RepoPath,
    pub size: u64,
    pub sha256: Sha256,
}

/// `POST /api/v1/models/{owner}/{name}/commits`: the full file list of a new revision.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitRequest {
    /// The branch to move; default `main`.
    #[serde(default = "default_branch")]
    pub branch: String,
    /// The revision the branch must point at now; `None` when the branch is new.
    pub parent: Option<Sha256>,
    #[serde(default)]
    pub message: String,
    /// A license id (`apache-2.0`, `mit`, `llama3`, `other`); else README.md's front matter decides.
    #[serde(default)]
    pub license: Option<String>,
    /// With `license: other`, the license's name.
    #[serde(default)]
    pub license_name: Option<String>,
    pub files: Vec<CommitFile>,
    /// Create the model private (first push only; needs the accounts feature).
    #[serde(default)]
    pub private: Option<bool>,
}

pub fn default_branch() -> String {
    "main".to_string()
}

/// A revision as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevisionInfo {
    pub id: Sha256,
    pub model: String,
    pub parent: Option<Sha256>,
    pub author: String,
    pub message: String,
    pub created_at: i64,
    pub license: LicenseInfo,
    /// Whether the license is on the registry's permissive list.
    pub permissive: bool,
    pub total_size: u64,
    pub parameters: BTreeMap<String, u64>,
    pub parameter_total: u64,
    pub files: Vec<FileInfo>,
    /// README.md front matter (`license`, `tags`, `pipeline_tag`, ...), if any.
    #[serde(default)]
    pub card: serde_json::Value,
    /// Verification results, newest first; `queued`/`running` while a job is open.
    #[serde(default)]
    pub verification: Vec<VerificationReport>,
}

/// A file of a revision, with what the header said when it is safetensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileInfo {
    pub path: RepoPath,
    pub size: u64,
    pub sha256: Sha256,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safetensors: Option<SafetensorsSummary>,
}

/// `GET /api/v1/models/{owner}/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    pub owner: String,
    pub name: String,
    pub private: bool,
    /// Downloads need the license accepted first.
    #[serde(default)]
    pub gated: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub default_branch: String,
    pub downloads: u64,
    /// The revision the asked ref (default: the default branch) points at.
    pub revision: Option<RevisionInfo>,
}

/// An item of a model listing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelSummary {
    pub id: String,
    pub owner: String,
    pub name: String,
    pub private: bool,
    pub updated_at: i64,
    pub license: Option<String>,
    pub head: Option<Sha256>,
    pub total_size: u64,
    pub parameter_total: u64,
    pub downloads: u64,
}

/// `GET /api/v1/models?owner=&q=&license=&limit=&cursor=`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelList {
    pub models: Vec<ModelSummary>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A branch or tag.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefInfo {
    pub name: String,
    pub revision: Sha256,
    pub updated_at: i64,
}

/// `GET /api/v1/models/{owner}/{name}/refs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refs {
    pub branches: Vec<RefInfo>,
    pub tags: Vec<RefInfo>,
}

/// `PUT /api/v1/models/{owner}/{name}/tags/{tag}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateTagRequest {
    /// A branch, tag, full revision id or id prefix.
    pub revision: String,
    /// Move the tag if it already names another revision.
    #[serde(default)]
    pub force: bool,
}

/// An entry of `GET /api/v1/models/{owner}/{name}/log/{branch}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogEntry {
    pub id: Sha256,
    pub parent: Option<Sha256>,
    pub author: String,
    pub message: String,
    pub created_at: i64,
}

/// `GET /api/v1/models/{owner}/{name}/log/{branch}?limit=&cursor=`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Log {
    pub entries: Vec<LogEntry>,
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/whoami`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WhoAmI {
    pub name: String,
    pub admin: bool,
}

/// Response headers of the native API.
pub mod headers {
    /// The full id of the revision a file or manifest was served from.
    pub const REVISION: &str = "x-granary-revision";
    /// The request id, echoed on every response.
    pub const REQUEST_ID: &str = "x-request-id";
}

/// Where a verification stands, or how it ended (docs/VERIFICATION.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerificationStatus {
    Queued,
    Running,
    Passed,
    Degraded,
    Failed,
    /// Also what a report that never got a status counts as.
    #[default]
    Error,
}

impl VerificationStatus {
    pub const ALL: [VerificationStatus; 6] = [
        Self::Queued,
        Self::Running,
        Self::Passed,
        Self::Degraded,
        Self::Failed,
        Self::Error,
    ];

    /// The word the API, the database and the pages use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Passed => "passed",
            Self::Degraded => "degraded",
            Self::Failed => "failed",
            Self::Error => "error",
        }
    }

    /// The status a word names, if any.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }

    /// Whether the run is over (not `queued` or `running`).
    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }

    /// Whether the model ran to the end (`passed` or `degraded`), so its figures are real.
    pub fn ran(self) -> bool {
        matches!(self, Self::Passed | Self::Degraded)
    }
}

impl std::fmt::Display for VerificationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for VerificationStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<VerificationStatus> for &str {
    fn eq(&self, other: &VerificationStatus) -> bool {
        *self == other.as_str()
    }
}

/// The outcome of verifying one revision on one device (`status`: `queued`,
/// `running`, `passed` — it runs and its evaluations are sane —, `degraded` —
/// it runs but an evaluation is absurd, `reason` says which —, `failed` — the
/// model is broken or hostile — or `error` — the worker could not finish for
/// reasons not the model's). docs/VERIFICATION.md says what each promises.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerificationReport {
    pub status: VerificationStatus,
    /// Why it is degraded, failed or errored; a sentence.
    #[serde(default)]
    pub reason: Option<String>,
    /// `cpu: <model name>` or `cuda: <GPU name>`.
    #[serde(default)]
    pub device: String,
    #[serde(default)]
    pub candle_version: String,
    /// The `granary-verify` version that ran; empty in reports from before it was recorded.
    #[serde(default)]
    pub verifier_version: String,
    /// The dtype the model ran in (`F32`, `BF16`, ...).
    #[serde(default)]
    pub dtype: String,
    /// The stored float dtype(s), `BF16` or `F16+F32`, when the run converted
    /// them to `dtype` (a CPU computes in F32); absent when it ran them as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_from: Option<String>,
    /// `bert`, `llama`, `gpt2`, `generic`, ...
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub load_ms: Option<f64>,
    #[serde(default)]
    pub peak_memory_bytes: Option<u64>,
    /// Prefill or encode time.
    #[serde(default)]
    pub latency_ms: Option<f64>,
    /// Decode throughput, for decoders.
    #[serde(default)]
    pub tokens_per_s: Option<f64>,
    /// Items per second, for encoders; GFLOP/s for the generic probe goes in `gflops`.
    #[serde(default)]
    pub items_per_s: Option<f64>,
    #[serde(default)]
    pub gflops: Option<f64>,
    /// Parameters per dtype, counted from the loaded tensors.
    #[serde(default)]
    pub parameters: BTreeMap<String, u64>,
    /// What another stack can reproduce: `{"embedding_head": [...], "tokens", "pooling",
    /// "normalized", "comparable_to", ...}` for encoders (docs/API.md),
    /// `{"token_ids": [...], "text": "..."}` for decoders, `{"checksums": ...}` for the probe.
    #[serde(default)]
    pub fingerprint: serde_json::Value,
    /// The end of the run's log.
    #[serde(default)]
    pub log: String,
    /// Evaluations the registry ran on this revision, on `device` in `dtype`.
    /// Absent in reports from before evaluations existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evaluations: Vec<Evaluation>,
    /// The disclosed throughput workload and its figures; absent in reports from
    /// before workloads existed, or when no workload fitted the time budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<Workload>,
}

impl VerificationReport {
    /// `F32`, or `F32, converted from BF16`: the run's dtype as pages and the CLI show it.
    pub fn dtype_label(&self) -> String {
        match &self.converted_from {
            Some(from) => format!("{}, converted from {from}", self.dtype),
            None => self.dtype.clone(),
        }
    }
}

/// One registry-run evaluation of a revision: a fixed input set (named and
/// identified by its SHA-256), the metric measured on it and what it means.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Which evaluation, with its version: `sentence-pairs-v1`.
    pub name: String,
    /// SHA-256 (hex) of the evaluation's input set as shipped in the verifier.
    pub digest: String,
    /// What `value` measures: `spearman` (rank correlation, -1 to 1) or `perplexity`.
    pub metric: String,
    pub value: f64,
    /// The value below which (or, for lower-is-better metrics, above which) the verdict is `degraded`.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// `sane`, `degraded`, or `recorded` for a figure with no threshold.
    pub verdict: String,
    /// How many tokens the input set is, in the model's tokenisation (text evaluations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// The context window each forward pass saw (perplexity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<u64>,
    /// How far each window moved on (perplexity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<u64>,
}

impl Evaluation {
    /// `perplexity 21.8619 (threshold 1000) over 2850 tokens, context 512, stride 256`:
    /// what pages and the CLI print beside the verdict.
    pub fn summary(&self) -> String {
        let mut out = format!("{} {:.4}", self.metric, self.value);
        if let Some(t) = self.threshold {
            out.push_str(&format!(" (threshold {t})"));
        }
        if let (Some(tokens), Some(context), Some(stride)) =
            (self.tokens, self.context, self.stride)
        {
            out.push_str(&format!(
                " over {tokens} tokens, context {context}, stride {stride}"
            ));
        }
        out
    }
}

/// A disclosed, fixed throughput workload (docs/VERIFICATION.md, "Workload") and
/// what it measured. Figures of different `digest`s are different series.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// `pp512/tg128` for decoders, `b1/b32@128` for encoders, or a smaller declared one.
    pub name: String,
    /// SHA-256 (hex) of the workload's canonical description.
    pub digest: String,
    /// Why the standard workload was not run, when a smaller one was.
    #[serde(default)]
    pub reduced: Option<String>,
    /// Threads the CPU backend computed with.
    pub threads: u32,
    /// Timed repetitions of each part, after `warmups` untimed ones.
    pub repetitions: u32,
    pub warmups: u32,
    pub results: Vec<WorkloadResult>,
}

/// One part of a workload: its throughput over the repetitions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkloadResult {
    /// `pp512`, `tg128`, `b1@128`, `b32@128`, ...
    pub name: String,
    /// `tokens/s` or `items/s`.
    pub unit: String,
    pub mean: f64,
    /// Sample standard deviation over the repetitions.
    pub sd: f64,
}

impl Workload {
    /// `pp512 123.4 ± 5.6 tokens/s, tg128 ... (2 threads, 5 repetitions)`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .results
            .iter()
            .map(|r| format!("{} {:.1} ± {:.1} {}", r.name, r.mean, r.sd, r.unit))
            .collect();
        format!(
            "{} ({} threads, {} repetitions)",
            parts.join(", "),
            self.threads,
            self.repetitions
        )
    }
}

/// `POST /api/v1/models/{owner}/{name}/webhooks` and `POST /api/v1/namespaces/{ns}/webhooks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateWebhookRequest {
    /// Where deliveries are POSTed (`http` or `https`).
    pub url: String,
    /// The signing secret; generated by the server when absent.
    #[serde(default)]
    pub secret: Option<String>,
    /// The event types to deliver (`revision.published`, `tag.created`, …); empty: all.
    #[serde(default)]
    pub events: Vec<String>,
}

/// A registered webhook. `secret` is present only in the answer that created it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookInfo {
    pub id: String,
    pub url: String,
    /// The namespace whose models it hears, or the namespace of its model.
    pub namespace: String,
    /// `owner/name` when it hears one model; `None` for a namespace webhook.
    pub model: Option<String>,
    /// The event types it receives; empty: all.
    pub events: Vec<String>,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `GET …/webhooks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookInfo>,
}

/// One attempt at a delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub at: i64,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why the attempt failed, when it did.
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// One event sent (or to be sent) to a webhook (`GET …/webhooks/{id}/deliveries`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryInfo {
    /// The event's id (the `X-Granary-Delivery` header).
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (no more retries).
    pub state: String,
    pub attempts: Vec<DeliveryAttempt>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
}

/// `GET …/webhooks/{id}/deliveries`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryInfo>,
}

/// The body of every webhook delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventPayload {
    /// The event id, also sent as `X-Granary-Delivery`.
    pub id: String,
    /// `revision.published`, `ref.moved`, `tag.created`, `tag.deleted`, `repo.created`,
    /// `repo.deleted`, `repo.visibility`, `verification.finished`, `license.accepted`,
    /// `webhook.ping`; also sent as `X-Granary-Event`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// `owner/name`.
    pub model: Option<String>,
    pub namespace: Option<String>,
    /// Who acted, when a user did.
    pub actor: Option<String>,
    /// The event's figures (revision, branch, tag, status, …).
    pub data: serde_json::Value,
}
