//! Every healthy fixture passes with figures and a stable fingerprint; every
//! broken one fails with the reason it deserves.

mod common;

use std::time::Duration;

use common::{GB, assert_degraded_by, assert_failed, verify_dir, verify_kind};
use granary_verify::fixtures;

fn assert_passes(
    kind: &str,
    architecture: &str,
    fingerprint_key: &str,
) -> granary_verify::VerificationReport {
    let (dir, first) = verify_kind(kind);
    assert_eq!(first.status, "passed", "{first:#?}");
    assert_eq!(first.reason, None);
    assert_eq!(first.architecture, architecture);
    assert_eq!(first.dtype, "F32");
    assert_eq!(first.candle_version, granary_verify::CANDLE_VERSION);
    assert!(first.device.starts_with("cpu: ") || first.device.starts_with("cuda: "));
    assert!(first.load_ms.unwrap() > 0.0);
    assert!(first.latency_ms.unwrap() > 0.0);
    assert!(first.peak_memory_bytes.unwrap() > 0);
    assert!(first.parameters["F32"] > 0);
    assert!(
        !first.fingerprint[fingerprint_key].is_null(),
        "{}",
        first.fingerprint
    );
    assert!(first.log.contains("passed"));
    let again = verify_dir(dir.path(), GB, Duration::from_secs(60));
    assert_eq!(
        first.fingerprint, again.fingerprint,
        "fingerprints of {kind} differ between runs"
    );
    first
}

#[test]
fn tiny_bert_embeds_the_sentence() {
    let r = assert_passes("tiny_bert", "bert", "embedding_head");
    assert_eq!(r.fingerprint["embedding_head"].as_array().unwrap().len(), 8);
    assert!(r.items_per_s.unwrap() > 0.0);
    assert!(r.log.contains("tokenizer.json loaded"));
}

#[test]
fn tiny_llama_decodes_sixteen_tokens() {
    let r = assert_passes("tiny_llama", "llama", "token_ids");
    assert_eq!(r.fingerprint["token_ids"].as_array().unwrap().len(), 16);
    assert!(!r.fingerprint["text"].as_str().unwrap().is_empty());
    assert!(r.tokens_per_s.unwrap() > 0.0);
}

#[test]
fn tiny_llama_is_not_judged_on_text_its_tokenizer_does_not_know() {
    // Its word-level tokenizer knows a handful of words: perplexity over
    // unknown tokens would mean nothing, so the evaluation is skipped, and said so.
    let (_dir, r) = verify_kind("tiny_llama");
    assert!(r.evaluations.is_empty(), "{:?}", r.evaluations);
    assert!(
        r.log
            .contains("english-prose-v1 not evaluated: the tokenizer knows too little of it"),
        "{}",
        r.log
    );
}

/// A GPT-2 of random weights runs, but predicts English no better than
/// guessing: its byte-level tokenizer covers the prose, so it is judged, and
/// the verdict is `degraded`, with the smoke figures still recorded.
#[test]
fn tiny_gpt2_runs_but_its_random_weights_are_degraded() {
    let (dir, r) = verify_kind("tiny_gpt2");
    assert_eq!(r.architecture, "gpt2");
    let prose = assert_degraded_by(
        &r,
        granary_verify::ENGLISH_PROSE,
        &[
            "runs, but its perplexity on English text is",
            "the weights or the tokenizer look broken",
        ],
    );
    assert_eq!(prose.metric, "perplexity");
    assert_eq!(prose.digest, granary_verify::prose_digest());
    assert!(prose.value > prose.threshold.unwrap(), "{prose:?}");
    // The fixture has 64 positions: the windows shrink to them, half overlapping.
    assert_eq!((prose.context, prose.stride), (Some(64), Some(32)));
    assert!(prose.tokens.unwrap() > 100, "{prose:?}");
    let ids = r.fingerprint["token_ids"].as_array().unwrap();
    assert!(!ids.is_empty() && ids.len() <= 16, "{}", r.fingerprint);
    assert!(r.tokens_per_s.unwrap() > 0.0);
    let again = verify_dir(dir.path(), GB, Duration::from_secs(60));
    assert_eq!(r.fingerprint, again.fingerprint);
    assert_eq!(r.evaluations, again.evaluations);
}

#[test]
fn unknown_architecture_gets_the_generic_probe() {
    let r = assert_passes("unknown_arch", "generic", "checksums");
    assert_eq!(r.fingerprint["checksums"].as_object().unwrap().len(), 3);
    assert!(r.gflops.unwrap() > 0.0);
}

