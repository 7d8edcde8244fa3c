//! The decoder evaluations: perplexity on texts shipped with the verifier,
//! public-domain English prose (judged) and a code sample (recorded), windowed
//! as transformers' "perplexity of fixed-length models" recipe does.

use granary_core::Sha256;
use tokenizers::Tokenizer;
use tokenizers::models::ModelWrapper;

use super::{DEGRADED, Evaluated, Evaluation, RECORDED, SANE};
use crate::outcome::{Result, Stop};
use crate::smoke::Smoke;
use crate::smoke::decode::{Limits, Logits, Step};

/// The prose evaluation's name; a new text gets a new name.
pub const PROSE: &str = "english-prose-v1";
/// The code evaluation's name.
pub const CODE: &str = "code-sample-v1";

const PROSE_TEXT: &str = include_str!("english_prose.txt");
const CODE_TEXT: &str = include_str!("code_sample.py");

/// Each forward pass sees at most this many tokens (fewer if the model has fewer positions).
pub const CONTEXT: usize = 512;
/// Windows start this many tokens apart (half the context when that is smaller).
pub const STRIDE: usize = 256;
/// Above this perplexity on English prose a model is called broken (or above a
/// quarter of its vocabulary, for small vocabularies: guessing uniformly scores
/// the vocabulary size). Working small models score 10 to 40 on it; broken
/// copies score thousands (docs/VERIFICATION.md).
pub const MAX_PERPLEXITY: f64 = 1000.0;
/// A text's evaluation stops, unjudged, when the rest of it would need more
/// than this share of the time left (the workload runs after it).
pub const TIME_SHARE: f64 = 0.5;
/// A text is evaluated only if the tokenizer maps at most this share of its
/// tokens to its unknown token: perplexity over unknown tokens means nothing.
pub const MAX_UNKNOWN: f64 = 0.01;

/// The perplexity above which prose marks a model with `vocab` tokens degraded.
pub fn threshold(vocab: usize) -> f64 {
    MAX_PERPLEXITY.min(vocab as f64 / 4.0)
}

/// SHA-256 (hex) of the shipped prose.
pub fn prose_digest() -> String {
    Sha256::of(PROSE_TEXT.as_bytes()).hex()
}

/// SHA-256 (hex) of the shipped code sample.
pub fn code_digest() -> String {
    Sha256::of(CODE_TEXT.as_bytes()).hex()
}

/// The id of the tokenizer's unknown token, if its model has one.
fn unknown_id(tok: &Tokenizer) -> Option<u32> {
    let unk = match tok.get_model() {
        ModelWrapper::WordLevel(m) => Some(m.unk_token.clone()),
        ModelWrapper::WordPiece(m) => Some(m.unk_token.clone()),
        ModelWrapper::BPE(m) => m.get_unk_token().clone(),
        ModelWrapper::Unigram(_) => None,
    }?;
    tok.token_to_id(&unk)
}

/// The windows over `n` tokens: `(begin, end, first scored position)`.
/// Every position from 1 on is scored exactly once, by the first window that
/// reaches it, from the context `begin..p` of that window (given a stride
/// smaller than the context, as [`evaluate`] chooses).
pub fn windows(n: usize, context: usize, stride: usize) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    if n < 2 {
        return out;
    }
    let mut prev_end = 0;
    let mut begin = 0;
    loop {
        let end = (begin + context).min(n);
        out.push((begin, end, prev_end.max(begin + 1)));
        prev_end = end;
        if end == n {
            break;
        }
        begin += stride;
    }
    out
}

/// The seconds the remaining `total - done` tokens would take at the rate of
/// the first `done`, when that is more than `share` of the time `left`.
fn too_slow(
    elapsed: std::time::Duration,
    done: usize,
    total: usize,
    left: std::time::Duration,
    share: f64,
) -> Option<f64> {
    if done == 0 {
        return None;
    }
    let needed = elapsed.as_secs_f64() / done as f64 * (total - done) as f64;
    (needed > left.as_secs_f64() * share).then_some(needed)
}

