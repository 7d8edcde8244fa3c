//! Greedy decoding shared by every decoder: prefill the prompt, then take the
//! most likely token sixteen times; then the decoder workload on the same step.

use std::time::Instant;

use candle_core::{DType, Tensor};
use serde_json::json;

use super::{NEW_TOKENS, Smoke, SmokeResult, ms_since};
use crate::load::check_output;
use crate::outcome::{Result, Stop};
use crate::workload;

/// One forward pass: token ids `[1, n]` starting at position `pos` → logits of
/// the last one. A call at position 0 starts a new sequence (empties the cache).
pub type Step<'m> = dyn FnMut(&Tensor, usize) -> candle_core::Result<Tensor> + 'm;

/// The vocabulary and usable positions of a decoder, for the workload.
pub struct Limits {
    pub vocab: usize,
    pub positions: usize,
}

/// Prefills `prompt`, decodes [`NEW_TOKENS`] greedily, fingerprints the
/// result, then runs the decoder workload.
pub fn greedy(
    smoke: &mut Smoke,
    architecture: &str,
    prompt: &[u32],
    step: &mut Step,
    decode_text: &dyn Fn(&[u32]) -> String,
    limits: Limits,
) -> Result<SmokeResult> {
    let device = smoke.device.clone();
    let input = |ids: &[u32]| {
        Tensor::new(ids, &device)
            .and_then(|t| t.unsqueeze(0))
            .map_err(Stop::forward)
    };

    let t = Instant::now();
    let logits = step(&input(prompt)?, 0).map_err(Stop::forward)?;
    let mut next = argmax(&logits)?;
    let prefill_ms = ms_since(t);
    smoke.log.note(format!(
        "prefill of {} tokens: {prefill_ms:.1} ms",
        prompt.len()
    ));

    let mut generated = vec![next];
    let t = Instant::now();
    while generated.len() < NEW_TOKENS {
        smoke.check_time(&format!("after {} generated tokens", generated.len()))?;
        let pos = prompt.len() + generated.len() - 1;
        let logits = step(&input(&[next])?, pos).map_err(Stop::forward)?;
        next = argmax(&logits)?;
        generated.push(next);
    }
    let decode_s = t.elapsed().as_secs_f64();
    let tokens_per_s = (NEW_TOKENS - 1) as f64 / decode_s.max(1e-9);
    smoke.log.note(format!(
        "decoded {NEW_TOKENS} tokens greedily: {tokens_per_s:.1} tokens/s"
    ));
    let text = decode_text(&generated);
    let workload = workload::run_decoder(
        smoke,
        step,
        limits.vocab,
        limits.positions,
        1.0 / tokens_per_s.max(1e-9),
    )?;
    // The workload's tg figure replaces the smoke's 15-token estimate where it ran.
    let tg = workload
        .as_ref()
        .and_then(|w| w.results.iter().find(|r| r.name.starts_with("tg")))
        .map(|r| r.mean);
    Ok(SmokeResult {
        architecture: architecture.to_string(),
        latency_ms: Some(prefill_ms),
        tokens_per_s: Some(tg.unwrap_or(tokens_per_s)),
        fingerprint: json!({"prompt_ids": prompt, "token_ids": generated, "text": text}),
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
