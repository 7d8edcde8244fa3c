//! Granary's verification engine. [`verify`] takes the files of one revision,
//! validates every safetensors file, loads the tensors with candle on the best
//! device, checks they are finite, runs a smoke inference chosen from
//! `config.json`, and returns a [`VerificationReport`].
//!
//! Encoders that declare a sentence-transformers pipeline are then evaluated
//! on the registry's sentence pairs; absurd results yield status `degraded`.
//!
//! A revision that is broken or hostile yields status `failed` with a reason;
//! an I/O problem yields `error`. No input makes [`verify`] panic or abort.

mod backend;
mod checks;
mod device;
mod evaluation;
mod load;
mod memory;
mod outcome;
mod run;
mod run_log;
mod smoke;
mod workload;

pub mod fixtures;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use evaluation::{
    CODE_SAMPLE, ENGLISH_PROSE, PERPLEXITY_CONTEXT, PERPLEXITY_STRIDE, SENTENCE_PAIRS,
    SENTENCE_PAIRS_THRESHOLD, code_digest, perplexity_threshold, prose_digest,
    sentence_pairs_digest,
};
pub use granary_core::api::{Evaluation, VerificationReport, Workload, WorkloadResult};
pub use smoke::Embedding;

/// The candle-core version this crate is built against (checked by a test against Cargo.lock).
pub const CANDLE_VERSION: &str = "0.11.1";
/// This verifier's version, recorded in every report.
pub const VERIFIER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What to verify and within which limits.
#[derive(Debug, Clone)]
pub struct VerifyInput {
    /// A directory holding every file of the revision at its relative path (already SHA-256 checked by the caller).
    pub dir: PathBuf,
    /// Refuse (status "failed", reason naming the budget) revisions whose tensors would need more bytes than this.
    ///
    /// Counted from the headers before anything is loaded: every element of every
    /// tensor in the dtype it runs in (floats as F32 on the CPU; on CUDA, F16/BF16
    /// models stay in their dtype), other dtypes in their own size. Activations,
    /// the file buffer being read (one file at a time) and the runtime are extra.
    pub memory_budget_bytes: u64,
    /// Cap on wall time of the smoke inference; stop and report "failed" with a reason if exceeded.
    pub time_budget: Duration,
}

/// Runs every check and the smoke inference. Never panics and never aborts the
/// process on any input: a panic inside the work becomes status `error`.
///
/// Blocking and CPU-heavy (candle uses every core); call it from a blocking
/// thread or, better, a child process (`granary-verify`). Calls may overlap,
/// but the reported peak memory is the process's, so it is only meaningful for
/// one verification per process.
pub fn verify(input: &VerifyInput) -> VerificationReport {
    run::verify(input)
}

/// `cpu: <model name>` or `cuda: <name>`: the device [`verify`] would use.
pub fn device_description() -> String {
    device::describe(&device::best())
}

/// The embeddings of `texts`, computed as the encoder smoke inference computes
/// the fixed sentence's (tokenisation without padding, attention mask, the
/// declared pooling and normalisation), in F32. For checking that path against
/// reference implementations; an error is the reason a verification would give.
pub fn embed_texts(dir: &Path, texts: &[&str]) -> Result<Vec<Embedding>, String> {
    run::embed_texts(dir, texts).map_err(|stop| match stop {
        outcome::Stop::Failed(reason) | outcome::Stop::Error(reason) => reason,
    })
}
