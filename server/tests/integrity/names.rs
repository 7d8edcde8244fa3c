//! Existence oracles and names: commits and Git LFS upload URLs for a model the
//! caller cannot see answer exactly as for a missing one; LFS upload URLs stop
//! working with their token; ref names cannot pose as revision ids.

use granary_core::Sha256;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::common::{Backend, README, TestApp, commit_file};

/// Status and body, with the model's name blanked.
async fn answer(res: reqwest::Response, name: &str) -> (StatusCode, String) {
    let status = res.status();
    let text = res.text().await.unwrap().replace(name, "NAME");
    // Request ids differ per request.
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v.to_string())
}

pub async fn commits_to_unseen_models_answer_as_missing(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let readme = README.as_bytes().to_vec();
    let res = t
        .push(
            &bob,
            "bob/secret",
            &[("README.md", readme.clone())],
            None,
            json!({"private": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    t.upload(&alice, &readme).await;
    let body =
        json!({"parent": null, "message": "m", "files": [commit_file("README.md", &readme)]});
    for token in [Some(alice.as_str()), None] {
        let send = |model: &str| {
            let req = t
                .client
                .post(t.api(&format!("/models/bob/{model}/commits")))
                .json(&body);
            match token {
                Some(tok) => req.bearer_auth(tok),
                None => req,
            }
            .send()
        };
        let private = answer(send("secret").await.unwrap(), "secret").await;
        let missing = answer(send("missing").await.unwrap(), "missing").await;
        assert_eq!(private, missing, "token: {token:?}");
        let want = if token.is_some() {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(private.0, want);
    }
    // The Hub commit too.
    let lines = [json!({"key": "header", "value": {"summary": "x"}})];
    let private = answer(t.hub_commit(&alice, "bob/secret", &lines).await, "secret").await;
    let missing = answer(t.hub_commit(&alice, "bob/missing", &lines).await, "missing").await;
    assert_eq!(private, missing);
    // Nothing changed in bob's model.
    let v: Value = t
        .client
        .get(t.api("/models/bob/secret/refs"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["branches"].as_array().unwrap().len(), 1);
    t.assert_fsck_clean().await;
}

/// The upload href of one object of a Git LFS batch for `model`.
async fn upload_url(t: &TestApp, token: &str, model: &str, bytes: &[u8]) -> String {
    let v = t
        .lfs_batch_one(token, model, &Sha256::of(bytes), bytes.len())
        .await;
    v["actions"]["upload"]["href"]
        .as_str()
        .unwrap_or_else(|| panic!("no upload action: {v}"))
        .to_string()
}

pub async fn lfs_upload_urls_die_with_their_token_and_reveal_nothing(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let readme = README.as_bytes().to_vec();
    t.push_ok(&alice, "alice/m", &[("README.md", readme.clone())], None)
        .await;
    let res = t
        .push(
            &bob,
            "bob/secret",
            &[("README.md", readme.clone())],
            None,
            json!({"private": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = t
        .post_json(&alice, "/tokens", &json!({"scope": "write"}))
        .await
        .json()
        .await
        .unwrap();
    let (token, token_id) = (
        v["token"].as_str().unwrap().to_string(),
        v["id"].as_str().unwrap().to_string(),
    );

    // A URL works while its token lives; the bytes count as alice's upload.
    let first = b"first object".to_vec();
    let url = upload_url(&t, &token, "alice/m", &first).await;
    assert_eq!(
        t.client
            .put(&url)
            .body(first.clone())
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let lines = [
        json!({"key": "header", "value": {"summary": "lfs"}}),
        json!({"key": "lfsFile", "value": {"path": "first.bin", "algo": "sha256", "oid": Sha256::of(&first).hex()}}),
    ];
    let res = t.hub_commit(&alice, "alice/m", &lines).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );

    // Revoking the token kills the URLs it was given.
    let second = b"second object".to_vec();
    let url = upload_url(&t, &token, "alice/m", &second).await;
    let res = t
        .client
        .delete(t.api(&format!("/tokens/{token_id}")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = t
        .client
        .put(&url)
        .body(second.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("revoked"));
    assert!(
        granary_server::db::blobs::find(&t.app.db, &Sha256::of(&second))
            .await
            .unwrap()
            .is_none()
    );

    // A forged URL reveals nothing: a private model answers like a missing one.
    let oid = Sha256::of(b"x").hex();
    let forged = |model: &str| {
        format!(
            "{}/api/hf-lfs/bob/{model}/{oid}/1?chunk=0&exp=99999999999&tok=t&sig=00",
            t.url
        )
    };
    for method in [reqwest::Method::PUT, reqwest::Method::POST] {
        let private = answer(
            t.client
                .request(method.clone(), forged("secret"))
                .body("x")
                .send()
                .await
                .unwrap(),
            "secret",
        )
        .await;
        let missing = answer(
            t.client
                .request(method.clone(), forged("missing"))
                .body("x")
                .send()
                .await
                .unwrap(),
            "missing",
        )
        .await;
        assert_eq!(private, missing, "{method}");
        assert_eq!(private.0, StatusCode::NOT_FOUND);
    }
    // A real URL with another size is as forged.
    let third = b"third".to_vec();
    let url = upload_url(&t, &alice, "alice/m", &third).await;
    let tampered = url.replace(&format!("/{}?", third.len()), "/4?");
    let res = t
        .client
        .put(&tampered)
        .body(b"thir".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    t.assert_fsck_clean().await;
}

pub async fn ref_names_that_look_like_revision_ids_are_refused(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let rev = t
        .push_ok(
            &alice,
            "alice/m",
            &[("README.md", README.as_bytes().to_vec())],
            None,
        )
        .await;
    let put_tag = |name: String| {
        t.client
            .put(t.api(&format!("/models/alice/m/tags/{name}")))
            .bearer_auth(&alice)
            .json(&json!({"revision": "main"}))
            .send()
    };
    for name in [
        "0123456789ab".to_string(),
        rev[..12].to_string(),
        rev[..40].to_string(),
        "DEADBEEFCAFE".into(),
    ] {
        let res = put_tag(name.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "tag {name}");
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("looks like a revision id")
        );
        let res = t
            .client
            .post(format!("{}/api/models/alice/m/tag/main", t.url))
            .bearer_auth(&alice)
            .json(&json!({"tag": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "Hub tag {name}");
        let res = t
            .client
            .post(format!("{}/api/models/alice/m/branch/{name}", t.url))
            .bearer_auth(&alice)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "Hub branch {name}");
        let res = t
            .post_json(
                &alice,
                "/models/alice/m/commits",
                &json!({"parent": null, "branch": name, "message": "m",
            "files": [commit_file("README.md", README.as_bytes())]}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "branch {name}");
    }
    // Ordinary names, short hex ones included, still work.
    assert!(put_tag("v1.0".into()).await.unwrap().status().is_success());
    assert!(put_tag("cafe".into()).await.unwrap().status().is_success());
    let v: Value = t.get("/models/alice/m/refs").await.json().await.unwrap();
    assert_eq!(v["tags"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["branches"].as_array().unwrap().len(), 1, "{v}");
}
