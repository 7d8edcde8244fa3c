//! Files that run code when Python loads them, written by Python's own
//! `pickle` module (`tests/corpus/make_pickles.py`): every one is refused on
//! the native API and on the Hub API, under its own name and as
//! `pytorch_model.bin`; the `ok_` files of the same corpus are accepted.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::common::{Backend, README, TestApp};

/// Runs the corpus script into `dir`; answers (name, bytes) of every file it wrote.
fn corpus(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/make_pickles.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(dir)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(names.len() >= 40, "the corpus is complete: {names:?}");
    names
        .into_iter()
        .map(|n| (n.clone(), std::fs::read(dir.join(&n)).unwrap()))
        .collect()
}

pub async fn code_carrying_files_are_refused_on_every_surface(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let readme = README.as_bytes().to_vec();
    let mut head = t
        .push_ok(&alice, "alice/m", &[("README.md", readme.clone())], None)
        .await;
    let files = corpus(&t.dir.path().join("corpus"));
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let (mut refused, mut accepted) = (0, 0);
    for (name, bytes) in &files {
        let ok = name.starts_with("ok_");
        let names: Vec<&str> = if ok {
            vec![name.as_str()]
        } else {
            vec![name.as_str(), "pytorch_model.bin"]
        };
        for path in names {
            // Native: a commit naming the uploaded file.
            let res = t
                .push(
                    &alice,
                    "alice/m",
                    &[("README.md", readme.clone()), (path, bytes.clone())],
                    Some(&head),
                    json!({}),
                )
                .await;
            let (status, text) = (res.status(), res.text().await.unwrap());
            if ok {
                assert_eq!(status, StatusCode::CREATED, "{name} native: {text}");
                head = serde_json::from_str::<Value>(&text).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string();
            } else {
                assert_eq!(
                    status,
                    StatusCode::BAD_REQUEST,
                    "{name} as {path}, native: {text}"
                );
                assert!(text.contains("loading it runs code"), "{name}: {text}");
            }
            // Hub: the same file inline in an NDJSON commit.
            let lines = [
                json!({"key": "header", "value": {"summary": "corpus", "parentCommit": head}}),
                json!({"key": "file", "value": {"path": format!("hub/{path}"), "content": b64(bytes), "encoding": "base64"}}),
            ];
            let res = t.hub_commit(&alice, "alice/m", &lines).await;
            let (status, text) = (res.status(), res.text().await.unwrap());
            if ok {
                assert_eq!(status, StatusCode::OK, "{name} hub: {text}");
                let v: Value = t.get("/models/alice/m/refs").await.json().await.unwrap();
                head = v["branches"][0]["revision"].as_str().unwrap().to_string();
                accepted += 1;
            } else {
                assert_eq!(
                    status,
                    StatusCode::BAD_REQUEST,
                    "{name} as {path}, hub: {text}"
                );
                assert!(text.contains("loading it runs code"), "{name}: {text}");
                refused += 1;
            }
        }
    }
    eprintln!("{refused} refusals, {accepted} accepted files");
    assert!(refused >= 60 && accepted >= 10);
    t.assert_fsck_clean().await;
}
