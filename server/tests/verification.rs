//! Verification end to end: generated fixtures pushed through the API,
//! verified by real workers running the real `granary-verify` program, on
//! SQLite and PostgreSQL. Needs `cargo build --workspace --bins` first.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Backend, TestApp};
use granary_core::signing::{ATTESTATION_PREDICATE_TYPE, Bundle};
use granary_server::verification::Worker;
use reqwest::StatusCode;
use serde_json::Value;

on_every_backend!(
    fixtures_pass_with_repeatable_fingerprints,
    broken_models_fail_and_the_worker_goes_on,
    broken_headers_are_refused_at_commit,
    tampered_bytes_fail_verification,
    two_workers_verify_each_revision_once,
    a_sentence_encoder_with_random_weights_is_degraded,
    a_missing_verifier_is_an_error_not_the_models_fault,
);

/// A binary built beside the test executable's directory (`target/debug/NAME`).
fn built(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first with `cargo build --workspace --bins`",
        path.display()
    );
    path
}

/// The files of a generated fixture, by relative path.
fn fixture(kind: &str) -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(built("granary-fixture"))
        .arg(kind)
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "granary-fixture {kind} failed");
    let mut files = Vec::new();
    collect(dir.path(), dir.path(), &mut files);
    files.sort();
    files
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            collect(root, &p, out);
        } else {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read(&p).unwrap()));
        }
    }
}

async fn start(backend: Backend) -> TestApp {
    TestApp::start_with(backend, |c| {
        c.verification.verifier = Some(built("granary-verify"));
        c.verification.verify_memory_budget = 512 * 1024 * 1024;
        c.verification.verify_timeout_secs = 120;
    })
    .await
}

async fn push_fixture(t: &TestApp, token: &str, model: &str, kind: &str) -> reqwest::Response {
    let files = fixture(kind);
    let borrowed: Vec<(&str, Vec<u8>)> =
        files.iter().map(|(p, b)| (p.as_str(), b.clone())).collect();
    t.push(token, model, &borrowed, None, serde_json::json!({}))
        .await
}

/// Runs jobs in-process until none is claimable.
async fn drain(t: &TestApp) -> usize {
    let worker = Worker::new(t.app.clone());
    let mut n = 0;
    while worker.run_once().await.unwrap().is_some() {
        n += 1;
    }
    n
}

async fn reports(t: &TestApp, model: &str) -> Vec<Value> {
    let v: Value = t
        .get(&format!("/models/{model}/revisions/main/verification"))
        .await
        .json()
        .await
        .unwrap();
    v.as_array().unwrap().clone()
}

