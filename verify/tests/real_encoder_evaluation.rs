//! The sentence-pair evaluation on the real all-MiniLM-L6-v2 (see
//! `real_encoder.rs` for where it comes from): the untouched model passes, and
//! two broken copies, one with weight rows shuffled in some layers (a botched
//! conversion) and one with another model's tokenizer, end `degraded` with a
//! reason. Each test prints the correlation it measured; the untouched model's
//! must equal what `reference/sentence_pairs_reference.py` computes in NumPy.
//!
//! Without the model the tests print a notice and pass, unless
//! `GRANARY_TEST_REQUIRE_MODELS=1` makes them fail.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    GB, assert_degraded_by, copy_dir, copy_with_shuffled_rows, minilm_or_skip, verify_dir,
};
use granary_verify::{
    Evaluation, SENTENCE_PAIRS, SENTENCE_PAIRS_THRESHOLD, VerificationReport, fixtures,
    sentence_pairs_digest,
};

/// Weight matrices whose rows a broken conversion scrambles, in each of `SHUFFLED_LAYERS`.
const SHUFFLED_WEIGHTS: [&str; 3] = [
    "attention.self.query.weight",
    "attention.output.dense.weight",
    "intermediate.dense.weight",
];
const SHUFFLED_LAYERS: [usize; 3] = [0, 2, 4];

fn verify_model(dir: &Path) -> VerificationReport {
    verify_dir(dir, 2 * GB, Duration::from_secs(300))
}

/// The report's one evaluation, checked to be the sentence pairs as shipped.
fn sentence_pairs(report: &VerificationReport) -> &Evaluation {
    assert_eq!(report.evaluations.len(), 1, "{report:#?}");
    let eval = &report.evaluations[0];
    assert_eq!(eval.name, SENTENCE_PAIRS);
    assert_eq!(eval.digest, sentence_pairs_digest());
    assert_eq!(eval.metric, "spearman");
    assert_eq!(eval.threshold, Some(SENTENCE_PAIRS_THRESHOLD));
    eval
}

fn assert_degraded(report: &VerificationReport, case: &str) {
    let eval = sentence_pairs(report);
    eprintln!("{case}: rank correlation {}", eval.value);
    assert_degraded_by(
        report,
        SENTENCE_PAIRS,
        &[
            "do not tell paraphrases from unrelated sentences",
            "the weights or the tokenizer look broken",
        ],
    );
    assert!(eval.value < SENTENCE_PAIRS_THRESHOLD, "{eval:?}");
}

#[test]
fn minilm_passes_the_sentence_pair_evaluation() {
    let Some(dir) = minilm_or_skip("minilm_passes_the_sentence_pair_evaluation") else {
        return;
    };
    let report = verify_model(&dir);
    let eval = sentence_pairs(&report);
    eprintln!("all-MiniLM-L6-v2: rank correlation {}", eval.value);
    assert_eq!(report.status, "passed", "{report:#?}");
    assert_eq!(report.reason, None);
    assert_eq!(eval.verdict, "sane");
    assert!(eval.value >= SENTENCE_PAIRS_THRESHOLD, "{eval:?}");
    assert!(report.log.contains(SENTENCE_PAIRS), "{}", report.log);
    // The same correlation as the NumPy reference computes on the same pairs
    // (`reference/sentence_pairs_reference.py`); the report keeps 4 decimals.
    let reference: serde_json::Value =
        serde_json::from_str(include_str!("reference/minilm_sentence_pairs.json")).unwrap();
    assert_eq!(reference["pairs_sha256"], sentence_pairs_digest());
    let expected = reference["spearman"].as_f64().unwrap();
    assert!(
        (eval.value - expected).abs() <= 1e-4,
        "ours {}, reference {expected}",
        eval.value
    );
}

#[test]
fn minilm_with_shuffled_weight_rows_is_degraded() {
    let Some(dir) = minilm_or_skip("minilm_with_shuffled_weight_rows_is_degraded") else {
        return;
    };
    let names: Vec<String> = SHUFFLED_LAYERS
        .iter()
        .flat_map(|layer| {
            SHUFFLED_WEIGHTS
                .iter()
                .map(move |w| format!("encoder.layer.{layer}.{w}"))
        })
        .collect();
    let copy = copy_with_shuffled_rows(&dir, &names, 7);
    assert_degraded(&verify_model(copy.path()), "shuffled weight rows");
}

#[test]
fn minilm_with_another_models_tokenizer_is_degraded() {
    let Some(dir) = minilm_or_skip("minilm_with_another_models_tokenizer_is_degraded") else {
        return;
    };
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&dir, copy.path());
    // The tiny BERT fixture's WordPiece tokenizer: a real BERT-style tokenizer
    // with [CLS]/[SEP], but another model's (much smaller) vocabulary.
    let other = tempfile::tempdir().unwrap();
    fixtures::write("tiny_bert", other.path()).unwrap();
    std::fs::copy(
        other.path().join("tokenizer.json"),
        copy.path().join("tokenizer.json"),
    )
    .unwrap();
    assert_degraded(&verify_model(copy.path()), "another model's tokenizer");
}

#[test]
fn minilm_with_a_vocabulary_in_another_order_is_degraded() {
    let Some(dir) = minilm_or_skip("minilm_with_a_vocabulary_in_another_order_is_degraded") else {
        return;
    };
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&dir, copy.path());
    // The same 30522 tokens numbered differently, as another BERT vocabulary of
    // the same size would be: every word splits as before, but into other ids.
    // Ids below 1000 (special and unused tokens) keep their place.
    let path = copy.path().join("tokenizer.json");
    let mut tok: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let vocab = tok["model"]["vocab"].as_object_mut().unwrap();
    let size = vocab.len() as u64;
    for id in vocab.values_mut() {
        let old = id.as_u64().unwrap();
        if old >= 1000 {
            *id = ((old - 1000 + 7919) % (size - 1000) + 1000).into();
        }
    }
    std::fs::write(&path, serde_json::to_vec(&tok).unwrap()).unwrap();
    assert_degraded(&verify_model(copy.path()), "vocabulary in another order");
}
