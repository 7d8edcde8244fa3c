//! The bad-input corpus of connections, rate limits and sessions
//! (docs/SECURITY.md, "Connections, rate limits and sessions"): each attack
//! is tried as an attacker would and must be refused with a clear answer in
//! the API's JSON error shape, leaving nothing changed.

mod common;

use common::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::Value;

/// Asserts a client error with the JSON error shape; returns the body.
async fn client_error(res: reqwest::Response, status: StatusCode) -> Value {
    let got = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert!(
        v["error"].as_str().is_some_and(|e| !e.is_empty()),
        "no error sentence: {text}"
    );
    assert!(v["code"].as_str().is_some(), "no code: {text}");
    v
}

on_every_backend!(stats_are_for_server_admins);

/// `GET /api/v1/stats` tells how much this server moves: server administrators only.
async fn stats_are_for_server_admins(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let stats = t.api("/stats");
    let v = client_error(
        t.client.get(&stats).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(v["code"], "unauthorized");
    let v = client_error(
        t.client
            .get(&stats)
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("server administrators"),
        "{v}"
    );
    // An administrator's token limited to one namespace is not a server administrator's.
    let admin = t.admin_token().await;
    let res = t
        .post_json(
            &admin,
            "/tokens",
            &serde_json::json!({"scope": "read", "owner": "alice"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let limited: Value = res.json().await.unwrap();
    let res = t
        .client
        .get(&stats)
        .bearer_auth(limited["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    client_error(res, StatusCode::FORBIDDEN).await;
    // A read token of the administrator is enough to read them.
    let res = t
        .post_json(&admin, "/tokens", &serde_json::json!({"scope": "read"}))
        .await;
    let read: Value = res.json().await.unwrap();
    let res = t
        .client
        .get(&stats)
        .bearer_auth(read["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert!(v["blob_bytes_received"].is_u64(), "{v}");
    assert_eq!(t.stats().await["file_requests"], 0);
}