async fn fixtures_pass_with_repeatable_fingerprints(backend: Backend) {
    let t = start(backend).await;
    let token = t.user("alice").await;
    // The GPT-2 fixture's random weights run, but its byte-level tokenizer
    // covers the registry's English prose, so it is judged on it: `degraded`.
    let kinds = [
        ("tiny_bert", "bert", "passed"),
        ("tiny_llama", "llama", "passed"),
        ("tiny_gpt2", "gpt2", "degraded"),
        ("unknown_arch", "generic", "passed"),
    ];
    for (kind, _, _) in kinds {
        let res = push_fixture(&t, &token, &format!("alice/{kind}"), kind).await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "{kind}: {}",
            res.text().await.unwrap()
        );
    }
    assert_eq!(drain(&t).await, kinds.len());
    let mut first = Vec::new();
    for (kind, arch, status) in kinds {
        let r = &reports(&t, &format!("alice/{kind}")).await[0];
        assert_eq!(r["status"], status, "{kind}: {r}");
        assert_eq!(r["architecture"], arch, "{kind}");
        assert!(r["load_ms"].as_f64().unwrap() > 0.0, "{kind}: {r}");
        assert!(
            r["device"].as_str().unwrap().starts_with("cpu"),
            "{kind}: {r}"
        );
        assert!(r["peak_memory_bytes"].as_u64().unwrap() > 0);
        assert!(!r["parameters"].as_object().unwrap().is_empty());
        let fp = &r["fingerprint"];
        assert!(
            fp.is_object() && !fp.as_object().unwrap().is_empty(),
            "{kind}: {r}"
        );
        match arch {
            "bert" => {
                assert_eq!(fp["embedding_head"].as_array().unwrap().len(), 8);
                assert!(r["latency_ms"].as_f64().unwrap() > 0.0);
            }
            "llama" | "gpt2" => {
                assert_eq!(fp["token_ids"].as_array().unwrap().len(), 16, "{kind}: {r}");
                assert!(r["tokens_per_s"].as_f64().unwrap() > 0.0);
                assert!(r["latency_ms"].as_f64().unwrap() > 0.0);
            }
            _ => assert!(r["gflops"].as_f64().unwrap() > 0.0, "{kind}: {r}"),
        }
        check_attestation(&t, &format!("alice/{kind}"), r).await;
        first.push(fp.clone());
    }

    // A re-run on request gives the same fingerprints.
    for (kind, _, _) in kinds {
        let res = t
            .client
            .post(t.api(&format!("/models/alice/{kind}/revisions/main/verify")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    assert_eq!(drain(&t).await, kinds.len());
    for ((kind, _, status), fp) in kinds.iter().zip(first) {
        let all = reports(&t, &format!("alice/{kind}")).await;
        assert_eq!(all.len(), 2, "{kind}");
        assert_eq!(all[0]["status"], *status);
        assert_eq!(
            all[0]["fingerprint"], fp,
            "{kind}: fingerprint changed on re-run"
        );
    }
    // The model info shows them too (what `granary info --json` prints).
    let info: Value = t
        .get("/models/alice/tiny_llama")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["revision"]["verification"][0]["status"], "passed");
    assert_eq!(
        info["revision"]["verification"],
        Value::Array(reports(&t, "alice/tiny_llama").await)
    );
}

/// The report's attestation is signed with the registry key, names the same
/// model digest as the revision's signature, and states what the report says.
async fn check_attestation(t: &TestApp, model: &str, r: &Value) {
    let bundle: Bundle = serde_json::from_value(r["attestation"].clone()).expect("an attestation");
    common::verify_bundle(&bundle, &common::current_key(t).await);
    let statement = bundle.statement().unwrap();
    assert_eq!(statement["predicateType"], ATTESTATION_PREDICATE_TYPE);
    let predicate = &statement["predicate"];
    for field in [
        "status",
        "device",
        "fingerprint",
        "verifier_version",
        "dtype",
    ] {
        assert_eq!(predicate[field], r[field], "{model}: {field}");
    }
    assert_eq!(predicate["figures"]["load_ms"], r["load_ms"]);
    assert!(predicate.get("log").is_none(), "the log is not attested");
    let signature: Bundle = t
        .get(&format!("/models/{model}/revisions/main/signature"))
        .await
        .json()
        .await
        .unwrap();
    let signed = signature.statement().unwrap();
    assert_eq!(
        statement["subject"], signed["subject"],
        "{model}: the same model digest"
    );
    // An attestation edited after signing does not verify.
    let mut edited = statement.clone();
    edited["predicate"]["status"] = serde_json::json!("passed-by-hand");
    let forged = Bundle {
        dsse_envelope: granary_core::signing::Envelope {
            payload: {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .encode(serde_json::to_vec(&edited).unwrap())
            },
            ..bundle.dsse_envelope.clone()
        },
        ..bundle.clone()
    };
    let key = common::current_key(t).await;
    let refused = std::panic::catch_unwind(|| common::verify_bundle(&forged, &key));
    assert!(refused.is_err(), "{model}: an edited attestation verified");
}

async fn broken_models_fail_and_the_worker_goes_on(backend: Backend) {
    let t = start(backend).await;
    let token = t.user("alice").await;
    let broken = [
        ("nan_weights", "NaN"),
        ("inf_weights", "inf"),
        ("wrong_shapes", "config.json implies"),
        ("garbage_config", "config.json is not valid JSON"),
    ];
    for (kind, _) in broken {
        let res = push_fixture(&t, &token, &format!("alice/{kind}"), kind).await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "{kind}: {}",
            res.text().await.unwrap()
        );
    }
    let res = push_fixture(&t, &token, "alice/fine", "tiny_llama").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(drain(&t).await, broken.len() + 1);
    for (kind, reason) in broken {
        let r = &reports(&t, &format!("alice/{kind}")).await[0];
        assert_eq!(r["status"], "failed", "{kind}: {r}");
        let text = r["reason"].as_str().unwrap().to_lowercase();
        assert!(
            text.contains(&reason.to_lowercase()),
            "{kind}: expected `{reason}` in {text}"
        );
    }
    assert_eq!(reports(&t, "alice/fine").await[0]["status"], "passed");

    // A model over the worker's memory budget is refused before loading.
    let small = TestApp::start_with(backend, |c| {
        c.verification.verifier = Some(built("granary-verify"));
        c.verification.verify_memory_budget = 1024;
    })
    .await;
    let token = small.user("alice").await;
    assert_eq!(
        push_fixture(&small, &token, "alice/big", "tiny_llama")
            .await
            .status(),
        StatusCode::CREATED
    );
    drain(&small).await;
    let r = &reports(&small, "alice/big").await[0];
    assert_eq!(r["status"], "failed");
    assert!(
        r["reason"].as_str().unwrap().contains("memory budget"),
        "{r}"
    );
}

