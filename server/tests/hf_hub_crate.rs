//! The `hf-hub` crate (v0.5, tokio, what candle uses) downloading from Granary's
//! Hub-compatible surface: repo info, the `Range: bytes=0-0` probe, 10 MB
//! chunks with a last range past the end, empty files, the 40-hex alias, the
//! shared cache layout, and errors.

mod common;

use common::{Backend, TestApp, model_files, shard};
use granary_core::Sha256;
use hf_hub::api::tokio::{Api, ApiBuilder};
use hf_hub::{Repo, RepoType};

fn client(t: &TestApp, cache: &std::path::Path) -> Api {
    ApiBuilder::new()
        .with_endpoint(t.url.clone())
        .with_cache_dir(cache.to_path_buf())
        .with_progress(false)
        .with_token(None)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hf_hub_crate_downloads() {
    let t = TestApp::start(Backend::Sqlite).await;
    let token = t.user("alice").await;
    let mut files = model_files();
    // About 25 MB: three 10 MB chunks, the last one asking for a byte past the end.
    files.push(("big/model.safetensors", shard(24, 9)));
    files.push(("empty.txt", Vec::new()));
    let rev = t.push_ok(&token, "alice/tiny", &files, None).await;

    let cache = tempfile::tempdir().unwrap();
    let api = client(&t, cache.path());
    let repo = api.model("alice/tiny".to_string());
    let info = repo.info().await.unwrap();
    assert_eq!(info.sha, rev[..40]);
    let mut names: Vec<_> = info.siblings.iter().map(|s| s.rfilename.clone()).collect();
    names.sort();
    let mut expected: Vec<_> = files.iter().map(|(p, _)| p.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected);

    for (path, bytes) in &files {
        let p = repo
            .get(path)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(std::fs::read(&p).unwrap(), *bytes, "{path} differs");
        // The cache blob is named by the SHA-256 ETag, as in Python's cache.
        let blob = std::fs::canonicalize(&p).unwrap();
        assert_eq!(
            blob.file_name().unwrap().to_str().unwrap(),
            Sha256::of(bytes).hex()
        );
    }
    let snapshot = cache
        .path()
        .join("models--alice--tiny/snapshots")
        .join(&rev[..40]);
    assert!(snapshot.join("big/model.safetensors").exists());

    // Cached files are served from the cache, with no transfer.
    let sent = t.stats().await["file_bytes_sent"].as_u64().unwrap();
    repo.get("big/model.safetensors").await.unwrap();
    assert_eq!(t.stats().await["file_bytes_sent"].as_u64().unwrap(), sent);

    // By the 40-hex alias and by the full id, into a fresh cache.
    for r in [&rev[..40], rev.as_str()] {
        let cache = tempfile::tempdir().unwrap();
        let api = client(&t, cache.path());
        let repo = api.repo(Repo::with_revision(
            "alice/tiny".into(),
            RepoType::Model,
            r.to_string(),
        ));
        let p = repo.get("config.json").await.unwrap();
        assert_eq!(std::fs::read(p).unwrap(), files[3].1);
    }

    // Missing files, revisions and repos are errors.
    assert!(repo.get("nope.json").await.is_err());
    let missing = api.repo(Repo::with_revision(
        "alice/tiny".into(),
        RepoType::Model,
        "nope".into(),
    ));
    assert!(missing.get("config.json").await.is_err());
    assert!(api.model("alice/nope".into()).info().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_headers_and_errors() {
    let t = TestApp::start(Backend::Sqlite).await;
    let token = t.user("alice").await;
    let files = model_files();
    let rev = t.push_ok(&token, "alice/tiny", &files, None).await;
    let url = |p: &str| format!("{}{p}", t.url);

    let res = t
        .client
        .head(url("/alice/tiny/resolve/main/config.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert_eq!(h["x-repo-commit"], &rev[..40]);
    let etag = format!("\"{}\"", Sha256::of(&files[3].1));
    assert_eq!(h["etag"], etag.as_str());
    assert_eq!(h["x-linked-etag"], etag.as_str());
    assert_eq!(h["x-linked-size"], files[3].1.len().to_string().as_str());
    assert_eq!(h["content-length"], files[3].1.len().to_string().as_str());
    assert!(h.get("content-encoding").is_none());

    let cases = [
        ("/alice/nope/resolve/main/config.json", "RepoNotFound"),
        ("/alice/tiny/resolve/nope/config.json", "RevisionNotFound"),
        ("/alice/tiny/resolve/main/nope.json", "EntryNotFound"),
        (
            "/datasets/alice/tiny/resolve/main/config.json",
            "RepoNotFound",
        ),
        ("/api/models/alice/nope", "RepoNotFound"),
        ("/api/models/alice/tiny/revision/nope", "RevisionNotFound"),
    ];
    for (path, code) in cases {
        let res = t.client.get(url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(res.headers()["x-error-code"], code, "{path}");
        assert!(res.headers().contains_key("x-error-message"), "{path}");
        if code == "EntryNotFound" {
            assert_eq!(res.headers()["x-repo-commit"], &rev[..40]);
        }
    }
    let res = t
        .client
        .get(url("/api/models/alice/tiny/xet-write-token/main"))
        .send()
        .await
        .unwrap();
    // Xet write tokens are for writers only (docs/HF.md, "Xet").
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("x-error-message"));
}
