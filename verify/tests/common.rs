//! Helpers shared by the verification tests.
#![allow(dead_code)]

use std::path::Path;
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
