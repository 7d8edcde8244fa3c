//! The reported candle version is the one Cargo.lock resolves.

#[test]
fn candle_version_matches_the_lock_file() {
    let lock =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock")).unwrap();
    let entry = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"candle-core\""))
        .unwrap();
    let version = format!("version = \"{}\"", granary_verify::CANDLE_VERSION);
    assert!(entry.contains(&version), "Cargo.lock has {entry}");
}
