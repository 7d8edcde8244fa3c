//! The encoder smoke inference follows the revision's sentence-transformers
//! pipeline and never lets the tokenizer's padding into the embedding.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{GB, assert_failed, verify_dir, verify_kind};
use granary_verify::{SENTENCE_PAIRS, SENTENCE_PAIRS_THRESHOLD, VerificationReport};
use serde_json::{Value, json};

fn write_json(dir: &Path, name: &str, value: &Value) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

fn reverify(dir: &Path) -> VerificationReport {
    verify_dir(dir, GB, Duration::from_secs(60))
}

/// `modules.json` and `1_Pooling/config.json` as sentence-transformers saves them.
fn declare_pipeline(dir: &Path, pooling_key: &str, normalize: bool) {
    let mut modules = vec![
        json!({"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}),
        json!({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}),
    ];
    if normalize {
        modules.push(json!({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}));
    }
    write_json(dir, "modules.json", &Value::Array(modules));
    write_json(
        dir,
        "1_Pooling/config.json",
        &json!({"word_embedding_dimension": 32, pooling_key: true}),
    );
}

#[test]
fn padding_configured_in_tokenizer_json_does_not_change_the_embedding() {
    let (dir, plain) = verify_kind("tiny_bert");
    assert_eq!(plain.status, "passed", "{plain:#?}");
    // Padded to a fixed length, as all-MiniLM-L6-v2's tokenizer.json is.
    let path = dir.path().join("tokenizer.json");
    let mut tokenizer: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    tokenizer["padding"] = json!({
        "strategy": {"Fixed": 32}, "direction": "Right", "pad_to_multiple_of": null,
        "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"
    });
    std::fs::write(&path, serde_json::to_vec(&tokenizer).unwrap()).unwrap();
    let padded = reverify(dir.path());
    assert_eq!(padded.status, "passed", "{padded:#?}");
    assert_eq!(
        padded.fingerprint["embedding_head"], plain.fingerprint["embedding_head"],
        "padding changed the embedding"
    );
    assert!(
        padded.fingerprint["tokens"].as_u64().unwrap() < 32,
        "{}",
        padded.fingerprint
    );
    assert!(padded.log.contains("padding turned off"), "{}", padded.log);
}

#[test]
fn without_modules_json_the_default_pipeline_is_declared_not_comparable() {
    let (_dir, r) = verify_kind("tiny_bert");
    let fp = &r.fingerprint;
    assert_eq!(fp["pooling"], json!(["mean"]));
    assert_eq!(fp["normalized"], true);
    assert_eq!(fp["comparable_to"], Value::Null);
    assert!(
        fp["not_comparable"]
            .as_str()
            .unwrap()
            .contains("no modules.json"),
        "{fp}"
    );
    assert!(r.log.contains("not comparable to sentence-transformers"));
}

#[test]
fn declared_cls_pooling_without_normalize_is_followed() {
    let (dir, mean) = verify_kind("tiny_bert");
    declare_pipeline(dir.path(), "pooling_mode_cls_token", false);
    let cls = reverify(dir.path());
    // Random weights run, but the sentence-pair evaluation finds their
    // embeddings meaningless (see the test below).
    assert_eq!(cls.status, "degraded", "{cls:#?}");
    let fp = &cls.fingerprint;
    assert_eq!(fp["pooling"], json!(["cls"]));
    assert_eq!(fp["normalized"], false);
    assert_eq!(fp["dimensions"], 32);
    assert_eq!(fp["comparable_to"], "sentence-transformers");
    assert_ne!(fp["embedding_head"], mean.fingerprint["embedding_head"]);
    // The CLS state follows a LayerNorm with unit weight and zero bias: its
    // values have mean 0 and variance 1, so its length is √32, not 1.
    let values =
        granary_verify::embed_texts(dir.path(), &["Granary verifies every model."]).unwrap();
    let norm = values[0].values.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 32f32.sqrt()).abs() < 1e-2, "norm {norm}");
}

#[test]
fn declared_mean_pooling_with_normalize_has_unit_length() {
    let (dir, _) = verify_kind("tiny_bert");
    declare_pipeline(dir.path(), "pooling_mode_mean_tokens", true);
    let r = reverify(dir.path());
    assert_eq!(
        r.fingerprint["comparable_to"], "sentence-transformers",
        "{:#?}",
        r
    );
    let values =
        granary_verify::embed_texts(dir.path(), &["Granary verifies every model."]).unwrap();
    let norm = values[0].values.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
}

#[test]
fn inputs_are_truncated_to_max_seq_length() {
    let (dir, _) = verify_kind("tiny_bert");
    write_json(
        dir.path(),
        "sentence_bert_config.json",
        &json!({"max_seq_length": 5, "do_lower_case": false}),
    );
    let long = "model ".repeat(100);
    let e = granary_verify::embed_texts(dir.path(), &[&long]).unwrap();
    assert_eq!(e[0].tokens, 5);
}

#[test]
fn pooling_path_outside_the_revision_fails() {
    let (dir, _) = verify_kind("tiny_bert");
    write_json(
        dir.path(),
        "modules.json",
        &json!([{"idx": 1, "name": "1", "path": "../../etc", "type": "sentence_transformers.models.Pooling"}]),
    );
    assert_failed(
        &reverify(dir.path()),
        &["`../../etc`", "outside the revision"],
    );
}

#[test]
fn a_random_encoder_declaring_a_sentence_pipeline_is_degraded() {
    let (dir, bare) = verify_kind("tiny_bert");
    // Without a declared pipeline nothing promises sentence similarity: not evaluated.
    assert_eq!(bare.status, "passed", "{bare:#?}");
    assert!(bare.evaluations.is_empty());
    assert!(bare.log.contains("not evaluated on the sentence pairs"));

    declare_pipeline(dir.path(), "pooling_mode_mean_tokens", true);
    let r = reverify(dir.path());
    assert_eq!(r.status, "degraded", "{r:#?}");
    let eval = &r.evaluations[0];
    assert_eq!(eval.name, SENTENCE_PAIRS);
    assert_eq!(eval.verdict, "degraded");
    assert!(eval.value < SENTENCE_PAIRS_THRESHOLD, "{eval:?}");
    let reason = r.reason.as_deref().unwrap();
    assert!(reason.starts_with("runs, but its embeddings"), "{reason}");
    assert!(r.log.contains(&format!("degraded: {reason}")), "{}", r.log);
}
