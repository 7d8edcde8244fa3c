//! Decoder-only transformers of the Llama family (`LlamaForCausalLM`,
//! `MistralForCausalLM`, `Qwen2ForCausalLM`), written on candle-nn to the
//! semantics of transformers' modelling code: RMSNorm, rotary embeddings with
//! `rope_scaling` (linear, dynamic NTK, llama3), grouped-query attention,
//! sliding windows where the config enables them, q/k/v biases where the
//! family has them, a SiLU-gated MLP and a tied or untied head.
//!
//! candle-transformers has these models too, but they return the logits of
//! the last position only and accept llama3 scaling only; the perplexity
//! evaluation needs every position's logits, and a valid config with another
//! scaling must not fail to parse.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Embedding, Linear, VarBuilder};
use candle_transformers::utils::repeat_kv;

use super::Family;
use super::config::{self as cfg, dim, divides};
use super::decode::Logits;
use crate::outcome::{Result, Stop};

/// How positions are turned into rotation angles (`rope_scaling`).
#[derive(Debug, Clone, PartialEq)]
pub enum RopeScaling {
    None,
    /// Positions divided by `factor`.
    Linear {
        factor: f64,
    },
    /// NTK-aware: past `original` positions the base grows with the sequence.
    Dynamic {
        factor: f64,
        original: usize,
    },
    /// Llama 3.1: low frequencies scaled by `factor`, high ones kept, a smooth band between.
    Llama3 {
        factor: f64,
        low_freq_factor: f64,
        high_freq_factor: f64,
        original: usize,
    },
}

/// What the forward pass needs from `config.json`.
#[derive(Debug, Clone)]
pub struct Config {
    pub vocab: usize,
    pub hidden: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub positions: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub rope_scaling: RopeScaling,
    /// Keys further back than this are masked, in the layers listed by `windowed`.
    pub sliding_window: Option<usize>,
    /// Layers from this index on use the sliding window (Qwen2's `max_window_layers`).
    pub window_from_layer: usize,
    pub qkv_bias: bool,
    pub o_bias: bool,
    pub mlp_bias: bool,
    pub tied: bool,
    /// The tokens that end generation (`eos_token_id`, one or several).
    pub eos: Vec<u32>,
}

fn number(config: &serde_json::Value, key: &str, default: f64) -> Result<f64> {
    match config.get(key) {
        None | Some(serde_json::Value::Null) => Ok(default),
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x > 0.0 => Ok(x),
            _ => Err(Stop::failed(format!(
                "config.json gives `{key}` = {v}, not a positive number"
            ))),
        },
    }
}

fn flag(config: &serde_json::Value, key: &str, default: bool) -> bool {
    config.get(key).and_then(|v| v.as_bool()).unwrap_or(default)
}

/// The ids of `eos_token_id`, which may be one id or a list.
pub fn eos_ids(config: &serde_json::Value) -> Vec<u32> {
    let ids = match config.get("eos_token_id") {
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_u64()).collect(),
        Some(v) => v.as_u64().into_iter().collect(),
        None => Vec::new(),
    };
    ids.into_iter()
        .filter_map(|id| u32::try_from(id).ok())
        .collect()
}

