//! The web pages (issue 6) over HTTP: status codes, escaping and sanitising,
//! badges, filters, pagination, private models, static files, and snapshots
//! of rendered pages.

mod common;

use common::{Backend, TestApp, shard};
use reqwest::StatusCode;
use serde_json::json;

/// A card that tries every way to run script, plus the front matter the page shows as badges.
const HOSTILE_README: &str = r#"---
license: apache-2.0
tags:
  - tiny
  - <b>bold-tag</b>
datasets:
  - wikitext
language:
  - en
base_model: alice/base-model
library_name: transformers
pipeline_tag: text-generation
model-index:
  - name: tiny
    results:
      - task:
          type: text-generation
        dataset:
          name: HellaSwag
          type: hellaswag
        metrics:
          - type: acc
            value: 0.613
---
# Tiny model

A **generated** model for tests.

| metric | value |
|--------|-------|
| loss   | 1.25  |

```python
print("hello")
```

<script>document.title = "pwned"</script>

<img src="x" onerror="document.title='pwned'">

<iframe src="https://evil.example/"></iframe>

[click me](javascript:document.title='pwned') and <a href="javascript:alert(1)">this</a>

<a href="https://example.com/docs" onclick="document.title='pwned'">docs</a> <svg onload="document.title='pwned'"></svg>
"#;

fn hostile_model() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("model.safetensors", shard(1, 7)),
        (
            "config.json",
            br#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 64}"#.to_vec(),
        ),
        ("README.md", HOSTILE_README.as_bytes().to_vec()),
    ]
}

async fn page(t: &TestApp, path: &str) -> (StatusCode, String) {
    let res = t
        .client
        .get(format!("{}{path}", t.url))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    if let Ok(dir) = std::env::var("WEB_DUMP") {
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(format!("{dir}/{}.html", seg_name(path)), &body);
    }
    (status, body)
}