/// Perplexity of `ids` under the model: exp of the mean negative log-likelihood.
/// `Err(seconds)` instead when, measured on the windows run so far, the rest
/// would need more than `share` of the time left: a model too slow for the
/// budget is not judged on text rather than failed for being slow.
fn perplexity(
    smoke: &mut Smoke,
    step: &mut Step,
    ids: &[u32],
    context: usize,
    stride: usize,
    share: f64,
) -> Result<std::result::Result<f64, f64>> {
    let device = smoke.device.clone();
    let (mut nll, mut scored) = (0f64, 0usize);
    let plan = windows(ids.len(), context, stride);
    let total: usize = plan.iter().map(|(b, e, _)| e - b).sum();
    let (mut done, started) = (0usize, std::time::Instant::now());
    for (begin, end, first) in plan {
        let left = smoke
            .deadline
            .saturating_duration_since(std::time::Instant::now());
        if let Some(needed) = too_slow(started.elapsed(), done, total, left, share) {
            return Ok(Err(needed));
        }
        done += end - begin;
        smoke.check_time(&format!(
            "during the perplexity evaluation, at token {begin}"
        ))?;
        let window = &ids[begin..end];
        let input = candle_core::Tensor::new(window, &device)
            .and_then(|t| t.unsqueeze(0))
            .map_err(Stop::forward)?;
        let logits = step(&input, 0, Logits::All).map_err(Stop::forward)?;
        // Row p - 1 - begin predicts the token at p.
        let from = first - 1 - begin;
        let rows = end - first;
        let logprobs = logits
            .narrow(0, from, rows)
            .and_then(|l| candle_nn::ops::log_softmax(&l, 1))
            .and_then(|l| l.to_vec2::<f32>())
            .map_err(Stop::forward)?;
        for (row, &target) in logprobs.iter().zip(&ids[first..end]) {
            let lp = row[target as usize] as f64;
            if !lp.is_finite() {
                return Err(Stop::failed(
                    "the perplexity evaluation met a non-finite log-probability",
                ));
            }
            nll -= lp;
            scored += 1;
        }
    }
    Ok(Ok((nll / scored as f64).exp()))
}

/// What one text gives: its ids, or why it cannot be evaluated.
fn encode(tok: &Tokenizer, text: &str, vocab: usize) -> std::result::Result<Vec<u32>, String> {
    // The whole text, as one sequence: a tokenizer.json's own padding or
    // truncation (an encoder's, say) would hide or invent tokens.
    let mut whole = tok.clone();
    whole
        .with_truncation(None)
        .map_err(|e| format!("the tokenizer cannot turn truncation off: {e}"))?;
    whole.with_padding(None);
    let ids = whole
        .encode(text, true)
        .map_err(|e| format!("the tokenizer cannot encode it: {e}"))?
        .get_ids()
        .to_vec();
    if ids.len() < 2 {
        return Err("the tokenizer turns it into fewer than two tokens".into());
    }
    if let Some(id) = ids.iter().find(|&&id| id as usize >= vocab) {
        return Err(format!(
            "the tokenizer gives token id {id}, outside the model's vocabulary of {vocab}"
        ));
    }
    if let Some(unk) = unknown_id(tok) {
        let unknown = ids.iter().filter(|&&id| id == unk).count();
        let share = unknown as f64 / ids.len() as f64;
        if share > MAX_UNKNOWN {
            return Err(format!(
                "the tokenizer knows too little of it ({:.0} % of its tokens are unknown)",
                share * 100.0
            ));
        }
    }
    Ok(ids)
}

