//! GPT-2 (`GPT2LMHeadModel`). candle-transformers 0.11 has no GPT-2 module
//! (its `bigcode` is GPT-BigCode, whose weights are laid out differently), so
//! this is a small implementation of the GPT-2 forward pass on candle-nn:
//! learned positions, pre-norm blocks, `Conv1D` weights stored `[in, out]`,
//! tanh-GELU, and an LM head tied to the token embeddings, with a KV cache.

use std::collections::HashMap;

use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder};

use super::config::{self as cfg, dim, divides};
use super::decode::{self, Decoder, Limits, Logits};
use super::{PROMPT, Smoke, SmokeResult, prompt};
use crate::backend;
use crate::outcome::{Result, Stop};

/// "The capital of France is" in GPT-2's vocabulary, for revisions without a tokenizer.
const FIXED_PROMPT: [u32; 5] = [464, 3139, 286, 4881, 318];

struct Shape {
    embd: usize,
    heads: usize,
}

/// `y = x W + b` with `W` stored `[in, out]`, as GPT-2's `Conv1D` keeps it.
struct Conv1D {
    weight: Tensor,
    bias: Tensor,
}

impl Conv1D {
    fn load(vb: VarBuilder, inputs: usize, outputs: usize) -> candle_core::Result<Self> {
        Ok(Conv1D {
            weight: vb.get((inputs, outputs), "weight")?,
            bias: vb.get(outputs, "bias")?,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.broadcast_matmul(&self.weight)?.broadcast_add(&self.bias)
    }
}

struct Block {
    ln_1: LayerNorm,
    c_attn: Conv1D,
    attn_proj: Conv1D,
    ln_2: LayerNorm,
    c_fc: Conv1D,
    mlp_proj: Conv1D,
    cache: Option<(Tensor, Tensor)>,
}

fn layer_norm(vb: VarBuilder, size: usize, eps: f64) -> candle_core::Result<LayerNorm> {
    Ok(LayerNorm::new(
        vb.get(size, "weight")?,
        vb.get(size, "bias")?,
        eps,
    ))
}

impl Block {
    fn load(vb: VarBuilder, s: &Shape, inner: usize, eps: f64) -> candle_core::Result<Self> {
        Ok(Block {
            ln_1: layer_norm(vb.pp("ln_1"), s.embd, eps)?,
            c_attn: Conv1D::load(vb.pp("attn.c_attn"), s.embd, 3 * s.embd)?,
            attn_proj: Conv1D::load(vb.pp("attn.c_proj"), s.embd, s.embd)?,
            ln_2: layer_norm(vb.pp("ln_2"), s.embd, eps)?,
            c_fc: Conv1D::load(vb.pp("mlp.c_fc"), s.embd, inner)?,
            mlp_proj: Conv1D::load(vb.pp("mlp.c_proj"), inner, s.embd)?,
            cache: None,
        })
    }

    fn forward(&mut self, x: &Tensor, s: &Shape, pos: usize) -> candle_core::Result<Tensor> {
        let (b, t, c) = x.dims3()?;
        let head = c / s.heads;
        let qkv = self.c_attn.forward(&self.ln_1.forward(x)?)?;
        let split = |i: usize| -> candle_core::Result<Tensor> {
            qkv.narrow(D::Minus1, i * c, c)?
                .reshape((b, t, s.heads, head))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, mut k, mut v) = (split(0)?, split(1)?, split(2)?);
        if let Some((pk, pv)) = &self.cache {
            k = Tensor::cat(&[pk, &k], 2)?;
            v = Tensor::cat(&[pv, &v], 2)?;
        }
        self.cache = Some((k.clone(), v.clone()));
        let scores = (q.matmul(&k.t()?.contiguous()?)? / (head as f64).sqrt())?;
        let scores = scores.broadcast_add(&causal_mask(t, pos, x.device(), x.dtype())?)?;
        let attn = candle_nn::ops::softmax_last_dim(&scores)?.matmul(&v)?;
        let attn = attn.transpose(1, 2)?.reshape((b, t, c))?;
        let x = (x + self.attn_proj.forward(&attn)?)?;
        let mlp = self
            .mlp_proj
            .forward(&self.c_fc.forward(&self.ln_2.forward(&x)?)?.gelu()?)?;
        x + mlp
    }
}

/// `[t, pos + t]`: 0 where query `i` (at `pos + i`) may see key `j`, else -inf.
fn causal_mask(t: usize, pos: usize, device: &Device, dtype: DType) -> candle_core::Result<Tensor> {
    let keys = pos + t;
    let mask: Vec<f32> = (0..t)
        .flat_map(|i| (0..keys).map(move |j| if j <= pos + i { 0.0 } else { f32::NEG_INFINITY }))
        .collect();
    Tensor::from_vec(mask, (t, keys), device)?.to_dtype(dtype)
}

struct Gpt2 {
    wte: Embedding,
    wpe: Embedding,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    shape: Shape,
}

impl Gpt2 {
    fn forward(&mut self, ids: &Tensor, pos: usize, logits: Logits) -> candle_core::Result<Tensor> {
        if pos == 0 {
            // A new sequence: the workload runs several from position 0.
            for block in &mut self.blocks {
                block.cache = None;
            }
        }
        let (_, t) = ids.dims2()?;
        let positions = Tensor::arange(pos as u32, (pos + t) as u32, ids.device())?.unsqueeze(0)?;
        let mut x = self
            .wte
            .forward(ids)?
            .broadcast_add(&self.wpe.forward(&positions)?)?;
        for block in &mut self.blocks {
            x = block.forward(&x, &self.shape, pos)?;
        }
        let x = self.ln_f.forward(&x)?;
        let x = match logits {
            Logits::Last => x.narrow(1, t - 1, 1)?.squeeze(0)?,
            Logits::All => x.squeeze(0)?,
        };
        x.matmul(&self.wte.embeddings().t()?)?.to_dtype(DType::F32)
    }
}

pub fn run(
    smoke: &mut Smoke,
    config: &serde_json::Value,
    tensors: HashMap<String, Tensor>,
) -> Result<SmokeResult> {
    let embd = dim(config, &["n_embd", "hidden_size"], cfg::MAX_HIDDEN)?;
    let heads = dim(config, &["n_head", "num_attention_heads"], cfg::MAX_HEADS)?;
    let layers = dim(config, &["n_layer", "num_hidden_layers"], cfg::MAX_LAYERS)?;
    let positions = dim(
        config,
        &["n_positions", "max_position_embeddings"],
        cfg::MAX_POSITIONS,
    )?;
    let vocab = dim(config, &["vocab_size"], cfg::MAX_VOCAB)?;
    let inner = match config.get("n_inner") {
        Some(v) if !v.is_null() => dim(config, &["n_inner"], cfg::MAX_HIDDEN * 8)?,
        _ => 4 * embd,
    };
    divides(("n_embd", embd), ("n_head", heads))?;
    let eps = config["layer_norm_epsilon"].as_f64().unwrap_or(1e-5);

    let tok = prompt::tokenizer(smoke.dir, smoke.log)?;
    let ids = prompt::encode(tok.as_ref(), PROMPT, &FIXED_PROMPT, vocab)?;
    if ids.len() + super::NEW_TOKENS > positions {
        return Err(Stop::failed(format!(
            "config.json allows {positions} positions, too few for the smoke prompt"
        )));
    }
    // The original checkpoints name tensors `h.0...`; `GPT2LMHeadModel` exports `transformer.h.0...`.
    let prefixed = tensors.contains_key("transformer.wte.weight");
    let (vb, misfits) = backend::var_builder(tensors, smoke.dtype, smoke.device);
    let vb = if prefixed { vb.pp("transformer") } else { vb };
    let shape = Shape { embd, heads };
    let load = || -> candle_core::Result<Gpt2> {
        Ok(Gpt2 {
            wte: Embedding::new(vb.get((vocab, embd), "wte.weight")?, embd),
            wpe: Embedding::new(vb.get((positions, embd), "wpe.weight")?, embd),
            blocks: (0..layers)
                .map(|i| Block::load(vb.pp(format!("h.{i}")), &shape, inner, eps))
                .collect::<candle_core::Result<_>>()?,
            ln_f: layer_norm(vb.pp("ln_f"), embd, eps)?,
            shape: Shape { embd, heads },
        })
    };
    let model = load();
    if let Some(reason) = backend::verdict(&misfits) {
        return Err(Stop::Failed(reason));
    }
    let mut model = model.map_err(Stop::forward)?;
    let decoder = Decoder {
        architecture: "gpt2",
        tokenizer: tok.as_ref(),
        prompt: ids,
        eos: super::causal_lm::eos_ids(config),
        limits: Limits { vocab, positions },
    };
    decode::run(smoke, &decoder, &mut |x, pos, logits| {
        model.forward(x, pos, logits)
    })
}
