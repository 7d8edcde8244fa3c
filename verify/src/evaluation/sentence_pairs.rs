//! The encoder evaluation: the registry's sentence pairs (`sentence_pairs.tsv`,
//! paraphrases, related and unrelated pairs) embedded with the model's own
//! pipeline; the cosine similarities must order the pairs as their labels do.

use granary_core::Sha256;

use super::rank::spearman;
use super::{DEGRADED, Evaluated, Evaluation, SANE};
use crate::outcome::{Result, Stop};
use crate::smoke::{Encoder, Smoke};

/// The evaluation's name in reports; a new version of the pairs gets a new name.
pub const NAME: &str = "sentence-pairs-v1";
/// Below this rank correlation the embeddings are called broken. The pairs are
/// written so that shared tokens order them backwards: all-MiniLM-L6-v2 scores
/// 0.58, while copies broken by shuffled weight rows, a swapped tokenizer or a
/// renumbered vocabulary score -0.55 to -0.77 (docs/VERIFICATION.md). 0.2 asks
/// for clearly better than chance and leaves a margin on both sides.
pub const THRESHOLD: f64 = 0.2;

const PAIRS: &str = include_str!("sentence_pairs.tsv");

/// A labelled pair: 2 paraphrase, 1 related, 0 unrelated.
struct Pair {
    label: f64,
    a: &'static str,
    b: &'static str,
}

/// SHA-256 (hex) of `sentence_pairs.tsv` exactly as shipped.
pub fn digest() -> String {
    Sha256::of(PAIRS.as_bytes()).hex()
}

fn pairs() -> Vec<Pair> {
    PAIRS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let mut cols = line.split('\t');
            let (Some(label), Some(a), Some(b), None) =
                (cols.next(), cols.next(), cols.next(), cols.next())
            else {
                panic!("sentence_pairs.tsv: `{line}` is not label, sentence, sentence");
            };
            let label = label.parse().expect("sentence_pairs.tsv: a numeric label");
            Pair { label, a, b }
        })
        .collect()
}

/// Embeds every pair with `encoder`, correlates cosine similarity with the labels
/// and judges the result against [`THRESHOLD`].
pub fn evaluate(encoder: &Encoder, smoke: &mut Smoke) -> Result<Evaluated> {
    let pairs = pairs();
    let mut similarities = Vec::with_capacity(pairs.len());
    for pair in &pairs {
        smoke.check_time("during the sentence-pair evaluation")?;
        let a = encoder.embed(pair.a)?;
        let b = encoder.embed(pair.b)?;
        similarities.push(cosine(&a.values, &b.values));
    }
    let labels: Vec<f64> = pairs.iter().map(|p| p.label).collect();
    let rho = spearman(&similarities, &labels);
    if !rho.is_finite() {
        return Err(Stop::failed(
            "the sentence-pair evaluation gave no finite correlation",
        ));
    }
    let value = (rho * 1e4).round() / 1e4;
    smoke.log.note(format!(
        "{NAME}: rank correlation {value:.4} between cosine similarity and the labels of {} pairs (threshold {THRESHOLD})",
        pairs.len()
    ));
    let degraded = (value < THRESHOLD).then(|| {
        format!(
            "runs, but its embeddings do not tell paraphrases from unrelated sentences \
             (rank correlation {value:.2} on the registry's {} sentence pairs, where a working \
             encoder scores at least {THRESHOLD}): the weights or the tokenizer look broken",
            pairs.len()
        )
    });
    Ok(Evaluated {
        evaluations: vec![Evaluation {
            name: NAME.into(),
            digest: digest(),
            metric: "spearman".into(),
            value,
            threshold: Some(THRESHOLD),
            verdict: if degraded.is_some() { DEGRADED } else { SANE }.into(),
            ..Default::default()
        }],
        degraded,
    })
}

/// Cosine similarity; 0 when either vector is zero, so a dead model ranks nothing.
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (*x as f64, *y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    ab / (aa * bb).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_pairs_parse_with_every_label() {
        let pairs = pairs();
        assert_eq!(pairs.len(), 18);
        for label in [0.0, 1.0, 2.0] {
            assert_eq!(pairs.iter().filter(|p| p.label == label).count(), 6);
        }
    }

    #[test]
    fn the_digest_is_the_files_sha256() {
        // sha256sum verify/src/evaluation/sentence_pairs.tsv, recorded in docs/VERIFICATION.md.
        assert_eq!(
            digest(),
            "90dca34fa506c46df4f29cee3587c7a549919a9f128dde2d072bde3cb349b909"
        );
    }

    #[test]
    fn cosine_of_parallel_orthogonal_and_zero_vectors() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-12);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 3.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }
}
