//! The disclosed throughput workload: what is timed (llama-bench's pp512 /
//! tg128 for decoders, batch 1 and batch 32 at 128 tokens for encoders), how
//! often, and the smaller declared workloads a model gets when the standard one
//! does not fit its context or the time left. docs/VERIFICATION.md, "Workload".

mod decoder;
mod encoder;

use std::time::Instant;

use granary_core::Sha256;
use granary_core::api::{Workload, WorkloadResult};
use serde_json::json;

use crate::smoke::Smoke;

pub use decoder::run_decoder;
pub use encoder::run_encoder;

/// Timed repetitions of every part.
pub const REPETITIONS: u32 = 5;
/// Untimed repetitions before them.
pub const WARMUPS: u32 = 1;

/// One timed part of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// One forward pass over `tokens` prompt tokens from an empty cache.
    Prompt { tokens: usize },
    /// `tokens` single-token steps with the KV cache, from an empty cache.
    Generate { tokens: usize },
    /// One forward pass over `batch` sequences of `tokens` tokens, mask all ones.
    Encode { batch: usize, tokens: usize },
}

impl Part {
    /// `pp512`, `tg128`, `b32@128`.
    pub fn name(self) -> String {
        match self {
            Part::Prompt { tokens } => format!("pp{tokens}"),
            Part::Generate { tokens } => format!("tg{tokens}"),
            Part::Encode { batch, tokens } => format!("b{batch}@{tokens}"),
        }
    }

    /// Tokens one repetition processes.
    fn tokens(self) -> usize {
        match self {
            Part::Prompt { tokens } | Part::Generate { tokens } => tokens,
            Part::Encode { batch, tokens } => batch * tokens,
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Part::Encode { .. } => "items/s",
            _ => "tokens/s",
        }
    }

    /// Units (tokens or items) one repetition counts.
    fn units(self) -> f64 {
        match self {
            Part::Prompt { tokens } | Part::Generate { tokens } => tokens as f64,
            Part::Encode { batch, .. } => batch as f64,
        }
    }
}

/// A workload: its parts, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub parts: Vec<Part>,
}

impl Spec {
    /// `pp512/tg128`, `b1/b32@128`.
    pub fn name(&self) -> String {
        let names: Vec<String> = self
            .parts
            .iter()
            .map(|p| match *p {
                // Encode parts share their length, written once at the end.
                Part::Encode { batch, .. } => format!("b{batch}"),
                other => other.name(),
            })
            .collect();
        match self.parts.first() {
            Some(Part::Encode { tokens, .. }) => format!("{}@{tokens}", names.join("/")),
            _ => names.join("/"),
        }
    }

    /// Positions one sequence needs.
    pub fn positions(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match *p {
                Part::Prompt { tokens } | Part::Generate { tokens } => tokens,
                Part::Encode { tokens, .. } => tokens,
            })
            .max()
            .unwrap_or(0)
    }

    /// Tokens processed by every repetition, warm-ups included.
    pub fn total_tokens(&self) -> usize {
        let per_rep: usize = self.parts.iter().map(|p| p.tokens()).sum();
        per_rep * (REPETITIONS + WARMUPS) as usize
    }

    /// SHA-256 of the canonical description: parts, repetitions, warm-ups and
    /// the token ids' rule. The thread count and device are not in it: they
    /// are the hardware, reported beside it.
    pub fn digest(&self) -> String {
        let parts: Vec<serde_json::Value> = self
            .parts
            .iter()
            .map(|p| match *p {
                Part::Prompt { tokens } => json!({"kind": "prompt", "tokens": tokens}),
                Part::Generate { tokens } => json!({"kind": "generate", "tokens": tokens}),
                Part::Encode { batch, tokens } => {
                    json!({"kind": "encode", "batch": batch, "tokens": tokens, "mask": "ones"})
                }
            })
            .collect();
        let description = json!({
            "workload": self.name(),
            "parts": parts,
            "repetitions": REPETITIONS,
            "warmups": WARMUPS,
            "token_ids": TOKEN_RULE,
        });
        Sha256::of(description.to_string().as_bytes()).hex()
    }
}

/// How the synthetic token ids are made; part of the digest.
const TOKEN_RULE: &str = "id(i) = (7919 * i + 13) mod vocab_size";

/// The `n` synthetic token ids for a vocabulary of `vocab`.
pub fn token_ids(n: usize, vocab: usize) -> Vec<u32> {
    (0..n)
        .map(|i| ((7919 * i + 13) % vocab.max(1)) as u32)
        .collect()
}

/// Decoders: the standard pp512/tg128, then smaller declared ones.
pub fn decoder_ladder() -> Vec<Spec> {
    [(512, 128), (128, 32), (32, 8)]
        .into_iter()
        .map(|(pp, tg)| Spec {
            parts: vec![Part::Prompt { tokens: pp }, Part::Generate { tokens: tg }],
        })
        .collect()
}