#[test]
fn truncated_file_fails() {
    assert_failed(
        &verify_kind("truncated").1,
        &[
            "`model.safetensors`",
            "past the end of the file",
            "truncated",
        ],
    );
}

#[test]
fn lying_offsets_fail() {
    assert_failed(
        &verify_kind("lying_offsets").1,
        &["header declares offsets past the end of the file"],
    );
}

#[test]
fn nan_and_inf_weights_fail() {
    let tensor = format!("tensor `{}`", fixtures::DAMAGED_TENSOR);
    assert_failed(
        &verify_kind("nan_weights").1,
        &[&tensor, "holds NaN at index 3"],
    );
    assert_failed(
        &verify_kind("inf_weights").1,
        &[&tensor, "holds +inf at index 3"],
    );
}

#[test]
fn shapes_that_do_not_fit_the_config_fail() {
    let r = verify_kind("wrong_shapes").1;
    assert_failed(
        &r,
        &["tensor `model.embed_tokens.weight` has shape [25, 32] but config.json implies [25, 64]"],
    );
    assert_eq!(r.architecture, "llama");
}

#[test]
fn oversized_header_fails() {
    assert_failed(
        &verify_kind("oversized_header").1,
        &["header declares 200000000 bytes", "100000000-byte limit"],
    );
}

#[test]
fn garbage_config_fails() {
    assert_failed(
        &verify_kind("garbage_config").1,
        &["config.json is not valid JSON"],
    );
}

#[test]
fn model_over_the_memory_budget_is_refused_before_loading() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::tiny_llama(dir.path()).unwrap();
    let r = verify_dir(dir.path(), 1_000, Duration::from_secs(60));
    assert_failed(&r, &["model needs 80.8 KB, over the 1.0 KB memory budget"]);
    assert_eq!(r.load_ms, None, "nothing may be loaded over budget");
}

#[test]
fn smoke_inference_past_its_time_budget_fails() {
    for kind in ["tiny_llama", "tiny_bert"] {
        let dir = tempfile::tempdir().unwrap();
        fixtures::write(kind, dir.path()).unwrap();
        let r = verify_dir(dir.path(), GB, Duration::ZERO);
        assert_failed(&r, &["time budget"]);
    }
}

#[test]
fn fixtures_are_byte_for_byte_deterministic_and_licensed() {
    for kind in fixtures::KINDS.iter().filter(|k| **k != "llama_100m") {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fixtures::write(kind, a.path()).unwrap();
        fixtures::write(kind, b.path()).unwrap();
        for name in ["model.safetensors", "config.json", "README.md"] {
            assert_eq!(
                std::fs::read(a.path().join(name)).unwrap(),
                std::fs::read(b.path().join(name)).unwrap(),
                "{kind}/{name}"
            );
        }
        let readme = std::fs::read_to_string(a.path().join("README.md")).unwrap();
        assert!(readme.starts_with("---\nlicense: apache-2.0\n"), "{kind}");
    }
}

/// A BF16 checkpoint on the CPU runs in F32, and the report says it converted.
#[test]
fn a_bf16_checkpoint_on_the_cpu_records_its_conversion() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::write("tiny_llama", dir.path()).unwrap();
    let file = dir.path().join("model.safetensors");
    let tensors = candle_core::safetensors::load(&file, &candle_core::Device::Cpu).unwrap();
    let bf16: std::collections::HashMap<_, _> = tensors
        .into_iter()
        .map(|(name, t)| (name, t.to_dtype(candle_core::DType::BF16).unwrap()))
        .collect();
    candle_core::safetensors::save(&bf16, &file).unwrap();
    let r = verify_dir(dir.path(), GB, Duration::from_secs(60));
    assert_eq!(r.status, "passed", "{r:#?}");
    assert!(r.parameters["BF16"] > 0 && !r.parameters.contains_key("F32"));
    if r.device.starts_with("cpu: ") {
        assert_eq!(r.dtype, "F32");
        assert_eq!(r.converted_from.as_deref(), Some("BF16"));
        assert_eq!(r.dtype_label(), "F32, converted from BF16");
        assert!(
            r.log
                .contains("floats stored as BF16 run as F32: the CPU computes in F32"),
            "{}",
            r.log
        );
    } else {
        assert_eq!(
            (r.dtype.as_str(), r.converted_from.as_deref()),
            ("BF16", None)
        );
    }
}
