//! Verification: where a run stands, its report, evaluations and workload.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Sha256;

/// Where a verification stands, or how it ended (docs/VERIFICATION.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The run's attestation: an in-toto statement of what the verifier found, about
    /// the revision's model digest, in a DSSE envelope signed with the registry key
    /// (a bundle as `signing::Bundle` reads it; docs/SIGNING.md). Absent in reports
    /// from before attestations, and while a job is queued or running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<serde_json::Value>,
}

impl VerificationReport {
    /// What an attestation states about this run (the report without its log
    /// and its attestation): device, status, fingerprint, figures, verifier and workload.
    pub fn attested(&self) -> serde_json::Value {
        serde_json::json!({
            "status": self.status,
            "reason": self.reason,
            "device": self.device,
            "verifier_version": self.verifier_version,
            "candle_version": self.candle_version,
            "architecture": self.architecture,
            "dtype": self.dtype,
            "converted_from": self.converted_from,
            "fingerprint": self.fingerprint,
            "figures": {
                "load_ms": self.load_ms,
                "peak_memory_bytes": self.peak_memory_bytes,
                "latency_ms": self.latency_ms,
                "tokens_per_s": self.tokens_per_s,
                "items_per_s": self.items_per_s,
                "gflops": self.gflops,
                "parameters": self.parameters,
            },
            "evaluations": self.evaluations,
            "workload": self.workload,
        })
    }

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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// The answer to `POST /api/v1/models/{owner}/{name}/revisions/{rev}/verify`: the re-run queued.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerificationQueued {
    /// The verification job's id.
    pub job: String,
    pub revision: Sha256,
}
