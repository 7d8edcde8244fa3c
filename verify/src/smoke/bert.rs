//! BERT-style encoders through candle-transformers' `bert` module: the
//! embedding of the fixed sentence as sentence-transformers computes it for one
//! input (no padding, attention mask, the declared pooling and normalisation).

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::bert;
use serde_json::json;
use tokenizers::Tokenizer;

use super::config::{self as cfg, dim, divides};
use super::pooling::{self, Pooling};
use super::sentence::{self, Pipeline};
use super::{SENTENCE, Smoke, SmokeResult, ms_since, prompt};
use crate::backend;
use crate::evaluation::{self, Evaluated};
use crate::load::check_output;
use crate::outcome::{Result, Stop};
use crate::run_log::RunLog;
use crate::workload;

/// "[CLS] granary verifies every model . [SEP]" in bert-base-uncased's vocabulary
/// (unknown words as [UNK]), for revisions without a tokenizer.
const FIXED_SENTENCE: [u32; 7] = [101, 100, 2310, 2296, 2944, 1012, 102];
/// Timed encodes after the first (which produces the fingerprint).
const TIMED_RUNS: usize = 3;

/// One text's embedding, as the encoder smoke inference computes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    pub values: Vec<f32>,
    /// Tokens the model saw, special tokens included.
    pub tokens: usize,
}

/// A loaded encoder with its tokenizer and sentence-transformers pipeline.
pub struct Encoder {
    model: bert::BertModel,
    tokenizer: Option<Tokenizer>,
    pipeline: Pipeline,
    vocab: usize,
    positions: usize,
    device: Device,
}

impl Encoder {
    /// Checks the config, builds the model from `tensors` and reads the pipeline.
    pub fn load(
        dir: &Path,
        device: &Device,
        dtype: DType,
        config: &serde_json::Value,
        tensors: HashMap<String, Tensor>,
        log: &mut RunLog,
    ) -> Result<Encoder> {
        let hidden = dim(config, &["hidden_size"], cfg::MAX_HIDDEN)?;
        let heads = dim(config, &["num_attention_heads"], cfg::MAX_HEADS)?;
        dim(config, &["num_hidden_layers"], cfg::MAX_LAYERS)?;
        dim(config, &["intermediate_size"], cfg::MAX_HIDDEN * 8)?;
        let positions = dim(config, &["max_position_embeddings"], cfg::MAX_POSITIONS)?;
        let vocab = dim(config, &["vocab_size"], cfg::MAX_VOCAB)?;
        divides(("hidden_size", hidden), ("num_attention_heads", heads))?;
        let c: bert::Config = cfg::parse(config, "BERT")?;

        let pipeline = sentence::read(dir, positions, log)?;
        let mut tokenizer = prompt::tokenizer(dir, log)?;
        if let Some(tok) = tokenizer.as_mut() {
            sentence::prepare(tok, &pipeline, log)?;
        }
        // Checkpoints of `BertFor...` heads keep the encoder under `bert.` (or the model type).
        let prefix = [Some("bert".to_string()), c.model_type.clone()]
            .into_iter()
            .flatten()
            .find(|p| tensors.contains_key(&format!("{p}.embeddings.word_embeddings.weight")));
        let (vb, misfits) = backend::var_builder(tensors, dtype, device);
        let vb = match &prefix {
            Some(p) => vb.pp(p),
            None => vb,
        };
        let model = bert::BertModel::load(vb, &c);
        if let Some(reason) = backend::verdict(&misfits) {
            return Err(Stop::Failed(reason));
        }
        let model = model.map_err(Stop::forward)?;
        Ok(Encoder {
            model,
            tokenizer,
            pipeline,
            vocab,
            positions,
            device: device.clone(),
        })
    }

    /// Positions the model's position embeddings cover.
    pub fn max_positions(&self) -> usize {
        self.positions
    }

    /// One pass over `batch` sequences of `tokens` synthetic ids, attention
    /// mask all ones, pooled as the pipeline says: the encoder workload.
    pub fn forward_synthetic(&self, batch: usize, tokens: usize) -> Result<()> {
        let ids = workload::token_ids(batch * tokens, self.vocab);
        let forward = || -> candle_core::Result<()> {
            let input = Tensor::from_vec(ids, (batch, tokens), &self.device)?;
            let types = input.zeros_like()?;
            let mask = input.ones_like()?;
            let states = self.model.forward(&input, &types, Some(&mask))?;
            pooling::pool(&states, &mask, &self.pipeline.pooling)?;
            self.device.synchronize()
        };
        forward().map_err(Stop::forward)
    }