async fn broken_headers_are_refused_at_commit(backend: Backend) {
    let t = start(backend).await;
    let token = t.user("alice").await;
    for (kind, reason) in [
        ("truncated", "truncated"),
        ("lying_offsets", "not a valid safetensors"),
        ("oversized_header", "limit"),
    ] {
        let res = push_fixture(&t, &token, &format!("alice/{kind}"), kind).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{kind}");
        let text = res.text().await.unwrap();
        assert!(
            text.contains(reason),
            "{kind}: expected `{reason}` in {text}"
        );
    }
    assert_eq!(
        granary_server::db::jobs::pending_count(&t.app.db)
            .await
            .unwrap(),
        0
    );
}

async fn tampered_bytes_fail_verification(backend: Backend) {
    let t = start(backend).await;
    let token = t.user("alice").await;
    assert_eq!(
        push_fixture(&t, &token, "alice/tampered", "tiny_llama")
            .await
            .status(),
        StatusCode::CREATED
    );
    // Overwrite the weights' blob in the store behind the registry's back.
    let keys = t.object_keys().await;
    let info: Value = t.get("/models/alice/tampered").await.json().await.unwrap();
    let weights = info["revision"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(".safetensors"))
        .unwrap();
    let hex = weights["sha256"].as_str().unwrap();
    let key = keys.iter().find(|k| k.contains(hex)).unwrap();
    let store = t.app.storage.inner();
    let path = object_store::path::Path::from(key.as_str());
    let mut bytes = store
        .get(&path)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    bytes[100] ^= 0x55;
    store.put(&path, bytes.into()).await.unwrap();
    drain(&t).await;
    let r = &reports(&t, "alice/tampered").await[0];
    assert_eq!(r["status"], "failed");
    assert!(r["reason"].as_str().unwrap().contains("hash to"), "{r}");
}

