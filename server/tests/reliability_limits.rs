//! The configurable limits of `limits.rs`: per-token request rate and the
//! owner storage quota, each refusal naming its limit. (Timeouts and body
//! sizes are in `bad_input.rs`.)

mod common;

use common::{Backend, README, TestApp, commit_file};
use granary_core::Sha256;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    token_rate_is_limited_per_token,
    owner_quota_counts_distinct_blobs
);

async fn token_rate_is_limited_per_token(backend: Backend) {
    let t = TestApp::start_with(backend, |c| c.limits.token_rate_per_minute = 10).await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let whoami = |token: &str| t.client.get(t.api("/whoami")).bearer_auth(token).send();
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(whoami(&alice).await.unwrap());
    }
    let limited = statuses.pop().unwrap();
    // Unless the minute turned meanwhile, the 11th and 12th requests are refused.
    if limited.status() == StatusCode::TOO_MANY_REQUESTS {
        let retry: u64 = limited.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry));
        let v: Value = limited.json().await.unwrap();
        assert_eq!(v["code"], "rate_limited");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("token_rate_per_minute"),
            "{v}"
        );
        // Another token is not affected, nor are anonymous reads.
        assert_eq!(whoami(&bob).await.unwrap().status(), StatusCode::OK);
        assert_eq!(t.get("/models").await.status(), StatusCode::OK);
    } else {
        assert!(
            statuses
                .iter()
                .take(10)
                .all(|r| r.status() == StatusCode::OK)
        );
    }
}

async fn owner_quota_counts_distinct_blobs(backend: Backend) {
    let t = TestApp::start_with(backend, |c| c.limits.owner_quota_bytes = 10_000).await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let readme = README.as_bytes().to_vec();
    let six_k = vec![b'a'; 6000];
    let rev = t
        .push_ok(
            &alice,
            "alice/one",
            &[("README.md", readme.clone()), ("a.bin", six_k.clone())],
            None,
        )
        .await;
    // The same blobs again, in another model and another revision: no new bytes.
    t.push_ok(
        &alice,
        "alice/two",
        &[("README.md", readme.clone()), ("copy.bin", six_k.clone())],
        None,
    )
    .await;
    t.push_ok(
        &alice,
        "alice/one",
        &[
            ("README.md", readme.clone()),
            ("a.bin", six_k.clone()),
            ("b.bin", six_k.clone()),
        ],
        Some(&rev),
    )
    .await;
    // 6,000 new bytes would pass the quota: refused when the upload opens, before any byte.
    let other = vec![b'b'; 6000];
    let res = t
        .post_json(
            &alice,
            "/uploads",
            &json!({"sha256": Sha256::of(&other), "size": other.len()}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["code"], "too_large");
    assert!(
        v["error"].as_str().unwrap().contains("owner_quota_bytes"),
        "{v}"
    );
    assert_eq!(
        t.get("/models/alice/three").await.status(),
        StatusCode::NOT_FOUND
    );
    // Bob has his own quota.
    t.push_ok(
        &bob,
        "bob/m",
        &[("README.md", readme.clone()), ("b.bin", other.clone())],
        None,
    )
    .await;
    // Small files still fit under alice's quota.
    t.upload(&alice, b"tiny").await;
    let res = t
        .post_json(
            &alice,
            "/models/alice/four/commits",
            &json!({"parent": null, "message": "m",
            "files": [commit_file("README.md", &readme), commit_file("small.txt", b"tiny")]}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
}
