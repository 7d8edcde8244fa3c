//! Hostile and odd revisions: verify must answer each with a report, never a panic.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{GB, assert_failed, verify_dir};
use granary_verify::fixtures;

fn llama_with_config(edit: impl FnOnce(&mut serde_json::Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fixtures::tiny_llama(dir.path()).unwrap();
    let path = dir.path().join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    dir
}

fn run(dir: &Path) -> granary_verify::VerificationReport {
    verify_dir(dir, GB, Duration::from_secs(60))
}

#[test]
fn missing_or_empty_directories() {
    let r = run(Path::new("/nonexistent/granary/revision"));
    assert_eq!(r.status, "error");
    let empty = tempfile::tempdir().unwrap();
    assert_failed(&run(empty.path()), &["no .safetensors file"]);
}

#[test]
fn files_that_are_not_safetensors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.safetensors"), b"").unwrap();
    assert_failed(&run(dir.path()), &["`model.safetensors`", "too short"]);
    let mut junk = 20u64.to_le_bytes().to_vec();
    junk.extend_from_slice(b"{\"a\": not json here}");
    std::fs::write(dir.path().join("model.safetensors"), junk).unwrap();
    assert_failed(&run(dir.path()), &["not a valid safetensors header"]);
}

#[test]
fn a_tensor_in_two_files_fails() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::unknown_arch(dir.path()).unwrap();
    std::fs::copy(
        dir.path().join("model.safetensors"),
        dir.path().join("copy.safetensors"),
    )
    .unwrap();
    assert_failed(&run(dir.path()), &["appears in more than one file"]);
}

#[test]
fn hostile_config_numbers_fail_before_model_code() {
    let zero_heads = llama_with_config(|c| c["num_attention_heads"] = 0.into());
    assert_failed(&run(zero_heads.path()), &["`num_attention_heads` = 0"]);
    let huge = llama_with_config(|c| c["vocab_size"] = 1_000_000_000_000u64.into());
    assert_failed(&run(huge.path()), &["`vocab_size`"]);
    let odd = llama_with_config(|c| c["num_attention_heads"] = 3.into());
    assert_failed(
        &run(odd.path()),
        &["not a multiple of `num_attention_heads` = 3"],
    );
    // transformers defaults `rms_norm_eps`; `hidden_size` it cannot do without.
    let missing = llama_with_config(|c| {
        c.as_object_mut().unwrap().remove("hidden_size");
    });
    assert_failed(&run(missing.path()), &["config.json has no `hidden_size`"]);
    let bad_scaling = llama_with_config(|c| c["rope_scaling"] = serde_json::json!("linear"));
    assert_failed(
        &run(bad_scaling.path()),
        &["`rope_scaling`", "not an object"],
    );
    let bad_factor = llama_with_config(|c| {
        c["rope_scaling"] = serde_json::json!({"rope_type": "linear", "factor": -2})
    });
    assert_failed(
        &run(bad_factor.path()),
        &["`factor` = -2, not a positive number"],
    );
    let not_object = llama_with_config(|c| *c = serde_json::json!([1, 2, 3]));
    assert_failed(
        &run(not_object.path()),
        &["config.json is not a JSON object"],
    );
}

