//! BERT-style encoders through candle-transformers' `bert` module: the
//! mean-pooled, L2-normalised embedding of the fixed sentence.

use std::collections::HashMap;
use std::time::Instant;

use candle_core::{D, Tensor};
use candle_transformers::models::bert;
use serde_json::json;

use super::config::{self as cfg, dim, divides};
use super::{SENTENCE, Smoke, SmokeResult, ms_since, prompt};
use crate::backend;
use crate::load::check_output;
use crate::outcome::{Result, Stop};

/// "[CLS] granary verifies every model . [SEP]" in bert-base-uncased's vocabulary
/// (unknown words as [UNK]), for revisions without a tokenizer.
const FIXED_SENTENCE: [u32; 7] = [101, 100, 2310, 2296, 2944, 1012, 102];
/// Timed encodes after the first (which produces the fingerprint).
const TIMED_RUNS: usize = 3;

pub fn run(
    smoke: &mut Smoke,
    config: &serde_json::Value,
    tensors: HashMap<String, Tensor>,
) -> Result<SmokeResult> {
    let hidden = dim(config, &["hidden_size"], cfg::MAX_HIDDEN)?;
    let heads = dim(config, &["num_attention_heads"], cfg::MAX_HEADS)?;
    dim(config, &["num_hidden_layers"], cfg::MAX_LAYERS)?;
    dim(config, &["intermediate_size"], cfg::MAX_HIDDEN * 8)?;
    dim(config, &["max_position_embeddings"], cfg::MAX_POSITIONS)?;
    let vocab = dim(config, &["vocab_size"], cfg::MAX_VOCAB)?;
    divides(("hidden_size", hidden), ("num_attention_heads", heads))?;
    let c: bert::Config = cfg::parse(config, "BERT")?;

    let tok = prompt::tokenizer(smoke.dir, smoke.log)?;
    let ids = prompt::encode(tok.as_ref(), SENTENCE, &FIXED_SENTENCE, vocab)?;
    // Checkpoints of `BertFor...` heads keep the encoder under `bert.` (or the model type).
    let prefix = [Some("bert".to_string()), c.model_type.clone()]
        .into_iter()
        .flatten()
        .find(|p| tensors.contains_key(&format!("{p}.embeddings.word_embeddings.weight")));
    let (vb, misfits) = backend::var_builder(tensors, smoke.dtype, smoke.device);
    let vb = match &prefix {
        Some(p) => vb.pp(p),
        None => vb,
    };
    let model = bert::BertModel::load(vb, &c);
    if let Some(reason) = backend::verdict(&misfits) {
        return Err(Stop::Failed(reason));
    }
    let model = model.map_err(Stop::forward)?;

    let input = Tensor::new(ids.as_slice(), smoke.device)
        .and_then(|t| t.unsqueeze(0))
        .map_err(Stop::forward)?;
    let types = input.zeros_like().map_err(Stop::forward)?;
    let embed = || -> candle_core::Result<Tensor> {
        let out = model.forward(&input, &types, None)?;
        let pooled = out.mean(1)?;
        let norm = pooled.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        pooled
            .broadcast_div(&norm)?
            .squeeze(0)?
            .to_dtype(candle_core::DType::F32)
    };
    let embedding = embed().map_err(Stop::forward)?;
    check_output("embedding", &embedding)?;
    let values = embedding.to_vec1::<f32>().map_err(Stop::forward)?;
    smoke.log.note(format!(
        "encoded {} tokens into a {}-value embedding",
        ids.len(),
        values.len()
    ));

    let mut best_ms = f64::INFINITY;
    for run in 0..TIMED_RUNS {
        smoke.check_time(&format!("after {} timed encodes", run))?;
        let t = Instant::now();
        embed().map_err(Stop::forward)?;
        best_ms = best_ms.min(ms_since(t));
    }
    smoke.log.note(format!(
        "encode latency (best of {TIMED_RUNS}): {best_ms:.2} ms"
    ));
    let head: Vec<f64> = values.iter().take(8).map(|&v| round(v, 6)).collect();
    Ok(SmokeResult {
        architecture: "bert".into(),
        latency_ms: Some(best_ms),
        items_per_s: Some(1e3 / best_ms.max(1e-6)),
        fingerprint: json!({"embedding_head": head}),
        ..Default::default()
    })
}

/// Rounds to `places` decimals, so the fingerprint survives last-bit differences.
fn round(v: f32, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (v as f64 * scale).round() / scale
}
