//! Quotas that an attacker cannot dodge: bytes are reserved when an upload
//! opens, uploads in flight are capped per user, and an organisation draws on
//! its creator's quota.

use granary_core::Sha256;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::common::{Backend, README, TestApp, f32_bytes};

async fn open(t: &TestApp, token: &str, bytes: &[u8]) -> (StatusCode, Value) {
    let res = t
        .post_json(
            token,
            "/uploads",
            &json!({"sha256": Sha256::of(bytes), "size": bytes.len()}),
        )
        .await;
    (res.status(), res.json().await.unwrap())
}

async fn declared(t: &TestApp, token: &str, sha: &str, size: u64) -> (StatusCode, Value) {
    let res = t
        .post_json(token, "/uploads", &json!({"sha256": sha, "size": size}))
        .await;
    (res.status(), res.json().await.unwrap())
}

pub async fn uploads_reserve_quota_and_sessions_are_capped(backend: Backend) {
    // The storage quota counts sessions in progress and uploads not committed.
    let t = TestApp::start_with(backend, |c| c.limits.owner_quota_bytes = 1_000_000).await;
    let alice = t.user("alice").await;
    let a = f32_bytes(150_000, 1); // 600 kB
    let b = f32_bytes(150_000, 2);
    assert_eq!(open(&t, &alice, &a).await.0, StatusCode::OK);
    let (status, v) = open(&t, &alice, &b).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert!(v["error"].as_str().unwrap().contains("in progress"), "{v}");
    // The same session again is no new reservation.
    assert_eq!(open(&t, &alice, &a).await.0, StatusCode::OK);
    t.upload(&alice, &a).await;
    let (status, v) = open(&t, &alice, &b).await;
    assert_eq!(
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "uploaded but uncommitted bytes count: {v}"
    );
    assert!(
        v["error"].as_str().unwrap().contains("not yet committed"),
        "{v}"
    );
    // Another user is not affected.
    let bob = t.user("bob").await;
    assert_eq!(open(&t, &bob, &b).await.0, StatusCode::OK);
    let blobs: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM blobs")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(blobs.0, 1, "only alice's first upload was stored");

    // Open sessions and the bytes they declare are capped per user, quota or not.
    let t = TestApp::start_with(backend, |c| {
        c.uploads.max_open_uploads = 3;
        c.uploads.max_staged_bytes = 13 << 30;
    })
    .await;
    let alice = t.user("alice").await;
    let fake = |i: u8| Sha256::of(&[i]).hex();
    for i in 0..3 {
        assert_eq!(
            declared(&t, &alice, &fake(i), 4 << 30).await.0,
            StatusCode::OK
        );
    }
    let (status, v) = declared(&t, &alice, &fake(9), 1).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("max_open_uploads"),
        "{v}"
    );
    let (_, first) = declared(&t, &alice, &fake(0), 4 << 30).await;
    let res = t
        .client
        .delete(t.api(&format!("/uploads/{}", first["id"].as_str().unwrap())))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // 8 GiB declared: 6 GiB more would pass the 13 GiB of max_staged_bytes.
    let (status, v) = declared(&t, &alice, &fake(9), 6 << 30).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("max_staged_bytes"),
        "{v}"
    );
    assert_eq!(
        declared(&t, &alice, &fake(9), 1 << 30).await.0,
        StatusCode::OK
    );
    let sessions: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM upload_sessions")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(sessions.0, 3);
}

pub async fn organisations_do_not_multiply_a_quota(backend: Backend) {
    let t = TestApp::start_with(backend, |c| c.limits.owner_quota_bytes = 10_000).await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let readme = README.as_bytes().to_vec();
    t.push_ok(
        &alice,
        "alice/a",
        &[("README.md", readme.clone()), ("a.bin", vec![b'a'; 6000])],
        None,
    )
    .await;
    for org in ["team1", "team2"] {
        assert_eq!(
            t.post_json(&alice, "/orgs", &json!({"name": org}))
                .await
                .status(),
            StatusCode::CREATED
        );
    }
    // Alice cannot stage 6,000 more bytes, whichever of her organisations they are for.
    let (status, v) = open(&t, &alice, &[b'b'; 6000]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    // Bob, a writer of team1, uploads 6,000 bytes under his own quota, but committing them
    // to team1 draws on alice's account, which is full.
    let res = t
        .client
        .put(t.api("/orgs/team1/members/bob"))
        .bearer_auth(&alice)
        .json(&json!({"role": "write"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = t
        .push(
            &bob,
            "team1/x",
            &[("README.md", readme.clone()), ("b.bin", vec![b'b'; 6000])],
            None,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = res.json().await.unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("its creator `alice`"),
        "{v}"
    );
    assert_eq!(
        t.get("/models/team1/x").await.status(),
        StatusCode::NOT_FOUND
    );
    // Under his own name the same bytes fit.
    t.push_ok(
        &bob,
        "bob/x",
        &[("README.md", readme.clone()), ("b.bin", vec![b'b'; 6000])],
        None,
    )
    .await;
}