fn rope_scaling(config: &serde_json::Value, positions: usize) -> Result<RopeScaling> {
    let scaling = match config.get("rope_scaling") {
        None | Some(serde_json::Value::Null) => return Ok(RopeScaling::None),
        Some(s) if s.is_object() => s,
        Some(s) => {
            return Err(Stop::failed(format!(
                "config.json gives `rope_scaling` = {s}, not an object"
            )));
        }
    };
    // transformers reads `rope_type`, and `type` in older configs.
    let kind = scaling
        .get("rope_type")
        .or_else(|| scaling.get("type"))
        .and_then(|v| v.as_str())
        .unwrap_or("default");
    let factor = || number(scaling, "factor", 1.0);
    let original = || -> Result<usize> {
        match scaling.get("original_max_position_embeddings") {
            None | Some(serde_json::Value::Null) => Ok(positions),
            Some(_) => dim(
                scaling,
                &["original_max_position_embeddings"],
                cfg::MAX_POSITIONS,
            ),
        }
    };
    Ok(match kind {
        "default" => RopeScaling::None,
        "linear" => RopeScaling::Linear { factor: factor()? },
        "dynamic" => RopeScaling::Dynamic {
            factor: factor()?,
            original: original()?,
        },
        "llama3" => {
            let low = number(scaling, "low_freq_factor", 1.0)?;
            let high = number(scaling, "high_freq_factor", 4.0)?;
            if high <= low {
                return Err(Stop::failed(format!(
                    "config.json's llama3 `rope_scaling` has high_freq_factor {high} not above low_freq_factor {low}"
                )));
            }
            RopeScaling::Llama3 {
                factor: factor()?,
                low_freq_factor: low,
                high_freq_factor: high,
                original: original()?,
            }
        }
        other => {
            return Err(Stop::error(format!(
                "config.json asks for `rope_scaling` of type `{other}`, which this verifier does not implement (it knows linear, dynamic and llama3)"
            )));
        }
    })
}

impl Config {
    /// Reads and bounds the numbers of `config.json` for `family`.
    pub fn read(config: &serde_json::Value, family: Family) -> Result<Config> {
        let hidden = dim(config, &["hidden_size"], cfg::MAX_HIDDEN)?;
        let heads = dim(config, &["num_attention_heads"], cfg::MAX_HEADS)?;
        let kv_heads = dim(
            config,
            &["num_key_value_heads", "num_attention_heads"],
            cfg::MAX_HEADS,
        )?;
        let head_dim = match config.get("head_dim") {
            Some(v) if !v.is_null() => dim(config, &["head_dim"], cfg::MAX_HIDDEN)?,
            _ => {
                divides(("hidden_size", hidden), ("num_attention_heads", heads))?;
                hidden / heads
            }
        };
        divides(
            ("num_attention_heads", heads),
            ("num_key_value_heads", kv_heads),
        )?;
        if head_dim % 2 != 0 {
            return Err(Stop::failed(format!(
                "config.json implies an odd head size {head_dim}: rotary embeddings need an even one"
            )));
        }
        let act = config
            .get("hidden_act")
            .and_then(|v| v.as_str())
            .unwrap_or("silu");
        if act != "silu" {
            return Err(Stop::error(format!(
                "config.json asks for the activation `{act}`, which this verifier does not implement for {} (it knows silu)",
                family.name()
            )));
        }
        let positions = dim(config, &["max_position_embeddings"], cfg::MAX_POSITIONS)?;
        let layers = dim(config, &["num_hidden_layers"], cfg::MAX_LAYERS)?;
        let window = match config.get("sliding_window") {
            Some(v) if !v.is_null() => Some(dim(config, &["sliding_window"], cfg::MAX_POSITIONS)?),
            _ => None,
        };
        // Mistral windows every layer when it has a window; Qwen2 only when
        // `use_sliding_window` is on, from `max_window_layers` up.
        let (sliding_window, window_from_layer) = match family {
            Family::Mistral => (window, 0),
            Family::Qwen2 if flag(config, "use_sliding_window", false) => (
                window,
                config
                    .get("max_window_layers")
                    .and_then(|v| v.as_u64())
                    .map_or(0, |n| n as usize),
            ),
            _ => (None, 0),
        };
        let attention_bias = flag(config, "attention_bias", false);
        Ok(Config {
            vocab: dim(config, &["vocab_size"], cfg::MAX_VOCAB)?,
            hidden,
            intermediate: dim(config, &["intermediate_size"], cfg::MAX_HIDDEN * 8)?,
            layers,
            heads,
            kv_heads,
            head_dim,
            positions,
            rms_norm_eps: number(config, "rms_norm_eps", 1e-6)?,
            rope_theta: number(config, "rope_theta", 10_000.0)?,
            rope_scaling: rope_scaling(config, positions)?,
            sliding_window,
            window_from_layer,
            qkv_bias: family == Family::Qwen2 || attention_bias,
            o_bias: attention_bias,
            mlp_bias: flag(config, "mlp_bias", false),
            tied: flag(config, "tie_word_embeddings", false),
            eos: eos_ids(config),
        })
    }