/// Encoders: the standard batch 1 and 32 at 128 tokens, then a smaller declared one.
pub fn encoder_ladder() -> Vec<Spec> {
    [(32, 128), (8, 32)]
        .into_iter()
        .map(|(big, tokens)| Spec {
            parts: vec![
                Part::Encode { batch: 1, tokens },
                Part::Encode { batch: big, tokens },
            ],
        })
        .collect()
}

/// The first workload of `ladder` that fits `positions` and whose estimated
/// time (`secs_per_token` × its tokens) is at most half the time left, with
/// why it is not the standard one; `None` when none fits.
pub fn choose(
    ladder: &[Spec],
    positions: usize,
    secs_per_token: f64,
    secs_left: f64,
) -> Option<(Spec, Option<String>)> {
    let standard = ladder.first()?;
    let fits = |s: &Spec| s.positions() <= positions;
    let in_time = |s: &Spec| s.total_tokens() as f64 * secs_per_token <= secs_left / 2.0;
    let chosen = ladder.iter().find(|s| fits(s) && in_time(s))?;
    let reduced = (chosen != standard).then(|| {
        if !fits(standard) {
            format!(
                "{} needs {} positions; the model has {positions}",
                standard.name(),
                standard.positions()
            )
        } else {
            format!(
                "{} would take about {:.0} s, more than half the {:.0} s left",
                standard.name(),
                standard.total_tokens() as f64 * secs_per_token,
                secs_left
            )
        }
    });
    Some((chosen.clone(), reduced))
}

/// Times `REPETITIONS` of each part after `WARMUPS`, through `once(part)`,
/// which runs one repetition to completion (synchronised with the device).
pub fn measure(
    smoke: &mut Smoke,
    spec: &Spec,
    reduced: Option<String>,
    once: &mut dyn FnMut(Part) -> crate::outcome::Result<()>,
) -> crate::outcome::Result<Workload> {
    let mut results = Vec::new();
    for &part in &spec.parts {
        let mut rates = Vec::new();
        for rep in 0..WARMUPS + REPETITIONS {
            smoke.check_time(&format!("workload {}, repetition {rep}", part.name()))?;
            let t = Instant::now();
            once(part)?;
            let secs = t.elapsed().as_secs_f64().max(1e-9);
            if rep >= WARMUPS {
                rates.push(part.units() / secs);
            }
        }
        let (mean, sd) = mean_sd(&rates);
        results.push(WorkloadResult {
            name: part.name(),
            unit: part.unit().into(),
            mean,
            sd,
        });
    }
    let workload = Workload {
        name: spec.name(),
        digest: spec.digest(),
        reduced,
        threads: candle_core::utils::get_num_threads() as u32,
        repetitions: REPETITIONS,
        warmups: WARMUPS,
        results,
    };
    smoke.log.note(format!(
        "workload {}: {}",
        workload.name,
        workload.summary()
    ));
    Ok(workload)
}

/// Mean and sample standard deviation (0 for fewer than two values).
pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_workloads_are_named_as_llama_bench_and_the_issue_do() {
        assert_eq!(decoder_ladder()[0].name(), "pp512/tg128");
        assert_eq!(encoder_ladder()[0].name(), "b1/b32@128");
        assert_eq!(decoder_ladder()[0].positions(), 512);
    }

    #[test]
    fn digests_are_stable_and_differ_between_workloads() {
        let d = decoder_ladder();
        assert_eq!(d[0].digest(), decoder_ladder()[0].digest());
        assert_ne!(d[0].digest(), d[1].digest());
        assert_ne!(d[0].digest(), encoder_ladder()[0].digest());
        assert_eq!(d[0].digest().len(), 64);
    }

    #[test]
    fn a_short_context_or_little_time_gets_a_smaller_declared_workload() {
        let ladder = decoder_ladder();
        let (spec, reduced) = choose(&ladder, 4096, 1e-6, 600.0).unwrap();
        assert_eq!((spec.name().as_str(), reduced), ("pp512/tg128", None));
        let (spec, reduced) = choose(&ladder, 256, 1e-6, 600.0).unwrap();
        assert_eq!(spec.name(), "pp128/tg32");
        assert!(reduced.unwrap().contains("needs 512 positions"));
        // 3,840 tokens at 0.4 s each is far past half of 600 s; 960 is too; 240 fits.
        let (spec, reduced) = choose(&ladder, 4096, 0.4, 600.0).unwrap();
        assert_eq!(spec.name(), "pp32/tg8");
        assert!(reduced.unwrap().contains("would take about 1536 s"));
        assert_eq!(choose(&ladder, 16, 1e-6, 600.0), None);
    }

    #[test]
    fn mean_and_sample_sd() {
        let (mean, sd) = mean_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(mean, 5.0);
        assert!((sd - 2.138_089_935).abs() < 1e-6);
        assert_eq!(mean_sd(&[3.0]), (3.0, 0.0));
    }
}
