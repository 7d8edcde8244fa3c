//! Llama-style decoders (Llama, Mistral, Qwen2) through candle-transformers'
//! own model code.

use std::collections::HashMap;

use candle_core::Tensor;
use candle_transformers::models::{llama, mistral, qwen2};

use super::config::{self as cfg, dim, divides};
use super::{Family, PROMPT, Smoke, SmokeResult, decode, prompt};
use crate::backend;
use crate::outcome::{Result, Stop};

/// "The capital of France is" in the Llama-2 vocabulary, for revisions without a tokenizer.
const FIXED_PROMPT: [u32; 6] = [1, 450, 7483, 310, 3444, 338];

pub fn run(
    smoke: &mut Smoke,
    family: Family,
    config: &serde_json::Value,
    tensors: HashMap<String, Tensor>,
) -> Result<SmokeResult> {
    let hidden = dim(config, &["hidden_size"], cfg::MAX_HIDDEN)?;
    let heads = dim(config, &["num_attention_heads"], cfg::MAX_HEADS)?;
    let kv_heads = dim(
        config,
        &["num_key_value_heads", "num_attention_heads"],
        cfg::MAX_HEADS,
    )?;
    dim(config, &["num_hidden_layers"], cfg::MAX_LAYERS)?;
    dim(config, &["intermediate_size"], cfg::MAX_HIDDEN * 8)?;
    dim(config, &["max_position_embeddings"], cfg::MAX_POSITIONS)?;
    let vocab = dim(config, &["vocab_size"], cfg::MAX_VOCAB)?;
    divides(("hidden_size", hidden), ("num_attention_heads", heads))?;
    divides(
        ("num_attention_heads", heads),
        ("num_key_value_heads", kv_heads),
    )?;
    if (hidden / heads) % 2 != 0 {
        return Err(Stop::failed(format!(
            "config.json implies an odd head size {}: rotary embeddings need an even one",
            hidden / heads
        )));
    }

    let tok = prompt::tokenizer(smoke.dir, smoke.log)?;
    let ids = prompt::encode(tok.as_ref(), PROMPT, &FIXED_PROMPT, vocab)?;
    let (vb, misfits) = backend::var_builder(tensors, smoke.dtype, smoke.device);
    let text = |ids: &[u32]| prompt::decode(tok.as_ref(), ids);
    let unfit = || backend::verdict(&misfits).map(Stop::Failed);
    match family {
        Family::Mistral => {
            let mut c: mistral::Config = cfg::parse(config, "Mistral")?;
            c.max_position_embeddings = c.max_position_embeddings.min(cfg::ROPE_POSITIONS);
            c.use_flash_attn = false;
            let model = mistral::Model::new(&c, vb);
            if let Some(stop) = unfit() {
                return Err(stop);
            }
            let mut model = model.map_err(Stop::forward)?;
            let limits = decode::Limits {
                vocab,
                positions: c.max_position_embeddings,
            };
            let mut step = |x: &Tensor, pos| {
                if pos == 0 {
                    model.clear_kv_cache();
                }
                model.forward(x, pos)
            };
            decode::greedy(smoke, "mistral", &ids, &mut step, &text, limits)
        }
        Family::Qwen2 => {
            let mut c: qwen2::Config = cfg::parse(config, "Qwen2")?;
            c.max_position_embeddings = c.max_position_embeddings.min(cfg::ROPE_POSITIONS);
            let model = qwen2::ModelForCausalLM::new(&c, vb);
            if let Some(stop) = unfit() {
                return Err(stop);
            }
            let mut model = model.map_err(Stop::forward)?;
            let limits = decode::Limits {
                vocab,
                positions: c.max_position_embeddings,
            };
            let mut step = |x: &Tensor, pos| {
                if pos == 0 {
                    model.clear_kv_cache();
                }
                model.forward(x, pos)
            };
            decode::greedy(smoke, "qwen2", &ids, &mut step, &text, limits)
        }
        _ => {
            let c: llama::LlamaConfig = cfg::parse(config, "Llama")?;
            let mut c = c.into_config(false);
            c.max_position_embeddings = c.max_position_embeddings.min(cfg::ROPE_POSITIONS);
            let model = llama::Llama::load(vb, &c);
            if let Some(stop) = unfit() {
                return Err(stop);
            }
            let model = model.map_err(Stop::forward)?;
            let (dtype, device) = (smoke.dtype, smoke.device.clone());
            let mut cache = llama::Cache::new(true, dtype, &c, &device).map_err(Stop::forward)?;
            let limits = decode::Limits {
                vocab,
                positions: c.max_position_embeddings,
            };
            let mut step = |x: &Tensor, pos| {
                if pos == 0 {
                    // A new sequence: candle's cache has no reset of its own.
                    cache = llama::Cache::new(true, dtype, &c, &device)?;
                }
                model.forward(x, pos, &mut cache)
            };
            decode::greedy(smoke, "llama", &ids, &mut step, &text, limits)
        }
    }
}