    /// The inverse frequencies of the rotary embedding for a sequence of `len` positions.
    fn inv_freq(&self, len: usize) -> Vec<f32> {
        let d = self.head_dim as f64;
        let base = match self.rope_scaling {
            RopeScaling::Dynamic { factor, original } if len > original => {
                let grown = factor * len as f64 / original as f64 - (factor - 1.0);
                self.rope_theta * grown.powf(d / (d - 2.0))
            }
            _ => self.rope_theta,
        };
        (0..self.head_dim / 2)
            .map(|i| {
                let freq = 1.0 / base.powf(2.0 * i as f64 / d);
                (match self.rope_scaling {
                    RopeScaling::Linear { factor } => freq / factor,
                    RopeScaling::Llama3 {
                        factor,
                        low_freq_factor,
                        high_freq_factor,
                        original,
                    } => {
                        let wavelen = 2.0 * std::f64::consts::PI / freq;
                        let low_wavelen = original as f64 / low_freq_factor;
                        let high_wavelen = original as f64 / high_freq_factor;
                        if wavelen < high_wavelen {
                            freq
                        } else if wavelen > low_wavelen {
                            freq / factor
                        } else {
                            let smooth = (original as f64 / wavelen - low_freq_factor)
                                / (high_freq_factor - low_freq_factor);
                            (1.0 - smooth) * freq / factor + smooth * freq
                        }
                    }
                    _ => freq,
                }) as f32
            })
            .collect()
    }
}

fn linear(
    vb: VarBuilder,
    inputs: usize,
    outputs: usize,
    bias: bool,
) -> candle_core::Result<Linear> {
    let weight = vb.get((outputs, inputs), "weight")?;
    let bias = if bias {
        Some(vb.get(outputs, "bias")?)
    } else {
        None
    };
    Ok(Linear::new(weight, bias))
}

struct RmsNorm {
    weight: Tensor,
    eps: f32,
}