    /// Tokenises `text` (truncated, unpadded), runs the model with its attention
    /// mask, pools and, if the pipeline says so, normalises.
    pub fn embed(&self, text: &str) -> Result<Embedding> {
        let text = match self.pipeline.lowercase {
            true => text.to_lowercase(),
            false => text.to_string(),
        };
        let mut ids = prompt::encode(self.tokenizer.as_ref(), &text, &FIXED_SENTENCE, self.vocab)?;
        ids.truncate(self.pipeline.max_tokens);
        let forward = || -> candle_core::Result<Tensor> {
            let input = Tensor::new(ids.as_slice(), &self.device)?.unsqueeze(0)?;
            let types = input.zeros_like()?;
            let mask = input.ones_like()?;
            let states = self.model.forward(&input, &types, Some(&mask))?;
            let mut pooled = pooling::pool(&states, &mask, &self.pipeline.pooling)?;
            if self.pipeline.normalize {
                pooled = pooling::l2_normalize(&pooled)?;
            }
            pooled.squeeze(0)?.to_dtype(DType::F32)
        };
        let embedding = forward().map_err(Stop::forward)?;
        check_output("embedding", &embedding)?;
        Ok(Embedding {
            values: embedding.to_vec1::<f32>().map_err(Stop::forward)?,
            tokens: ids.len(),
        })
    }

    /// Why the embedding is not what sentence-transformers computes, if it is not.
    pub fn not_comparable(&self) -> Option<String> {
        match &self.tokenizer {
            None => Some("no tokenizer.json: fixed token ids, not the model's tokens".into()),
            Some(_) => self.pipeline.not_comparable.clone(),
        }
    }
}

pub fn run(
    smoke: &mut Smoke,
    config: &serde_json::Value,
    tensors: HashMap<String, Tensor>,
) -> Result<SmokeResult> {
    let encoder = Encoder::load(
        smoke.dir,
        smoke.device,
        smoke.dtype,
        config,
        tensors,
        smoke.log,
    )?;
    let embedding = encoder.embed(SENTENCE)?;
    let pipeline = &encoder.pipeline;
    let pooling: Vec<&str> = pipeline.pooling.iter().map(|p| Pooling::name(*p)).collect();
    smoke.log.note(format!(
        "encoded {} tokens (unpadded, at most {}) into a {}-value embedding: {} pooling, {}",
        embedding.tokens,
        pipeline.max_tokens,
        embedding.values.len(),
        pooling.join(" + "),
        if pipeline.normalize {
            "L2-normalised"
        } else {
            "not normalised"
        },
    ));
    let not_comparable = encoder.not_comparable();
    match &not_comparable {
        None => smoke
            .log
            .note("the embedding is what sentence-transformers computes for the sentence"),
        Some(why) => smoke.log.note(format!(
            "not comparable to sentence-transformers' output: {why}"
        )),
    }

    let mut best_ms = f64::INFINITY;
    for run in 0..TIMED_RUNS {
        smoke.check_time(&format!("after {} timed encodes", run))?;
        let t = Instant::now();
        encoder.embed(SENTENCE)?;
        best_ms = best_ms.min(ms_since(t));
    }
    smoke.log.note(format!(
        "encode latency (best of {TIMED_RUNS}, tokenising included): {best_ms:.2} ms"
    ));
    let evaluated = match &not_comparable {
        // Only the pipeline sentence-transformers would run is judged: our
        // default pooling over a bare encoder is not what the model promises.
        None => evaluation::evaluate_sentence_pairs(&encoder, smoke)?,
        Some(_) => {
            smoke
                .log
                .note("not evaluated on the sentence pairs: the pipeline is not the model's own");
            Evaluated::default()
        }
    };
    let workload = workload::run_encoder(smoke, &encoder)?;
    // Batch 1 of the workload replaces the fixed sentence's figure where it ran.
    let batch1 = workload
        .as_ref()
        .and_then(|w| w.results.first())
        .map(|r| r.mean);
    let head: Vec<f64> = embedding
        .values
        .iter()
        .take(8)
        .map(|&v| round(v, 6))
        .collect();
    Ok(SmokeResult {
        architecture: "bert".into(),
        latency_ms: Some(best_ms),
        items_per_s: Some(batch1.unwrap_or(1e3 / best_ms.max(1e-6))),
        fingerprint: json!({
            "embedding_head": head,
            "dimensions": embedding.values.len(),
            "tokens": embedding.tokens,
            "pooling": pooling,
            "normalized": pipeline.normalize,
            "comparable_to": if not_comparable.is_none() { json!("sentence-transformers") } else { json!(null) },
            "not_comparable": not_comparable,
        }),
        evaluated,
        workload,
        ..Default::default()
    })
}

/// Rounds to `places` decimals, so the fingerprint survives last-bit differences.
fn round(v: f32, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (v as f64 * scale).round() / scale
}