async fn two_workers_verify_each_revision_once(backend: Backend) {
    let t = start(backend).await;
    let token = t.user("alice").await;
    for i in 0..6 {
        let kind = if i % 2 == 0 {
            "tiny_llama"
        } else {
            "tiny_bert"
        };
        let res = push_fixture(&t, &token, &format!("alice/m{i}"), kind).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let mut handles = Vec::new();
    for _ in 0..2 {
        let app = t.app.clone();
        handles.push(tokio::spawn(async move {
            let w = Worker::new(app);
            let mut n = 0;
            while w.run_once().await.unwrap().is_some() {
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    assert_eq!(total, 6);
    let (runs, distinct): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT revision_id) FROM verification_runs")
            .fetch_one(&t.app.db.pool)
            .await
            .unwrap();
    assert_eq!(
        (runs, distinct),
        (6, 6),
        "each revision verified exactly once"
    );
}

/// A real `granary-server worker` process killed mid-job: after its lease, another worker
/// picks the job up and finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_process_job_is_picked_up_after_its_lease() {
    let t = TestApp::start_with(Backend::Sqlite, |c| {
        c.verification.verifier = Some(built("granary-verify"));
        c.verification.job_lease_secs = 2;
    })
    .await;
    let token = t.user("alice").await;
    assert_eq!(
        push_fixture(&t, &token, "alice/orphan", "tiny_llama")
            .await
            .status(),
        StatusCode::CREATED
    );

    // A verifier that takes far longer than the test, so the worker is surely mid-job when killed.
    let slow = t.dir.path().join("slow-verifier.sh");
    std::fs::write(&slow, "#!/bin/sh\nsleep 300\n").unwrap();
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut child = std::process::Command::new(built("granary-server"))
        .arg("worker")
        .arg("--data-dir")
        .arg(t.dir.path())
        .env("GRANARY_VERIFIER", &slow)
        .env("GRANARY_JOB_LEASE_SECS", "2")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until that process holds the job.
    let mut claimed = false;
    for _ in 0..100 {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT worker FROM verification_jobs WHERE state = 'running'")
                .fetch_optional(&t.app.db.pool)
                .await
                .unwrap();
        if row.is_some() {
            claimed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(claimed, "the worker process never claimed the job");
    child.kill().unwrap();
    child.wait().unwrap();

    // Within the lease nobody else takes it; after it, an in-process worker does.
    let worker = Worker::new(t.app.clone());
    assert!(worker.run_once().await.unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(worker.run_once().await.unwrap().is_some());
    let r = &reports(&t, "alice/orphan").await[0];
    assert_eq!(r["status"], "passed", "{r}");
    let (attempts,): (i64,) = sqlx::query_as("SELECT attempts FROM verification_jobs")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(attempts, 2);
}

/// The tiny BERT fixture declaring itself a sentence-transformers model: it
/// runs, but its random weights cannot order the registry's sentence pairs.
async fn a_sentence_encoder_with_random_weights_is_degraded(backend: Backend) {
    let t = start(backend).await;
    let token = t.user("alice").await;
    let mut files = fixture("tiny_bert");
    let modules = serde_json::json!([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]);
    files.push(("modules.json".into(), modules.to_string().into_bytes()));
    let pooling =
        serde_json::json!({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": true});
    files.push((
        "1_Pooling/config.json".into(),
        pooling.to_string().into_bytes(),
    ));
    let borrowed: Vec<(&str, Vec<u8>)> =
        files.iter().map(|(p, b)| (p.as_str(), b.clone())).collect();
    let res = t
        .push(
            &token,
            "alice/sentences",
            &borrowed,
            None,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    assert_eq!(drain(&t).await, 1);

    let r = &reports(&t, "alice/sentences").await[0];
    assert_eq!(r["status"], "degraded", "{r}");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("runs, but its embeddings do not tell paraphrases"),
        "{reason}"
    );
    let eval = &r["evaluations"][0];
    assert_eq!(eval["name"], "sentence-pairs-v1", "{r}");
    assert_eq!(eval["metric"], "spearman");
    assert_eq!(eval["verdict"], "degraded");
    assert_eq!(eval["digest"], SENTENCE_PAIRS_SHA256);
    assert!(
        r["latency_ms"].as_f64().unwrap() > 0.0,
        "a degraded model still ran: {r}"
    );

    // The pages say so, with the reason and the evaluation, and count it neither as passed nor failed.
    let page = |path: &'static str| {
        let client = t.client.clone();
        let url = format!("{}{path}", t.url);
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let model = page("/alice/sentences").await;
    assert!(model.contains("status-degraded\">⚠ degraded"), "{model}");
    assert!(model.contains("do not tell paraphrases"), "{model}");
    assert!(model.contains("sentence-pairs-v1"), "{model}");
    let benchmarks = page("/alice/sentences/benchmarks").await;
    assert!(
        benchmarks.contains("⚠ degraded") && benchmarks.contains("sentence-pairs-v1: spearman"),
        "{benchmarks}"
    );
    for (path, listed) in [
        ("/models?verified=degraded", true),
        ("/models?verified=passed", false),
        ("/models?verified=failed", false),
    ] {
        assert_eq!(
            page(path).await.contains("href=\"/alice/sentences\""),
            listed,
            "{path}"
        );
    }
}

/// Our fault, not the model's: with no verifier program the job is retried
/// and, once its attempts are spent, recorded as `error` with the cause.
async fn a_missing_verifier_is_an_error_not_the_models_fault(backend: Backend) {
    let t = TestApp::start_with(backend, |c| {
        c.verification.verifier = Some(PathBuf::from("/nonexistent/granary-verify"));
        c.verification.job_max_attempts = 1;
    })
    .await;
    let token = t.user("alice").await;
    assert_eq!(
        push_fixture(&t, &token, "alice/fine", "tiny_bert")
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(drain(&t).await, 1);
    let r = &reports(&t, "alice/fine").await[0];
    assert_eq!(r["status"], "error", "{r}");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("gave up after 1 attempts")
            && reason.contains("cannot start the verifier"),
        "{reason}"
    );
}

/// The SHA-256 of the verifier's sentence pairs, as docs/VERIFICATION.md records it.
const SENTENCE_PAIRS_SHA256: &str =
    "90dca34fa506c46df4f29cee3587c7a549919a9f128dde2d072bde3cb349b909";