impl RmsNorm {
    fn load(vb: VarBuilder, size: usize, eps: f64) -> candle_core::Result<Self> {
        Ok(RmsNorm {
            weight: vb.get(size, "weight")?,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::rms_norm(x, &self.weight, self.eps)
    }
}

struct Layer {
    input_norm: RmsNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    post_norm: RmsNorm,
    gate: Linear,
    up: Linear,
    down: Linear,
    /// Whether this layer attends through the sliding window.
    windowed: bool,
    cache: Option<(Tensor, Tensor)>,
}

/// The attention masks of one forward pass, built once for every layer.
struct Masks {
    causal: Tensor,
    /// Causal and within the sliding window, when the config has one.
    windowed: Option<Tensor>,
}

impl Layer {
    fn load(vb: VarBuilder, c: &Config, index: usize) -> candle_core::Result<Self> {
        let attn = vb.pp("self_attn");
        let mlp = vb.pp("mlp");
        let (q_out, kv_out) = (c.heads * c.head_dim, c.kv_heads * c.head_dim);
        Ok(Layer {
            input_norm: RmsNorm::load(vb.pp("input_layernorm"), c.hidden, c.rms_norm_eps)?,
            q: linear(attn.pp("q_proj"), c.hidden, q_out, c.qkv_bias)?,
            k: linear(attn.pp("k_proj"), c.hidden, kv_out, c.qkv_bias)?,
            v: linear(attn.pp("v_proj"), c.hidden, kv_out, c.qkv_bias)?,
            o: linear(attn.pp("o_proj"), q_out, c.hidden, c.o_bias)?,
            post_norm: RmsNorm::load(vb.pp("post_attention_layernorm"), c.hidden, c.rms_norm_eps)?,
            gate: linear(mlp.pp("gate_proj"), c.hidden, c.intermediate, c.mlp_bias)?,
            up: linear(mlp.pp("up_proj"), c.hidden, c.intermediate, c.mlp_bias)?,
            down: linear(mlp.pp("down_proj"), c.intermediate, c.hidden, c.mlp_bias)?,
            windowed: c.sliding_window.is_some() && index >= c.window_from_layer,
            cache: None,
        })
    }

    fn forward(
        &mut self,
        x: &Tensor,
        c: &Config,
        rotary: &(Tensor, Tensor),
        masks: &Masks,
    ) -> candle_core::Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let h = self.input_norm.forward(x)?;
        let heads = |proj: &Linear, n: usize| -> candle_core::Result<Tensor> {
            proj.forward(&h)?
                .reshape((b, t, n, c.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (cos, sin) = rotary;
        let q = candle_nn::rotary_emb::rope(&heads(&self.q, c.heads)?, cos, sin)?;
        let mut k = candle_nn::rotary_emb::rope(&heads(&self.k, c.kv_heads)?, cos, sin)?;
        let mut v = heads(&self.v, c.kv_heads)?;
        if let Some((pk, pv)) = &self.cache {
            k = Tensor::cat(&[pk, &k], 2)?;
            v = Tensor::cat(&[pv, &v], 2)?;
        }
        self.cache = Some((k.clone(), v.clone()));
        let rep = c.heads / c.kv_heads;
        let k = repeat_kv(k, rep)?.contiguous()?;
        let v = repeat_kv(v, rep)?.contiguous()?;
        let scale = 1.0 / (c.head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?;
        let mask = match (self.windowed, &masks.windowed) {
            (true, Some(windowed)) => windowed,
            _ => &masks.causal,
        };
        let probs = candle_nn::ops::softmax_last_dim(&scores.broadcast_add(mask)?)?;
        let attn = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((b, t, c.heads * c.head_dim))?;
        let x = (x + self.o.forward(&attn)?)?;
        let h = self.post_norm.forward(&x)?;
        let mlp = self
            .down
            .forward(&(self.gate.forward(&h)?.silu()? * self.up.forward(&h)?)?)?;
        x + mlp
    }
}

/// `[t, pos + t]`: 0 where the query at `pos + i` may see key `j` (causal, and
/// within the sliding window if any), else -inf.
fn attention_mask(
    t: usize,
    pos: usize,
    window: Option<usize>,
    device: &Device,
    dtype: DType,
) -> candle_core::Result<Tensor> {
    let keys = pos + t;
    let mask: Vec<f32> = (0..t)
        .flat_map(|i| {
            let q = pos + i;
            (0..keys).map(move |j| {
                let visible = j <= q && window.is_none_or(|w| q - j < w);
                if visible { 0.0 } else { f32::NEG_INFINITY }
            })
        })
        .collect();
    Tensor::from_vec(mask, (t, keys), device)?.to_dtype(dtype)
}

/// A loaded model with its KV cache.
pub struct CausalLm {
    config: Config,
    embed: Embedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    head: Tensor,
}

impl CausalLm {
    pub fn load(vb: VarBuilder, config: &Config) -> candle_core::Result<Self> {
        let c = config;
        let model = vb.pp("model");
        let embed = model.get((c.vocab, c.hidden), "embed_tokens.weight")?;
        let head = if c.tied {
            embed.clone()
        } else {
            vb.get((c.vocab, c.hidden), "lm_head.weight")?
        };
        Ok(CausalLm {
            config: c.clone(),
            embed: Embedding::new(embed, c.hidden),
            layers: (0..c.layers)
                .map(|i| Layer::load(model.pp(format!("layers.{i}")), c, i))
                .collect::<candle_core::Result<_>>()?,
            norm: RmsNorm::load(model.pp("norm"), c.hidden, c.rms_norm_eps)?,
            head,
        })
    }

    /// The rotary tables `(cos, sin)`, `[t, head_dim / 2]`, for positions `pos..pos + t`.
    fn rotary(
        &self,
        pos: usize,
        t: usize,
        device: &Device,
        dtype: DType,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let inv_freq = self.config.inv_freq(pos + t);
        let half = inv_freq.len();
        let angles: Vec<f32> = (pos..pos + t)
            .flat_map(|p| inv_freq.iter().map(move |f| p as f32 * f))
            .collect();
        let angles = Tensor::from_vec(angles, (t, half), device)?;
        Ok((
            angles.cos()?.to_dtype(dtype)?,
            angles.sin()?.to_dtype(dtype)?,
        ))
    }

    /// Runs token ids `[1, t]` that start at position `pos`; position 0 starts
    /// a new sequence (the cache is emptied).
    pub fn forward(
        &mut self,
        ids: &Tensor,
        pos: usize,
        logits: Logits,
    ) -> candle_core::Result<Tensor> {
        if pos == 0 {
            for layer in &mut self.layers {
                layer.cache = None;
            }
        }
        let (_, t) = ids.dims2()?;
        let mut x = self.embed.forward(ids)?;
        let rotary = self.rotary(pos, t, ids.device(), x.dtype())?;
        let mask = |window| attention_mask(t, pos, window, ids.device(), x.dtype());
        let masks = Masks {
            causal: mask(None)?,
            windowed: self
                .config
                .sliding_window
                .map(|w| mask(Some(w)))
                .transpose()?,
        };
        for layer in &mut self.layers {
            x = layer.forward(&x, &self.config, &rotary, &masks)?;
        }
        let x = self.norm.forward(&x)?;
        let x = match logits {
            Logits::Last => x.narrow(1, t - 1, 1)?.squeeze(0)?,
            Logits::All => x.squeeze(0)?,
        };
        // [1, vocab] or [t, vocab]; F32 whatever the model runs in, for argmax and log-softmax.
        x.matmul(&self.head.t()?)?.to_dtype(DType::F32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(scaling: serde_json::Value) -> Config {
        let c = serde_json::json!({
            "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 1,
            "intermediate_size": 128, "vocab_size": 100, "max_position_embeddings": 4096,
            "rope_theta": 10000.0, "rope_scaling": scaling,
        });
        Config::read(&c, Family::Llama).unwrap()
    }

    #[test]
    fn linear_scaling_divides_every_frequency() {
        let plain = config(serde_json::Value::Null).inv_freq(10);
        let linear = config(serde_json::json!({"rope_type": "linear", "factor": 4.0})).inv_freq(10);
        assert_eq!(plain[0], 1.0);
        for (p, l) in plain.iter().zip(&linear) {
            assert!((p / 4.0 - l).abs() < 1e-9);
        }
    }

    #[test]
    fn dynamic_scaling_starts_past_the_original_length() {
        let c = config(serde_json::json!({"rope_type": "dynamic", "factor": 2.0}));
        let plain = config(serde_json::Value::Null);
        assert_eq!(c.inv_freq(4096), plain.inv_freq(4096));
        // Past 4096 positions the base grows: base * (2 * 8192 / 4096 - 1)^(16 / 14).
        let longer = c.inv_freq(8192);
        let base = 10_000f64 * 3f64.powf(16.0 / 14.0);
        assert!((longer[1] as f64 - 1.0 / base.powf(2.0 / 16.0)).abs() < 1e-6);
    }

    #[test]
    fn llama3_scaling_keeps_high_and_divides_low_frequencies() {
        let c = config(serde_json::json!({"rope_type": "llama3", "factor": 8.0,
            "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192}));
        let plain = config(serde_json::Value::Null).inv_freq(10);
        let scaled = c.inv_freq(10);
        // Wavelength 2 pi: far shorter than 8192 / 4, kept.
        assert_eq!(scaled[0], plain[0]);
        // The lowest frequency's wavelength is beyond 8192: divided by 8.
        let last = plain.len() - 1;
        assert!((plain[last] / 8.0 - scaled[last]).abs() < 1e-12);
    }

    #[test]
    fn sliding_windows_mask_keys_too_far_back() {
        let mask = attention_mask(3, 2, Some(2), &Device::Cpu, DType::F32)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        // Query at 2 sees 1 and 2; at 3 sees 2 and 3; at 4 sees 3 and 4.
        let visible: Vec<Vec<bool>> = mask
            .iter()
            .map(|row| row.iter().map(|v| *v == 0.0).collect())
            .collect();
        assert_eq!(
            visible,
            vec![
                vec![false, true, true, false, false],
                vec![false, false, true, true, false],
                vec![false, false, false, true, true],
            ]
        );
    }
}
