//! Snapshots (insta) of rendered pages, with revision ids, times and the
//! server's address redacted. Review a change with `cargo insta review`, or
//! rerun with `INSTA_UPDATE=always` and read the diff of `snapshots/`.

mod common;

use common::{Backend, TestApp, shard};
use serde_json::json;

const README: &str = "---\nlicense: mit\ntags: [demo]\ndatasets: [wikitext]\nlanguage: [en, fr]\n\
library_name: candle\npipeline_tag: fill-mask\nmodel-index:\n  - name: demo\n    results:\n      - task: {type: fill-mask}\n        dataset: {name: GLUE, type: glue}\n        metrics:\n          - {type: accuracy, value: 0.9}\n---\n\
# Demo\n\nA card with a [link](https://example.com), `code` and a table:\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<script>alert(1)</script>\n";

/// Replaces what changes from run to run.
struct Redactor(Vec<(String, String)>);

impl Redactor {
    fn apply(&self, body: &str) -> String {
        let mut out = body.to_string();
        for (from, to) in &self.0 {
            out = out.replace(from, to);
        }
        // `<time datetime="...">...</time>` → `<time>[time]</time>`.
        let mut redacted = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find("<time") {
            redacted.push_str(&rest[..i]);
            let end = rest[i..]
                .find("</time>")
                .map(|j| i + j + "</time>".len())
                .unwrap_or(rest.len());
            redacted.push_str("<time>[time]</time>");
            rest = &rest[end..];
        }
        redacted.push_str(rest);
        redacted
    }
}

async fn main_of(t: &TestApp, path: &str, r: &Redactor) -> String {
    let body = t
        .client
        .get(format!("{}{path}", t.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = body.find("<main").unwrap();
    let end = body.find("</main>").unwrap() + "</main>".len();
    r.apply(&body[start..end])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendered_pages() {
    let t = TestApp::start(Backend::Sqlite).await;
    let token = t.user("alice").await;
    let files = vec![
        ("model.safetensors", shard(1, 1)),
        (
            "config.json",
            br#"{"architectures": ["BertForMaskedLM"]}"#.to_vec(),
        ),
        ("README.md", README.as_bytes().to_vec()),
    ];
    let first = t.push_ok(&token, "alice/demo", &files, None).await;
    let mut next = files.clone();
    next.push(("LICENSE", b"MIT License".to_vec()));
    let res = t
        .push(
            &token,
            "alice/demo",
            &next,
            Some(&first),
            json!({"message": "add LICENSE"}),
        )
        .await;
    let second: serde_json::Value = res.json().await.unwrap();
    let second = second["id"].as_str().unwrap().to_string();
    let model_id: (String,) = sqlx::query_as("SELECT id FROM models WHERE name_key = 'alice/demo'")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    for (rev, at, items) in [(&first, 1_000i64, 100.0), (&second, 2_000, 120.0)] {
        sqlx::query("UPDATE verification_jobs SET state = 'done' WHERE revision_id = $1")
            .bind(rev)
            .execute(&t.app.db.pool)
            .await
            .unwrap();
        let mut report = json!({"status": "passed", "device": "cpu: Test", "architecture": "bert", "dtype": "F32",
            "load_ms": 50.0, "latency_ms": 2.0, "items_per_s": items, "fingerprint": {"embedding_head": [0.5]}});
        // The second run discloses its workload: the page states it, and charts it apart
        // from the first run's undisclosed one.
        if rev == &second {
            report["verifier_version"] = json!("0.1.0");
            report["workload"] = json!({"name": "b1/b32@128", "digest": "ab".repeat(32), "threads": 2,
                "repetitions": 5, "warmups": 1, "results": [
                    {"name": "b1@128", "unit": "items/s", "mean": items, "sd": 1.5},
                    {"name": "b32@128", "unit": "items/s", "mean": 300.0, "sd": 4.0}]});
        }
        sqlx::query(
            "INSERT INTO verification_runs (id, job_id, model_id, revision_id, worker, device, status, report,
               started_at, finished_at) VALUES ($1, 'job', $2, $3, 'w', 'cpu: Test', 'passed', $4, $5, $5)",
        )
        .bind(format!("run-{at}"))
        .bind(&model_id.0)
        .bind(rev)
        .bind(report.to_string())
        .bind(at)
        .execute(&t.app.db.pool)
        .await
        .unwrap();
    }

    let mut pairs = vec![];
    for (id, name) in [(&first, "FIRST"), (&second, "SECOND")] {
        pairs.push((id.clone(), format!("[{name}]")));
        pairs.push((id[..12].to_string(), format!("[{name}-12]")));
        pairs.push((id[..7].to_string(), format!("[{name}-7]")));
    }
    pairs.push((t.url.clone(), "http://[server]".into()));
    let r = Redactor(pairs);

    insta::assert_snapshot!("model_page", main_of(&t, "/alice/demo", &r).await);
    insta::assert_snapshot!("tree_page", main_of(&t, "/alice/demo/tree/main", &r).await);
    insta::assert_snapshot!(
        "tensors_page",
        main_of(&t, "/alice/demo/tensors/main/model.safetensors", &r).await
    );
    insta::assert_snapshot!(
        "commits_page",
        main_of(&t, "/alice/demo/commits/main", &r).await
    );
    insta::assert_snapshot!(
        "compare_page",
        main_of(&t, &format!("/alice/demo/compare/{first}...main"), &r).await
    );
    let benchmarks = main_of(&t, "/alice/demo/benchmarks", &r).await;
    assert!(benchmarks.contains("b1/b32@128: b1@128 120.0 ± 1.5 items/s, b32@128 300.0 ± 4.0 items/s (2 threads, 5 repetitions)"), "{benchmarks}");
    assert!(
        benchmarks.contains("cpu: Test · b1/b32@128 (abababab)")
            && benchmarks.contains("cpu: Test · undisclosed workload")
    );
    insta::assert_snapshot!("benchmarks_page", benchmarks);
    insta::assert_snapshot!("models_page", main_of(&t, "/models?license=mit", &r).await);
    insta::assert_snapshot!("not_found_page", main_of(&t, "/alice/nothing", &r).await);
}
