//! Downloads are counted as the Hugging Face Hub counts them (issue 22): one
//! per pull of a revision (a GET of its query file, whole or from byte 0), on
//! the native file route and the Hub's `/resolve` alike; not one per file,
//! HEAD or range request. Counts are written in batches, then shown on the
//! model page as 30-day and all-time figures.

mod common;

use common::{Backend, README, TestApp};
use reqwest::StatusCode;
use reqwest::header::RANGE;

on_every_backend!(
    a_pull_counts_once_on_every_surface,
    without_config_json_the_first_weights_file_counts,
);

async fn downloads_of(t: &TestApp, model: &str) -> i64 {
    t.app.downloads.flush(&t.app.db).await.unwrap();
    let (owner, name) = model.split_once('/').unwrap();
    let id = granary_core::ModelId::new(owner, name).unwrap();
    granary_server::db::models::find(&t.app.db, &id)
        .await
        .unwrap()
        .unwrap()
        .downloads
}

async fn get(t: &TestApp, path: &str, range: Option<&str>) -> StatusCode {
    let mut req = t.client.get(format!("{}{path}", t.url));
    if let Some(r) = range {
        req = req.header(RANGE, r);
    }
    req.send().await.unwrap().status()
}

async fn a_pull_counts_once_on_every_surface(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let files = vec![
        ("README.md", README.as_bytes().to_vec()),
        (
            "config.json",
            br#"{"architectures": ["LlamaForCausalLM"]}"#.to_vec(),
        ),
        ("weights-1.dat", vec![1u8; 4096]),
        ("weights-2.dat", vec![2u8; 4096]),
    ];
    let rev = t.push_ok(&token, "alice/m", &files, None).await;
    assert_eq!(downloads_of(&t, "alice/m").await, 0);

    // Three pulls through the native API, each fetching every file: three downloads.
    for _ in 0..3 {
        for (path, _) in &files {
            let res = t.download("alice/m", "main", path).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
        }
    }
    assert_eq!(downloads_of(&t, "alice/m").await, 3);

    // Two through the Hub's /resolve, by branch and by revision id.
    for r in ["main", rev.as_str()] {
        for (path, _) in &files {
            assert_eq!(
                get(&t, &format!("/alice/m/resolve/{r}/{path}"), None).await,
                StatusCode::OK
            );
        }
    }
    assert_eq!(downloads_of(&t, "alice/m").await, 5);

    // HEAD and ranges past byte 0 are parts of a pull, not pulls; a range from 0 starts one.
    let head = t
        .client
        .head(format!("{}/alice/m/resolve/main/config.json", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let config = "/api/v1/models/alice/m/files/main/config.json";
    assert_eq!(
        get(&t, config, Some("bytes=5-")).await,
        StatusCode::PARTIAL_CONTENT
    );
    assert_eq!(
        get(&t, config, Some("bytes=10-20")).await,
        StatusCode::PARTIAL_CONTENT
    );
    assert_eq!(downloads_of(&t, "alice/m").await, 5);
    assert_eq!(
        get(&t, config, Some("bytes=0-")).await,
        StatusCode::PARTIAL_CONTENT
    );
    assert_eq!(downloads_of(&t, "alice/m").await, 6);

    // Refused downloads count nothing.
    assert_eq!(
        get(&t, "/alice/m/resolve/nope/config.json", None).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(downloads_of(&t, "alice/m").await, 6);

    // The model page shows the 30-day and all-time figures.
    let html = t
        .client
        .get(format!("{}/alice/m", t.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"<span id="downloads-30d">6</span> in the last 30 days, <span id="downloads-total">6</span> in all"#),
        "{html}"
    );
}

async fn without_config_json_the_first_weights_file_counts(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("bob").await;
    let files = vec![
        ("README.md", README.as_bytes().to_vec()),
        (
            "b.gguf",
            granary_core::checks::gguf::build(&[("general.name", "b")], &[]),
        ),
        (
            "a.gguf",
            granary_core::checks::gguf::build(&[("general.name", "a")], &[]),
        ),
    ];
    t.push_ok(&token, "bob/g", &files, None).await;
    for path in ["README.md", "b.gguf"] {
        assert_eq!(
            t.download("bob/g", "main", path).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(downloads_of(&t, "bob/g").await, 0);
    for _ in 0..2 {
        assert_eq!(
            get(&t, "/bob/g/resolve/main/a.gguf", None).await,
            StatusCode::OK
        );
    }
    assert_eq!(downloads_of(&t, "bob/g").await, 2);
}
