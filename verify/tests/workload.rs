//! The disclosed workload in reports: its shape on every fixture, a digest
//! that names the workload (equal across runs, different between workloads),
//! and the standard encoder workload on the real all-MiniLM-L6-v2.

mod common;

use common::{GB, minilm_or_skip, verify_dir, verify_kind};
use granary_verify::{VERIFIER_VERSION, VerificationReport, Workload};

/// The workload of a report that ran (`passed`, or `degraded` by an
/// evaluation), checked for the shape every workload has.
fn workload_of(report: &VerificationReport, names: &[&str], unit: &str) -> Workload {
    assert!(
        report.status == "passed" || report.status == "degraded",
        "{report:#?}"
    );
    assert_eq!(report.verifier_version, VERIFIER_VERSION);
    assert!(!report.verifier_version.is_empty());
    let w = report.workload.clone().expect("a workload ran");
    let got: Vec<&str> = w.results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(got, names);
    assert!(w.repetitions >= 5);
    assert_eq!(w.warmups, 1);
    assert!(w.threads >= 1);
    assert_eq!(w.digest.len(), 64);
    for r in &w.results {
        assert_eq!(r.unit, unit);
        assert!(r.mean > 0.0 && r.mean.is_finite(), "{r:?}");
        assert!(r.sd >= 0.0 && r.sd.is_finite(), "{r:?}");
    }
    assert!(report.log.contains(&format!("workload {}", w.name)));
    w
}

#[test]
fn tiny_llama_runs_the_smaller_declared_decoder_workload() {
    let (dir, report) = verify_kind("tiny_llama");
    let w = workload_of(&report, &["pp128", "tg32"], "tokens/s");
    assert_eq!(w.name, "pp128/tg32");
    let reduced = w.reduced.as_deref().unwrap();
    assert!(
        reduced.contains("pp512/tg128 needs 512 positions"),
        "{reduced}"
    );
    assert_eq!(report.tokens_per_s, Some(w.results[1].mean));
    let again = verify_dir(dir.path(), GB, std::time::Duration::from_secs(60));
    assert_eq!(again.workload.unwrap().digest, w.digest);
}

#[test]
fn a_tiny_llama_with_512_positions_runs_the_standard_pp512_tg128() {
    let dir = tempfile::tempdir().unwrap();
    granary_verify::fixtures::write("tiny_llama", dir.path()).unwrap();
    // RoPE needs no position weights: only the config limits the context.
    let path = dir.path().join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["max_position_embeddings"] = serde_json::json!(512);
    std::fs::write(&path, config.to_string()).unwrap();
    let report = verify_dir(dir.path(), GB, std::time::Duration::from_secs(120));
    let w = workload_of(&report, &["pp512", "tg128"], "tokens/s");
    assert_eq!(
        (w.name.as_str(), w.reduced.as_deref()),
        ("pp512/tg128", None)
    );
    let (_small, smaller) = verify_kind("tiny_llama");
    assert_ne!(w.digest, smaller.workload.unwrap().digest);
}

#[test]
fn tiny_gpt2_runs_an_even_smaller_workload_with_another_digest() {
    let (_dir, report) = verify_kind("tiny_gpt2");
    let w = workload_of(&report, &["pp32", "tg8"], "tokens/s");
    let (_dir, llama) = verify_kind("tiny_llama");
    assert_ne!(w.digest, llama.workload.unwrap().digest);
}

#[test]
fn tiny_bert_runs_the_smaller_declared_encoder_workload() {
    let (_dir, report) = verify_kind("tiny_bert");
    let w = workload_of(&report, &["b1@32", "b8@32"], "items/s");
    assert_eq!(w.name, "b1/b8@32");
    assert!(w.reduced.unwrap().contains("needs 128 positions"));
    assert_eq!(report.items_per_s, Some(w.results[0].mean));
}

#[test]
fn the_generic_probe_runs_no_workload() {
    let (_dir, report) = verify_kind("unknown_arch");
    assert_eq!(report.status, "passed", "{report:#?}");
    assert_eq!(report.workload, None);
}

#[test]
fn minilm_runs_the_standard_encoder_workload() {
    let Some(dir) = minilm_or_skip("minilm_runs_the_standard_encoder_workload") else {
        return;
    };
    let report = verify_dir(&dir, 4 * GB, std::time::Duration::from_secs(600));
    let w = workload_of(&report, &["b1@128", "b32@128"], "items/s");
    assert_eq!(
        (w.name.as_str(), w.reduced.as_deref()),
        ("b1/b32@128", None)
    );
    eprintln!("all-MiniLM-L6-v2: {} {}", w.name, w.summary());
    let (_dir, tiny) = verify_kind("tiny_bert");
    assert_ne!(w.digest, tiny.workload.unwrap().digest);
}
