//! Registry-run evaluations: after the smoke inference shows that a revision
//! runs, a fixed input set checks that what it computes makes sense. An
//! evaluation below its threshold makes the verification `degraded`, with the
//! reason in words (docs/VERIFICATION.md).

mod perplexity;
mod rank;
mod sentence_pairs;

pub use granary_core::api::Evaluation;
pub(crate) use perplexity::evaluate as evaluate_perplexity;
pub use perplexity::{
    CODE as CODE_SAMPLE, CONTEXT as PERPLEXITY_CONTEXT, PROSE as ENGLISH_PROSE,
    STRIDE as PERPLEXITY_STRIDE, code_digest, prose_digest, threshold as perplexity_threshold,
};
pub(crate) use sentence_pairs::evaluate as evaluate_sentence_pairs;
pub use sentence_pairs::{
    NAME as SENTENCE_PAIRS, THRESHOLD as SENTENCE_PAIRS_THRESHOLD, digest as sentence_pairs_digest,
};

/// The verdict of an evaluation whose value is sane.
pub const SANE: &str = "sane";
/// The verdict of an evaluation whose value is absurd; the run's status becomes `degraded`.
pub const DEGRADED: &str = "degraded";
/// The verdict of a figure recorded without a threshold (such as perplexity on code).
pub const RECORDED: &str = "recorded";

/// What the evaluations found: their results, and the reason for `degraded` if one is absurd.
#[derive(Debug, Default)]
pub struct Evaluated {
    pub evaluations: Vec<Evaluation>,
    pub degraded: Option<String>,
}
