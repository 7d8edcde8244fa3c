//! The binaries: `granary-fixture KIND DIR` writes what `fixtures::write`
//! writes; `granary-verify --dir DIR ...` prints a report as JSON.

use std::process::Command;

#[test]
fn writes_a_fixture_and_refuses_unknown_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_granary-fixture");
    let ok = Command::new(bin)
        .args(["tiny_gpt2"])
        .arg(dir.path().join("gpt2"))
        .status()
        .unwrap();
    assert!(ok.success());
    for name in [
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "README.md",
    ] {
        assert!(dir.path().join("gpt2").join(name).is_file(), "{name}");
    }
    let bad = Command::new(bin)
        .args(["no_such_kind"])
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown fixture kind"));
    let usage = Command::new(bin).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn granary_verify_prints_a_report_the_server_can_read() {
    let dir = tempfile::tempdir().unwrap();
    granary_verify::fixtures::tiny_llama(dir.path()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_granary-verify"))
        .arg("--dir")
        .arg(dir.path())
        .args(["--memory-budget", "1000000000", "--time-budget-secs", "60"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: granary_verify::VerificationReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.status, "passed", "{report:#?}");
    let tight = Command::new(env!("CARGO_BIN_EXE_granary-verify"))
        .arg("--dir")
        .arg(dir.path())
        .args(["--memory-budget", "1000"])
        .output()
        .unwrap();
    let report: granary_verify::VerificationReport = serde_json::from_slice(&tight.stdout).unwrap();
    assert_eq!(report.status, "failed");
    let bad = Command::new(env!("CARGO_BIN_EXE_granary-verify"))
        .args(["--dir"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
