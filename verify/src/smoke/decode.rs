//! What every decoder shares once its forward pass is built: greedy decoding of
//! the fixed prompt (stopping at EOS as `generate` does), the perplexity
//! evaluation, then the decoder workload, all through one forward step.

use std::time::Instant;

use candle_core::{DType, Tensor};
use serde_json::json;
use tokenizers::Tokenizer;

use super::{NEW_TOKENS, Smoke, SmokeResult, ms_since, prompt};
use crate::evaluation;
use crate::load::check_output;
use crate::outcome::{Result, Stop};
use crate::workload;

/// Which positions' logits a forward pass returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logits {
    /// `[1, vocab]`: the last position's, for generation.
    Last,
    /// `[t, vocab]`: every position's, for perplexity.
    All,
}

/// One forward pass: token ids `[1, t]` starting at position `pos` → F32
/// logits. A call at position 0 starts a new sequence (empties the cache).
pub type Step<'m> = dyn FnMut(&Tensor, usize, Logits) -> candle_core::Result<Tensor> + 'm;

/// The vocabulary and usable positions of a decoder.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub vocab: usize,
    pub positions: usize,
}

/// A decoder ready to run: its name in reports, its tokenizer (if the revision
/// has one), the fixed prompt's ids and the ids that end generation.
pub struct Decoder<'a> {
    pub architecture: &'static str,
    pub tokenizer: Option<&'a Tokenizer>,
    pub prompt: Vec<u32>,
    pub eos: Vec<u32>,
    pub limits: Limits,
}

/// Prefills the prompt, decodes up to [`NEW_TOKENS`] greedily (stopping after
/// an EOS token), evaluates perplexity, then runs the decoder workload.
pub fn run(smoke: &mut Smoke, decoder: &Decoder, step: &mut Step) -> Result<SmokeResult> {
    let device = smoke.device.clone();
    let input = |ids: &[u32]| {
        Tensor::new(ids, &device)
            .and_then(|t| t.unsqueeze(0))
            .map_err(Stop::forward)
    };
    let prompt_ids = &decoder.prompt;

    let t = Instant::now();
    let logits = step(&input(prompt_ids)?, 0, Logits::Last).map_err(Stop::forward)?;
    let mut next = argmax(&logits)?;
    let prefill_ms = ms_since(t);
    smoke.log.note(format!(
        "prefill of {} tokens: {prefill_ms:.1} ms",
        prompt_ids.len()
    ));

    let mut generated = vec![next];
    let t = Instant::now();
    while generated.len() < NEW_TOKENS && !decoder.eos.contains(&next) {
        smoke.check_time(&format!("after {} generated tokens", generated.len()))?;
        let pos = prompt_ids.len() + generated.len() - 1;
        let logits = step(&input(&[next])?, pos, Logits::Last).map_err(Stop::forward)?;
        next = argmax(&logits)?;
        generated.push(next);
    }
    let steps = generated.len().saturating_sub(1).max(1);
    let tokens_per_s = steps as f64 / t.elapsed().as_secs_f64().max(1e-9);
    let stopped_at_eos = decoder.eos.contains(&next);
    smoke.log.note(format!(
        "decoded {} tokens greedily{}: {tokens_per_s:.1} tokens/s",
        generated.len(),
        if stopped_at_eos {
            ", stopping at EOS"
        } else {
            ""
        }
    ));
    let text = prompt::decode(decoder.tokenizer, &generated);
    let not_comparable = decoder.tokenizer.is_none().then_some(
        "the revision has no tokenizer.json: the prompt is fixed token ids, not the model's own tokenisation",
    );

    let evaluated = match decoder.tokenizer {
        Some(tok) => evaluation::evaluate_perplexity(smoke, tok, step, decoder.limits)?,
        None => {
            smoke
                .log
                .note("not evaluated on text: the revision has no tokenizer");
            Default::default()
        }
    };
    let workload = workload::run_decoder(
        smoke,
        step,
        decoder.limits.vocab,
        decoder.limits.positions,
        1.0 / tokens_per_s.max(1e-9),
    )?;
    // The workload's tg figure replaces the smoke's short estimate where it ran.
    let tg = workload
        .as_ref()
        .and_then(|w| w.results.iter().find(|r| r.name.starts_with("tg")))
        .map(|r| r.mean);
    Ok(SmokeResult {
        architecture: decoder.architecture.to_string(),
        latency_ms: Some(prefill_ms),
        tokens_per_s: Some(tg.unwrap_or(tokens_per_s)),
        fingerprint: json!({
            "prompt_ids": prompt_ids,
            "token_ids": generated,
            "text": text,
            "stopped_at_eos": stopped_at_eos,
            "comparable_to": if not_comparable.is_none() { json!("transformers") } else { json!(null) },
            "not_comparable": not_comparable,
        }),
        evaluated,
        workload,
        ..Default::default()
    })
}

/// The most likely token (the first on ties), after checking the logits are finite.
fn argmax(logits: &Tensor) -> Result<u32> {
    let flat = logits
        .flatten_all()
        .and_then(|t| t.to_dtype(DType::F32))
        .map_err(Stop::forward)?;
    check_output("logits", &flat)?;
    let values = flat.to_vec1::<f32>().map_err(Stop::forward)?;
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    Ok(best as u32)
}