fn seg_name(path: &str) -> String {
    path.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

async fn page_ok(t: &TestApp, path: &str) -> String {
    let (status, body) = page(t, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    assert!(
        body.starts_with("<!doctype html>"),
        "{path} is not a page: {body}"
    );
    assert!(body.contains("<html lang=\"en\">"));
    body
}

/// The `<main>` element of a page.
fn main_of(body: &str) -> &str {
    let start = body.find("<main").expect("a <main>");
    let end = body.find("</main>").expect("a </main>") + "</main>".len();
    &body[start..end]
}

async fn model_key(t: &TestApp, model: &str) -> String {
    let row: (String,) = sqlx::query_as("SELECT id FROM models WHERE name_key = $1")
        .bind(model.to_ascii_lowercase())
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    row.0
}

/// Records a finished verification run as a worker would, closing the revision's jobs.
async fn record_run(
    t: &TestApp,
    model: &str,
    revision: &str,
    device: &str,
    report: serde_json::Value,
    at: i64,
) {
    let model_id = model_key(t, model).await;
    sqlx::query(
        "UPDATE verification_jobs SET state = 'done' WHERE model_id = $1 AND revision_id = $2",
    )
    .bind(&model_id)
    .bind(revision)
    .execute(&t.app.db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO verification_runs (id, job_id, model_id, revision_id, worker, device, status, report,
           started_at, finished_at) VALUES ($1, 'job', $2, $3, 'w', $4, $5, $6, $7, $7)",
    )
    .bind(uuid::Uuid::new_v4().simple().to_string())
    .bind(&model_id)
    .bind(revision)
    .bind(device)
    .bind(report["status"].as_str().unwrap())
    .bind(report.to_string())
    .bind(at)
    .execute(&t.app.db.pool)
    .await
    .unwrap();
}

fn passed(device: &str, tokens_per_s: f64, load_ms: f64) -> serde_json::Value {
    json!({"status": "passed", "device": device, "architecture": "llama", "dtype": "F32",
           "load_ms": load_ms, "latency_ms": 3.5, "tokens_per_s": tokens_per_s,
           "peak_memory_bytes": 12_000_000, "fingerprint": {"token_ids": [1, 2, 3], "text": "<b>hi</b>"}})
}

async fn model_page_shows_a_safe_card_with_badges_and_facts(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let rev = t
        .push_ok(&token, "alice/tiny", &hostile_model(), None)
        .await;
    record_run(
        &t,
        "alice/tiny",
        &rev,
        "cpu: Test CPU",
        passed("cpu: Test CPU", 42.5, 120.0),
        1_000,
    )
    .await;

    let body = page_ok(&t, "/alice/tiny").await;
    // Nothing from the card can run: no script element, event attribute, script URL or iframe.
    for bad in [
        "<script",
        "onerror",
        "onclick",
        "onload",
        "href=\"javascript",
        "<iframe",
        "<svg onload",
    ] {
        assert!(!body.contains(bad), "`{bad}` reached the page");
    }
    // Markdown: headings one level down, tables, code.
    assert!(body.contains("<h2>Tiny model</h2>"), "{body}");
    assert!(body.contains("<td>1.25</td>"));
    assert!(body.contains("<code class=\"language-python\">"));
    assert!(body.contains("href=\"https://example.com/docs\""));
    // The front matter is not in the body but in badges.
    assert!(!main_of(&body).contains("pipeline_tag:"));
    assert!(
        body.contains("href=\"https://spdx.org/licenses/Apache-2.0.html\""),
        "{body}"
    );
    assert!(body.contains("Dataset</span> wikitext<") && body.contains("Language</span> en<"));
    assert!(body.contains("href=\"/alice/base-model\""));
    assert!(body.contains("href=\"/models?task=text-generation\""));
    // A tag's markup is shown as text.
    assert!(body.contains("&lt;b&gt;bold-tag&lt;/b&gt;"), "{body}");
    assert!(
        body.contains(">click me</a>") || body.contains("click me"),
        "{body}"
    );
    // The side panel: parameters per dtype, files, pull commands, license, verification.
    assert!(body.contains("131k") || body.contains("F32"), "{body}");
    assert!(body.contains("granary pull alice/tiny"), "{body}");
    assert!(
        body.contains(&format!("HF_ENDPOINT={} hf download alice/tiny", t.url)),
        "{body}"
    );
    assert!(body.contains("Permissive license"));
    assert!(
        body.contains("cpu: Test CPU") && body.contains("42.5 tokens/s") && body.contains("120 ms"),
        "{body}"
    );
    assert!(
        body.contains("&lt;b&gt;hi&lt;/b&gt;"),
        "the fingerprint is escaped: {body}"
    );
    assert!(
        body.contains("href=\"/login\""),
        "a sign-in link in the header"
    );
}

async fn private_and_missing_models_are_the_same_404(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let res = t
        .push(
            &token,
            "alice/secret",
            &hostile_model(),
            None,
            json!({"private": true}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    t.push_ok(&token, "alice/open", &hostile_model(), None)
        .await;

    for path in [
        "/alice/secret",
        "/alice/secret/tree/main",
        "/alice/secret/commits/main",
        "/alice/secret/benchmarks",
        "/alice/secret/tensors/main/model.safetensors",
        "/alice/secret/compare/main...main",
    ] {
        let (status, body) = page(&t, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            body.contains("404 · Not found")
                && body.contains("does not exist, or you do not have access"),
            "{body}"
        );
        let (missing_status, missing) = page(&t, &path.replace("secret", "nothere")).await;
        assert_eq!(missing_status, StatusCode::NOT_FOUND);
        assert_eq!(
            body.replace("secret", "nothere"),
            missing,
            "a private model must look exactly like a missing one"
        );
    }
    // The owner sees it with a token.
    let res = t
        .client
        .get(format!("{}/alice/secret", t.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Listings and the owner's page leave it out.
    assert!(!page_ok(&t, "/models").await.contains("alice/secret"));
    assert!(
        !page_ok(&t, "/models?q=secret")
            .await
            .contains("href=\"/alice/secret\"")
    );
    let owner = page_ok(&t, "/alice").await;
    assert!(owner.contains("alice/open") && !owner.contains("alice/secret"));
    // Unknown refs, files, people and malformed names are 404 pages too.
    for path in [
        "/alice/open/tree/nope",
        "/alice/open/commits/nope",
        "/alice/open/tensors/main/nope.safetensors",
        "/alice/open/tensors/main/config.json",
        "/alice/open/compare/main...nope",
        "/nobody",
        "/nobody/nothing",
        "/bad..name/x",
    ] {
        let (status, body) = page(&t, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(
            body.contains("<!doctype html>"),
            "{path} answers a styled page"
        );
    }
}

async fn files_history_tensors_and_compare(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let files = hostile_model();
    let first = t.push_ok(&token, "alice/tiny", &files, None).await;
    let mut second_files = files.clone();
    second_files.retain(|(p, _)| *p != "config.json");
    second_files.push(("extra dir/notes & {1}.txt", b"notes".to_vec()));
    second_files[0].1 = shard(1, 8);
    let res = t
        .push(
            &token,
            "alice/tiny",
            &second_files,
            Some(&first),
            json!({"message": "<script>alert('commit')</script> second"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let second: serde_json::Value = res.json().await.unwrap();
    let second = second["id"].as_str().unwrap().to_string();
    let res = t
        .client
        .put(t.api("/models/alice/tiny/tags/v1.0"))
        .bearer_auth(&token)
        .json(&json!({"revision": first}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);

    let tree = page_ok(&t, "/alice/tiny/tree/main").await;
    assert!(
        tree.contains(r#"<a href="/alice/tiny/tree/main/extra%20dir">extra dir/</a>"#),
        "folders first: {tree}"
    );
    let folder = page_ok(&t, "/alice/tiny/tree/main/extra%20dir").await;
    assert!(
        folder.contains(&format!(
            "/api/v1/models/alice/tiny/files/{second}/extra%20dir/notes%20%26%20%7B1%7D.txt"
        )),
        "{folder}"
    );
    assert!(folder.contains(
        r#"<a href="/alice/tiny/blob/main/extra%20dir/notes%20%26%20%7B1%7D.txt">notes &amp; {1}.txt</a>"#
    ));
    assert!(
        tree.contains(
            &common::commit_file("README.md", HOSTILE_README.as_bytes())
                .sha256
                .hex()
        )
    );
    assert!(tree.contains("href=\"/alice/tiny/tensors/main/model.safetensors\""));
    assert!(
        tree.contains("href=\"/alice/tiny/tree/v1.0\""),
        "tags are listed: {tree}"
    );
    assert!(
        !tree.contains("<script>alert"),
        "the commit message is escaped"
    );
    let old = page_ok(&t, "/alice/tiny/tree/v1.0").await;
    assert!(old.contains("config.json") && !old.contains("notes"));
    page_ok(&t, &format!("/alice/tiny/tree/{}", &first[..12])).await;

    let tensors = page_ok(&t, "/alice/tiny/tensors/main/model.safetensors").await;
    assert!(
        tensors.contains("layer8.weight")
            && tensors.contains("[512, 256]")
            && tensors.contains("F32"),
        "{tensors}"
    );

    let commits = page_ok(&t, "/alice/tiny/commits/main").await;
    assert!(
        commits.contains("&lt;script&gt;alert(&#x27;commit&#x27;)&lt;/script&gt; second"),
        "{commits}"
    );
    assert!(!commits.contains("<script>"));
    assert!(
        commits.contains("test push")
            && commits.contains(&first[..12])
            && commits.contains(&second[..12])
    );
    assert!(commits.contains(&format!("/alice/tiny/compare/{first}...{second}")));

    let compare = page_ok(&t, "/alice/tiny/compare/v1.0...main").await;
    assert!(
        compare.contains("1 added, 1 removed, 1 changed, 1 unchanged"),
        "{compare}"
    );
    let res = t
        .client
        .get(format!("{}/alice/tiny/compare?from=v1.0&to=main", t.url))
        .send()
        .await
        .unwrap();
    assert!(
        res.url().path().ends_with("/compare/v1.0...main"),
        "{}",
        res.url()
    );
    assert_eq!(res.status(), StatusCode::OK);
    page_ok(&t, "/alice/tiny/compare").await;
}

/// Pushes a small model with a card of the given facts.
async fn push_listed(
    t: &TestApp,
    token: &str,
    model: &str,
    license: &str,
    task: &str,
    arch: &str,
) -> String {
    let readme = format!(
        "---\nlicense: {license}\npipeline_tag: {task}\nlibrary_name: candle\ntags: [{model}-tag]\n---\n# {model}\n"
    );
    let config = format!(r#"{{"architectures": ["{arch}"]}}"#);
    t.push_ok(
        token,
        model,
        &[
            ("README.md", readme.into_bytes()),
            ("config.json", config.into_bytes()),
        ],
        None,
    )
    .await
}

async fn model_list_filters_sorts_and_pages(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let bob = t.user("bob").await;
    let mit = push_listed(
        &t,
        &token,
        "alice/mit-model",
        "mit",
        "fill-mask",
        "BertForMaskedLM",
    )
    .await;
    push_listed(
        &t,
        &token,
        "alice/llama-model",
        "llama3",
        "text-generation",
        "LlamaForCausalLM",
    )
    .await;
    push_listed(
        &t,
        &bob,
        "bob/under_score",
        "apache-2.0",
        "text-generation",
        "GPT2LMHeadModel",
    )
    .await;
    record_run(
        &t,
        "alice/mit-model",
        &mit,
        "cpu",
        passed("cpu", 10.0, 5.0),
        10,
    )
    .await;

    let names = |body: &str| {
        ["alice/mit-model", "alice/llama-model", "bob/under_score"]
            .into_iter()
            .filter(|m| body.contains(&format!("href=\"/{m}\"")))
            .collect::<Vec<_>>()
    };
    let all = page_ok(&t, "/models").await;
    assert_eq!(names(&all).len(), 3);
    assert!(all.contains("3 models"));
    let cases: &[(&str, &[&str])] = &[
        ("/models?license=MIT", &["alice/mit-model"]),
        (
            "/models?permissive=on",
            &["alice/mit-model", "bob/under_score"],
        ),
        (
            "/models?task=text-generation",
            &["alice/llama-model", "bob/under_score"],
        ),
        ("/models?library=candle&owner=bob", &["bob/under_score"]),
        ("/models?arch=llamaforcausallm", &["alice/llama-model"]),
        ("/models?verified=passed", &["alice/mit-model"]),
        (
            "/models?verified=unverified",
            &["alice/llama-model", "bob/under_score"],
        ),
        ("/models?q=mit-model-tag", &["alice/mit-model"]),
        ("/models?q=BOB", &["bob/under_score"]),
        // `_` and `%` are text, not patterns.
        ("/models?q=r_s", &["bob/under_score"]),
        ("/models?q=%25", &[]),
        ("/models?q=%27%20OR%201%3D1%20--", &[]),
    ];
    for (path, expected) in cases {
        let body = page_ok(&t, path).await;
        let mut found = names(&body);
        found.sort();
        let mut expected = expected.to_vec();
        expected.sort();
        assert_eq!(found, expected, "{path}");
    }
    // The filters stay in the form, escaped.
    let body = page_ok(
        &t,
        "/models?q=%22%3E%3Cscript%3E&license=mit&permissive=on&sort=name",
    )
    .await;
    assert!(
        body.contains("value=\"&quot;&gt;&lt;script&gt;\""),
        "{body}"
    );
    assert!(body.contains(
        "id=\"f-permissive\" type=\"checkbox\" name=\"permissive\" value=\"on\" checked"
    ));
    assert!(body.contains("<option value=\"name\" selected>"));

    // Sorted by name; pages of 20 with links that keep the filters.
    for i in 0..22 {
        push_listed(
            &t,
            &bob,
            &format!("bob/m{i:02}"),
            "mit",
            "fill-mask",
            "BertModel",
        )
        .await;
    }
    let first = page_ok(&t, "/models?owner=bob&sort=name").await;
    assert!(
        first.contains("23 models") && first.contains("Page 1 of 2"),
        "{first}"
    );
    assert!(
        first.contains("href=\"/models?owner=bob&amp;sort=name&amp;page=2\""),
        "{first}"
    );
    assert!(first.contains("bob/m00") && !first.contains("bob/under_score"));
    let second = page_ok(&t, "/models?owner=bob&sort=name&page=2").await;
    assert!(
        second.contains("bob/m20")
            && second.contains("bob/m21")
            && second.contains("bob/under_score")
    );
    assert!(!second.contains("bob/m19") && second.contains("rel=\"prev\""));
    let arch_pages = page_ok(&t, "/models?arch=BertModel&page=2").await;
    assert!(
        arch_pages.contains("22 models") && arch_pages.contains("bob/m21"),
        "{arch_pages}"
    );
    // Nonsense parameters are ignored, not errors.
    page_ok(&t, "/models?page=abc&sort=nope&verified=maybe").await;
}

async fn home_owner_and_benchmarks(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let first = t
        .push_ok(&token, "alice/tiny", &hostile_model(), None)
        .await;
    let mut files = hostile_model();
    files[0].1 = shard(1, 9);
    let res = t
        .push(
            &token,
            "alice/tiny",
            &files,
            Some(&first),
            json!({"message": "retrained"}),
        )
        .await;
    let second: serde_json::Value = res.json().await.unwrap();
    let second = second["id"].as_str().unwrap().to_string();
    record_run(
        &t,
        "alice/tiny",
        &first,
        "cpu: Test CPU",
        passed("cpu: Test CPU", 40.0, 150.0),
        1_000,
    )
    .await;
    record_run(
        &t,
        "alice/tiny",
        &second,
        "cpu: Test CPU",
        passed("cpu: Test CPU", 45.0, 140.0),
        2_000,
    )
    .await;
    record_run(
        &t,
        "alice/tiny",
        &second,
        "cuda: <GPU>",
        passed("cuda: <GPU>", 400.0, 90.0),
        3_000,
    )
    .await;
    record_run(
        &t,
        "alice/tiny",
        &second,
        "cpu: Other",
        json!({"status": "failed", "device": "cpu: Other", "reason": "tensor <x> is NaN"}),
        4_000,
    )
    .await;

    let home = page_ok(&t, "/").await;
    assert!(
        home.contains("Newest")
            && home.contains("Most downloaded")
            && home.contains("Recently verified")
    );
    assert!(home.contains("href=\"/alice/tiny\""));
    assert!(home.contains("action=\"/models\""));

    let owner = page_ok(&t, "/alice").await;
    assert!(owner.contains("<h1>alice</h1>") && owner.contains("href=\"/alice/tiny\""));

    let bench = page_ok(&t, "/alice/tiny/benchmarks").await;
    assert!(
        bench.contains("<svg") && bench.contains("<polyline"),
        "{bench}"
    );
    assert!(bench.contains("cuda: &lt;GPU&gt;") && !bench.contains("<GPU>"));
    assert!(
        bench.contains("400 tokens/s") || bench.contains("400.0 tokens/s"),
        "{bench}"
    );
    assert!(bench.contains("tensor &lt;x&gt; is NaN"));
    assert!(
        bench.contains("Self-reported by the authors")
            && bench.contains("HellaSwag")
            && bench.contains("0.613")
    );
    assert!(bench.contains(&second[..12]) && bench.contains(&first[..12]));
    assert!(bench.contains("retrained"));
}

async fn static_files_are_cached(backend: Backend) {
    let t = TestApp::start(backend).await;
    let res = t
        .client
        .get(format!("{}/static/granary.css", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let res = t
        .client
        .get(format!("{}/static/granary.css", t.url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let (status, _) = page(&t, "/static/nope.css").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = page(&t, "/static/../Cargo.toml").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Pages forbid script outright.
    let res = t.client.get(format!("{}/", t.url)).send().await.unwrap();
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'none'")
    );
    let home = res.text().await.unwrap();
    assert!(home.contains(&format!("/static/granary.css?v={}", etag.trim_matches('"'))));
}

on_every_backend!(
    signatures_attestations_and_keys_on_the_web,
    model_page_shows_a_safe_card_with_badges_and_facts,
    private_and_missing_models_are_the_same_404,
    files_history_tensors_and_compare,
    model_list_filters_sorts_and_pages,
    home_owner_and_benchmarks,
    static_files_are_cached,
    the_file_viewer_and_hub_urls,
    unknown_and_private_urls_are_styled_404s,
    robots_txt_and_a_favicon,
    verification_people_can_read,
    phones_get_folded_badges_and_a_filters_toggle,
    gguf_files_show_their_header,
);

/// Issue 22, item 3: `/blob/` shows text highlighted and escaped, Markdown rendered,
/// big and binary files as facts; folders and the last change of each entry; the URLs
/// `hf upload` prints (`/commit/{40 hex}`) resolve; raw is plain text.
async fn the_file_viewer_and_hub_urls(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let mut big = "x".repeat(1024 * 1024);
    big.push_str("\nend\n");
    let mut files = hostile_model();
    files.push((
        "hostile.txt",
        b"<script>document.title='pwned'</script>\n<img src=x onerror=alert(1)>\n".to_vec(),
    ));
    files.push((
        "conf/params.yaml",
        b"# tuned\nlr: 0.001\nname: \"<b>x</b>\"\n".to_vec(),
    ));
    files.push(("big.txt", big.into_bytes()));
    files.push(("weights.dat", vec![0u8, 1, 2, 3, 0, 255]));
    let first = t.push_ok(&token, "alice/v", &files, None).await;
    let mut next = files.clone();
    next.iter_mut()
        .find(|(p, _)| *p == "config.json")
        .unwrap()
        .1 = br#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 128}"#.to_vec();
    let res = t
        .push(
            &token,
            "alice/v",
            &next,
            Some(&first),
            json!({"message": "wider"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let second: serde_json::Value = res.json().await.unwrap();
    let second = second["id"].as_str().unwrap().to_string();

    // JSON, highlighted, with raw and download buttons.
    let html = page_ok(&t, "/alice/v/blob/main/config.json").await;
    assert!(
        html.contains(
            r#"<span class="k">&quot;hidden_size&quot;</span>: <span class="n">128</span>"#
        ),
        "{html}"
    );
    assert!(html.contains(&format!(
        r#"<a class="button" href="/alice/v/raw/{second}/config.json">Raw</a>"#
    )));
    assert!(html.contains(&format!(
        r#"href="/api/v1/models/alice/v/files/{second}/config.json" download>Download</a>"#
    )));
    // A hostile text file is text.
    let html = page_ok(&t, "/alice/v/blob/main/hostile.txt").await;
    assert!(
        !html.contains("<script>document") && !html.contains("<img src=x"),
        "{html}"
    );
    assert!(html.contains("&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;"));
    // YAML in a folder, with crumbs back up.
    let html = page_ok(&t, "/alice/v/blob/main/conf/params.yaml").await;
    assert!(html.contains(r#"<span class="c"># tuned</span>"#), "{html}");
    assert!(html.contains(r#"<span class="s">&quot;&lt;b&gt;x&lt;/b&gt;&quot;</span>"#));
    assert!(html.contains(r#"<a href="/alice/v/tree/main/conf">conf</a>"#));
    // Markdown rendered and sanitised, as on the model page.
    let html = page_ok(&t, "/alice/v/blob/main/README.md").await;
    assert!(
        html.contains("<h2>Tiny model</h2>") || html.contains("Tiny model</h2>"),
        "{html}"
    );
    assert!(!html.contains("<script>document") && !html.contains("onerror"));
    // Too large, and binary: facts and a download, no contents.
    let html = page_ok(&t, "/alice/v/blob/main/big.txt").await;
    assert!(html.contains("too large to show here"), "{html}");
    assert!(!html.contains("xxxxxxxxxx"));
    let html = page_ok(&t, "/alice/v/blob/main/weights.dat").await;
    assert!(html.contains("A binary file"), "{html}");
    assert!(
        html.contains(
            &common::commit_file("weights.dat", &[0, 1, 2, 3, 0, 255])
                .sha256
                .hex()
        )
    );
    // Safetensors open their tensor view.
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = c
        .get(format!("{}/alice/v/blob/main/model.safetensors", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"],
        "/alice/v/tensors/main/model.safetensors"
    );

    // Raw is plain text that cannot run.
    let res = t
        .client
        .get(format!("{}/alice/v/raw/main/hostile.txt", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );

    // The tree: folders first, each entry with the revision that last changed it.
    let tree = page_ok(&t, "/alice/v/tree/main").await;
    assert!(
        tree.contains(r#"<a href="/alice/v/tree/main/conf">conf/</a>"#),
        "{tree}"
    );
    let row = |name: &str| {
        let i = tree
            .find(&format!(">{name}</a>"))
            .unwrap_or_else(|| panic!("{name}: {tree}"));
        tree[i..].split("</tr>").next().unwrap().to_string()
    };
    assert!(
        row("config.json").contains(&format!("/alice/v/commit/{second}")),
        "{}",
        row("config.json")
    );
    assert!(row("README.md").contains(&format!("/alice/v/commit/{first}")));
    assert!(row("conf/").contains(&format!("/alice/v/commit/{first}")));
    assert!(row("config.json").contains("wider"));

    // The URLs `hf upload` prints: /commit/{40 hex} (the Hub's form of an id) and /blob/.
    let res = c
        .get(format!("{}/alice/v/commit/{}", t.url, &second[..40]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        format!("/alice/v/compare/{first}...{second}")
    );
    let res = c
        .get(format!("{}/alice/v/commit/{first}", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        format!("/alice/v/tree/{first}")
    );
    let compare = page_ok(&t, &format!("/alice/v/compare/{first}...{second}")).await;
    assert!(
        compare.contains(&format!("/alice/v/blob/{second}/config.json")),
        "{compare}"
    );
    page_ok(
        &t,
        &format!("/alice/v/blob/{}/conf/params.yaml", &first[..40]),
    )
    .await;

    // Missing files and folders are styled 404s.
    for path in [
        "/alice/v/blob/main/nope.txt",
        "/alice/v/tree/main/nope",
        "/alice/v/commit/nope",
    ] {
        let (status, body) = page(&t, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(body.starts_with("<!doctype html>"), "{path}: {body}");
    }
}

/// Unknown URLs under a model are the styled 404 page for browsers (the API keeps its JSON),
/// and a private model's blob, tree, raw and commit URLs are 404s like a missing model's.
async fn unknown_and_private_urls_are_styled_404s(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let rev = t.push_ok(&token, "alice/p", &hostile_model(), None).await;
    let browser = |path: String| {
        t.client
            .get(format!("{}{path}", t.url))
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .send()
    };
    let res = browser("/alice/p/no/such/page".into()).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().starts_with("<!doctype html>"));
    let res = t
        .client
        .get(format!("{}/alice/p/no/such/page", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["code"], "not_found");

    let res = t
        .client
        .patch(t.api("/models/alice/p/settings"))
        .bearer_auth(&token)
        .json(&json!({"private": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    for path in [
        "/alice/p/blob/main/config.json".to_string(),
        "/alice/p/tree/main".to_string(),
        "/alice/p/raw/main/config.json".to_string(),
        format!("/alice/p/commit/{}", &rev[..40]),
    ] {
        let (status, body) = page(&t, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("LlamaForCausalLM"), "{path}");
        assert!(main_of(&body).contains("Not found"), "{path}: {body}");
    }
}

/// Issue 22, item 7: `robots.txt` keeps crawlers off the APIs and account pages; pages link
/// a favicon, and `/favicon.ico` leads to it.
async fn robots_txt_and_a_favicon(backend: Backend) {
    let t = TestApp::start(backend).await;
    let res = t
        .client
        .get(format!("{}/robots.txt", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    let robots = res.text().await.unwrap();
    assert!(robots.contains("User-agent: *") && robots.contains("Disallow: /api/"));
    let home = page_ok(&t, "/").await;
    assert!(
        home.contains(r#"<link rel="icon" href="/static/favicon.svg?v="#),
        "{home}"
    );
    let res = t
        .client
        .get(format!("{}/favicon.ico", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert!(res.text().await.unwrap().starts_with("<svg"));
}

/// Issue 22, item 5: a failed verification is a banner at the top of the card; the benchmarks
/// page charts latency and memory beside throughput; no server path reaches a visitor.
async fn verification_people_can_read(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let first = t.push_ok(&token, "alice/r", &hostile_model(), None).await;
    record_run(
        &t,
        "alice/r",
        &first,
        "cpu: test",
        passed("cpu: test", 20.0, 100.0),
        1_000,
    )
    .await;
    let bench = page_ok(&t, "/alice/r/benchmarks").await;
    for title in [
        "Throughput per revision",
        "Latency per revision",
        "Peak memory per revision",
    ] {
        assert!(bench.contains(title), "{title}: {bench}");
    }
    let page = page_ok(&t, "/alice/r").await;
    assert!(
        !page.contains("class=\"banner"),
        "a passed run has no banner"
    );

    let mut files = hostile_model();
    files[0].1 = shard(1, 9);
    let res = t
        .push(&token, "alice/r", &files, Some(&first), json!({}))
        .await;
    let second: serde_json::Value = res.json().await.unwrap();
    let second = second["id"].as_str().unwrap().to_string();
    let failed = json!({"status": "failed", "device": "cpu: test",
        "reason": "cannot map /tmp/granary-9f/blobs/ab/model.safetensors: header overlaps",
        "log": "loading /srv/granary/data/blobs/ab/cd\nfailed at /srv/granary/data/x.bin"});
    record_run(&t, "alice/r", &second, "cpu: test", failed, 2_000).await;
    let page = page_ok(&t, "/alice/r").await;
    let banner = page
        .find("<div class=\"banner banner-failed\" role=\"alert\">")
        .expect("a banner");
    assert!(
        banner < page.find("article class=\"card\"").unwrap(),
        "above the card"
    );
    assert!(page.contains("Verification failed</strong>"));
    assert!(
        page.contains("cannot map …/model.safetensors: header overlaps"),
        "{page}"
    );
    for p in ["/tmp/granary", "/srv/granary"] {
        assert!(!page.contains(p), "{p} on the model page");
        assert!(
            !page_ok(&t, "/alice/r/benchmarks").await.contains(p),
            "{p} on benchmarks"
        );
        let api = t
            .get(&format!("/models/alice/r/revisions/{second}/verification"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            !api.contains(p) && api.contains("…/x.bin"),
            "{p} in the API: {api}"
        );
    }
}

/// Issue 22, item 6: long badge lists fold ("21 datasets") so the card starts on a phone's
/// first screen; the model list's filters sit behind a toggle (CSS, no script).
async fn phones_get_folded_badges_and_a_filters_toggle(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let datasets: String = (0..21).map(|i| format!("  - data-{i}\n")).collect();
    let card = format!("---\nlicense: mit\ndatasets:\n{datasets}language:\n  - en\n---\n# Many\n");
    t.push_ok(
        &token,
        "alice/many",
        &[("README.md", card.into_bytes())],
        None,
    )
    .await;
    let page = page_ok(&t, "/alice/many").await;
    assert!(
        page.contains(
            r#"<li class="badge badge-dataset folded"><details><summary>21 datasets</summary>"#
        ),
        "{page}"
    );
    assert!(
        page.contains("data-20</li>"),
        "every dataset is still there"
    );
    assert!(
        page.contains(r#"<span class="label">Language</span> en"#),
        "short lists stay"
    );
    let list = page_ok(&t, "/models").await;
    assert!(list.contains(r#"<label for="show-filters" class="filters-button">Filters</label>"#));
}

/// Issue 22, item 3: a GGUF file's page shows its header's metadata and tensors, escaped; a
/// broken one is a binary file with the reason.
async fn gguf_files_show_their_header(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let good = granary_core::checks::gguf::build(
        &[
            ("general.architecture", "llama"),
            ("general.name", "<script>x</script>"),
        ],
        &[
            ("token_embd.weight", &[64, 32]),
            ("output_norm.weight", &[64]),
        ],
    );
    let mut files = hostile_model();
    files.push(("tiny.gguf", good));
    t.push_ok(&token, "alice/q", &files, None).await;
    let html = page_ok(&t, "/alice/q/blob/main/tiny.gguf").await;
    assert!(html.contains("GGUF version 3 · 2 tensors"), "{html}");
    assert!(html.contains(
        "<td><code>token_embd.weight</code></td><td>F32</td><td><code>[64, 32]</code></td>"
    ));
    assert!(html.contains("<dt>general.architecture</dt><dd>llama</dd>"));
    assert!(!html.contains("<script>x") && html.contains("&lt;script&gt;x"));
    // A GGUF file whose header lies is refused at commit (granary_core::checks), so no page shows one.
    let res = t
        .push(
            &token,
            "alice/q",
            &[("broken.gguf", b"GGUF\x03\0\0\0\xff".to_vec())],
            None,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// Issue 18: the model page links the revision's signature and, for a run with
/// one, its signed attestation; `/docs/signing` shows the registry's keys as
/// `GET /api/v1/keys` serves them.
async fn signatures_attestations_and_keys_on_the_web(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let rev = t.push_ok(&token, "alice/s", &hostile_model(), None).await;
    let html = page_ok(&t, "/alice/s").await;
    let signature = format!("/api/v1/models/alice/s/revisions/{rev}/signature");
    assert!(html.contains(&format!("href=\"{signature}\"")), "{html}");
    assert!(html.contains("href=\"/docs/signing\""));
    assert!(
        !html.contains("Signed attestation"),
        "no run, no attestation"
    );
    let mut report = passed("cpu: test", 20.0, 100.0);
    report["attestation"] = json!({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"});
    record_run(&t, "alice/s", &rev, "cpu: test", report, 1_000).await;
    let html = page_ok(&t, "/alice/s").await;
    let attestation = format!("/api/v1/models/alice/s/revisions/{rev}/verification");
    assert!(
        html.contains(&format!(
            "class=\"badge badge-attested\" href=\"{attestation}\""
        )),
        "{html}"
    );

    let keys: serde_json::Value = t.get("/keys").await.json().await.unwrap();
    let page = page_ok(&t, "/docs/signing").await;
    let id = keys["keys"][0]["id"].as_str().unwrap();
    assert!(page.contains(id), "{page}");
    assert!(page.contains("current"));
    let pem = keys["keys"][0]["public_key_pem"].as_str().unwrap();
    let body = pem.lines().find(|l| !l.starts_with("-----")).unwrap();
    assert!(page.contains(body), "the PEM is shown");
}