/// Every `rope_scaling` transformers knows for Llama that we implement runs;
/// one we do not is the verifier's limit (`error`), not the model's fault.
#[test]
fn rope_scaling_variants_run_and_unknown_ones_are_an_error() {
    for scaling in [
        serde_json::json!({"rope_type": "linear", "factor": 2.0}),
        serde_json::json!({"type": "dynamic", "factor": 2.0}),
        serde_json::json!({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                           "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
    ] {
        let dir = llama_with_config(|c| c["rope_scaling"] = scaling.clone());
        let r = run(dir.path());
        assert_eq!(r.status, "passed", "{scaling}: {r:#?}");
    }
    let yarn = llama_with_config(|c| {
        c["rope_scaling"] = serde_json::json!({"rope_type": "yarn", "factor": 4.0})
    });
    let r = run(yarn.path());
    assert_eq!(r.status, "error", "{r:#?}");
    assert!(
        r.reason
            .as_deref()
            .unwrap()
            .contains("`rope_scaling` of type `yarn`, which this verifier does not implement"),
        "{r:#?}"
    );
}

#[test]
fn a_missing_tensor_fails_with_its_name() {
    let dir = llama_with_config(|c| c["tie_word_embeddings"] = false.into());
    let three_layers = llama_with_config(|c| c["num_hidden_layers"] = 3.into());
    assert_eq!(run(dir.path()).status, "passed");
    assert_failed(
        &run(three_layers.path()),
        &["`model.layers.2.", "that no file holds"],
    );
}

#[test]
fn mistral_runs_and_qwen2_wants_its_biases() {
    let mistral =
        llama_with_config(|c| c["architectures"] = serde_json::json!(["MistralForCausalLM"]));
    let r = run(mistral.path());
    assert_eq!(
        (r.status.as_str(), r.architecture.as_str()),
        ("passed", "mistral"),
        "{r:#?}"
    );
    let qwen2 = llama_with_config(|c| {
        c["architectures"] = serde_json::json!(["Qwen2ForCausalLM"]);
        c["sliding_window"] = 256.into();
        c["max_window_layers"] = 2.into();
        c["use_sliding_window"] = false.into();
        c["hidden_act"] = "silu".into();
    });
    let r = run(qwen2.path());
    assert_failed(
        &r,
        &["`model.layers.0.self_attn.q_proj.bias`", "no file holds"],
    );
    assert_eq!(r.architecture, "qwen2");
}

#[test]
fn bert_checkpoints_without_tokenizer_or_with_a_prefix_pass() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::tiny_bert(dir.path()).unwrap();
    let plain = run(dir.path());
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    let r = run(dir.path());
    assert_eq!(r.status, "passed", "{r:#?}");
    assert!(r.log.contains("fixed token ids"));

    // `BertForMaskedLM` checkpoints keep the encoder under `bert.`.
    fixtures::tiny_bert(dir.path()).unwrap();
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    let renamed: serde_json::Map<_, _> = header
        .into_iter()
        .map(|(k, v)| (format!("bert.{k}"), v))
        .collect();
    let mut json = serde_json::to_vec(&renamed).unwrap();
    json.resize(json.len().div_ceil(8) * 8, b' ');
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[8 + len..]);
    std::fs::write(&path, out).unwrap();
    let prefixed = run(dir.path());
    assert_eq!(prefixed.status, "passed", "{prefixed:#?}");
    assert_eq!(prefixed.fingerprint, plain.fingerprint);
}

#[test]
fn only_integer_tensors_cannot_be_probed() {
    let dir = tempfile::tempdir().unwrap();
    let file = granary_core::safetensors_header::build(&[("ids", "I64", vec![2, 2], vec![0; 32])]);
    std::fs::write(dir.path().join("model.safetensors"), file).unwrap();
    let r = run(dir.path());
    assert_failed(&r, &["no 2-D float tensor"]);
    assert_eq!(r.parameters["I64"], 4);
}

#[test]
fn random_byte_flips_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::tiny_llama(dir.path()).unwrap();
    let path = dir.path().join("model.safetensors");
    let good = std::fs::read(&path).unwrap();
    let mut state = 7u64;
    for _ in 0..40 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let mut bytes = good.clone();
        // Half the flips land in the prefix and header, half anywhere.
        let span = if state.is_multiple_of(2) {
            8 + 4096.min(bytes.len() - 8)
        } else {
            bytes.len()
        };
        let at = (state >> 33) as usize % span;
        bytes[at] ^= 1 << ((state >> 20) % 8);
        std::fs::write(&path, &bytes).unwrap();
        let r = run(dir.path());
        assert!(
            r.status == "passed" || r.status == "failed",
            "flip at {at}: {r:#?}"
        );
    }
}
