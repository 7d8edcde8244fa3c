//! Llama-family decoders (Llama, Mistral, Qwen2) through [`causal_lm`].

use std::collections::HashMap;

use candle_core::Tensor;

use super::causal_lm::{CausalLm, Config};
use super::config as cfg;
use super::decode::{self, Decoder, Limits};
use super::{Family, PROMPT, Smoke, SmokeResult, prompt};
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
    let c = Config::read(config, family)?;
    let tok = prompt::tokenizer(smoke.dir, smoke.log)?;
    let ids = prompt::encode(tok.as_ref(), PROMPT, &FIXED_PROMPT, c.vocab)?;
    let (vb, misfits) = backend::var_builder(tensors, smoke.dtype, smoke.device);
    let model = CausalLm::load(vb, &c);
    if let Some(reason) = backend::verdict(&misfits) {
        return Err(Stop::Failed(reason));
    }
    let mut model = model.map_err(Stop::forward)?;
    let decoder = Decoder {
        architecture: family.name(),
        tokenizer: tok.as_ref(),
        prompt: ids,
        eos: c.eos.clone(),
        limits: Limits {
            vocab: c.vocab,
            // Rotary tables are computed per call, but no run needs more than this.
            positions: c.positions.min(cfg::ROPE_POSITIONS),
        },
    };
    decode::run(smoke, &decoder, &mut |x, pos, logits| {
        model.forward(x, pos, logits)
    })
}
