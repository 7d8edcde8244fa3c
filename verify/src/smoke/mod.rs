//! The smoke inference: a real forward pass for the architectures we know
//! from `config.json`, and a generic probe for everything else.

mod bert;
mod causal_lm;
mod config;
pub(crate) mod decode;
mod gpt2;
mod llama;
mod pooling;
mod probe;
mod prompt;
mod sentence;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor};

use granary_core::api::Workload;

use crate::evaluation::Evaluated;
use crate::outcome::{Result, Stop};
use crate::run_log::RunLog;

pub use bert::{Embedding, Encoder};

/// The fixed sentence encoders embed.
pub const SENTENCE: &str = "Granary verifies every model.";
/// The fixed prompt decoders continue.
pub const PROMPT: &str = "The capital of France is";
/// Tokens decoders generate greedily after the prompt.
pub const NEW_TOKENS: usize = 16;

/// What the smoke inference measured.
#[derive(Debug, Default)]
pub struct SmokeResult {
    pub architecture: String,
    pub latency_ms: Option<f64>,
    pub tokens_per_s: Option<f64>,
    pub items_per_s: Option<f64>,
    pub gflops: Option<f64>,
    pub fingerprint: serde_json::Value,
    /// The registry's evaluations of what the model computed, where one applies.
    pub evaluated: Evaluated,
    /// The disclosed throughput workload, where one fitted.
    pub workload: Option<Workload>,
}

/// Everything a smoke inference needs.
pub struct Smoke<'a> {
    pub dir: &'a Path,
    pub device: &'a Device,
    pub dtype: DType,
    /// When the smoke inference must have finished.
    pub deadline: Instant,
    pub time_budget: Duration,
    pub log: &'a mut RunLog,
}

impl Smoke<'_> {
    /// Fails once the time budget is spent; called between forward passes.
    pub fn check_time(&self, what: &str) -> Result<()> {
        if Instant::now() > self.deadline {
            return Err(Stop::failed(format!(
                "the smoke inference ran past its {:.1} s time budget ({what})",
                self.time_budget.as_secs_f64()
            )));
        }
        Ok(())
    }
}

/// Which smoke inference a revision gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Bert,
    Llama,
    Mistral,
    Qwen2,
    Gpt2,
    Generic,
}

impl Family {
    /// The name reports use: `bert`, `llama`, `gpt2`, `generic`, ...
    pub fn name(self) -> &'static str {
        match self {
            Family::Bert => "bert",
            Family::Llama => "llama",
            Family::Mistral => "mistral",
            Family::Qwen2 => "qwen2",
            Family::Gpt2 => "gpt2",
            Family::Generic => "generic",
        }
    }
}

/// Reads `config.json` (absent: the generic probe) and picks the family from `architectures`.
pub fn read_config(dir: &Path) -> Result<(Family, serde_json::Value)> {
    let path = dir.join("config.json");
    if !path.exists() {
        return Ok((Family::Generic, serde_json::Value::Null));
    }
    let text =
        std::fs::read(&path).map_err(|e| Stop::error(format!("cannot read config.json: {e}")))?;
    let value: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| Stop::failed(format!("config.json is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(Stop::failed("config.json is not a JSON object"));
    }
    let family = value["architectures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str())
        .map(family_of)
        .find(|f| *f != Family::Generic)
        .unwrap_or(Family::Generic);
    Ok((family, value))
}

fn family_of(architecture: &str) -> Family {
    match architecture {
        a if a.starts_with("Bert") => Family::Bert,
        "LlamaForCausalLM" | "LlamaModel" => Family::Llama,
        "MistralForCausalLM" => Family::Mistral,
        "Qwen2ForCausalLM" => Family::Qwen2,
        "GPT2LMHeadModel" | "GPT2Model" => Family::Gpt2,
        _ => Family::Generic,
    }
}

/// Runs the smoke inference of `family` over the loaded tensors.
pub fn run(
    smoke: &mut Smoke,
    family: Family,
    config: &serde_json::Value,
    tensors: HashMap<String, Tensor>,
) -> Result<SmokeResult> {
    match family {
        Family::Bert => bert::run(smoke, config, tensors),
        Family::Llama | Family::Mistral | Family::Qwen2 => {
            llama::run(smoke, family, config, tensors)
        }
        Family::Gpt2 => gpt2::run(smoke, config, tensors),
        Family::Generic => probe::run(smoke, tensors),
    }
}

/// Milliseconds since `t`.
pub fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}
