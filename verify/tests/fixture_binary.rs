//! `granary-fixture KIND DIR` writes what `fixtures::write` writes.

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