/// Perplexity on the shipped prose (judged) and code sample (recorded).
pub fn evaluate(
    smoke: &mut Smoke,
    tok: &Tokenizer,
    step: &mut Step,
    limits: Limits,
) -> Result<Evaluated> {
    let context = CONTEXT.min(limits.positions);
    let stride = STRIDE.min(context / 2);
    let mut evaluated = Evaluated::default();
    if stride == 0 {
        smoke
            .log
            .note("not evaluated on text: the model has fewer than two positions");
        return Ok(evaluated);
    }
    for (name, text, digest, judged) in [
        (PROSE, PROSE_TEXT, prose_digest(), true),
        (CODE, CODE_TEXT, code_digest(), false),
    ] {
        let ids = match encode(tok, text, limits.vocab) {
            Ok(ids) => ids,
            Err(why) => {
                smoke.log.note(format!("{name} not evaluated: {why}"));
                continue;
            }
        };
        let ppl = match perplexity(smoke, step, &ids, context, stride, TIME_SHARE)? {
            Ok(ppl) => ppl,
            Err(needed) => {
                smoke.log.note(format!(
                    "{name} not evaluated: the rest of the text would take about {needed:.0} s, \
                     more than {:.0} % of the time left",
                    TIME_SHARE * 100.0
                ));
                continue;
            }
        };
        if !ppl.is_finite() {
            return Err(Stop::failed(format!(
                "{name}: the perplexity is not finite"
            )));
        }
        let value = (ppl * 1e4).round() / 1e4;
        let limit = judged.then(|| threshold(limits.vocab));
        smoke.log.note(format!(
            "{name}: perplexity {value:.4} over {} tokens (context {context}, stride {stride}){}",
            ids.len(),
            limit.map_or(String::new(), |t| format!(", threshold {t}"))
        ));
        let degraded = limit.filter(|t| value > *t).map(|t| {
            format!(
                "runs, but its perplexity on English text is {value:.0} (a working model scores \
                 well under {t:.0}): the weights or the tokenizer look broken"
            )
        });
        let verdict = match (&degraded, judged) {
            (Some(_), _) => DEGRADED,
            (None, true) => SANE,
            (None, false) => RECORDED,
        };
        evaluated.evaluations.push(Evaluation {
            name: name.into(),
            digest,
            metric: "perplexity".into(),
            value,
            threshold: limit,
            verdict: verdict.into(),
            tokens: Some(ids.len() as u64),
            context: Some(context as u64),
            stride: Some(stride as u64),
        });
        if evaluated.degraded.is_none() {
            evaluated.degraded = degraded;
        }
    }
    Ok(evaluated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_after_the_first_is_scored_once() {
        for (n, context, stride) in [
            (2, 512, 256),
            (1000, 512, 256),
            (513, 512, 256),
            (10, 4, 3),
            (7, 4, 2),
        ] {
            let mut scored = vec![0; n];
            for (begin, end, first) in windows(n, context, stride) {
                assert!(end - begin <= context && first > begin && first <= end);
                for s in &mut scored[first..end] {
                    *s += 1;
                }
            }
            assert_eq!(scored[0], 0);
            assert!(
                scored[1..].iter().all(|&s| s == 1),
                "{n} {context} {stride}: {scored:?}"
            );
        }
    }

    #[test]
    fn the_windows_of_a_short_text_are_one() {
        assert_eq!(windows(300, 512, 256), vec![(0, 300, 1)]);
        assert_eq!(windows(1, 512, 256), vec![]);
        assert_eq!(windows(600, 512, 256), vec![(0, 512, 1), (256, 600, 512)]);
    }

    #[test]
    fn a_text_too_slow_for_the_time_left_stops_after_its_first_window() {
        use std::time::Duration;
        let s = Duration::from_secs;
        // Nothing measured yet: always start.
        assert_eq!(too_slow(s(0), 0, 5000, s(1), 0.5), None);
        // 512 tokens in 10 s, 4488 to go: about 88 s, over half of 100 s.
        let needed = too_slow(s(10), 512, 5000, s(100), 0.5).unwrap();
        assert!((needed - 87.65625).abs() < 1e-9);
        // The same with 200 s left fits.
        assert_eq!(too_slow(s(10), 512, 5000, s(200), 0.5), None);
    }

    #[test]
    fn small_vocabularies_get_a_quarter_of_their_size() {
        assert_eq!(threshold(49_152), MAX_PERPLEXITY);
        assert_eq!(threshold(400), 100.0);
    }
}
