//! Knowing a digest grants nothing: a blob can be named by digest only by
//! someone who sent its bytes or may already download a revision holding it,
//! and every existence answer follows the same rule.

use granary_core::Sha256;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::common::{Backend, README, TestApp, commit_file, f32_bytes};

fn readme() -> (&'static str, Vec<u8>) {
    ("README.md", README.as_bytes().to_vec())
}

/// The answer to `POST /uploads` with the caller-specific parts blanked, to compare two answers.
fn shape(mut v: Value) -> Value {
    for key in ["id", "sha256", "size", "part_count"] {
        v[key] = Value::Null;
    }
    v
}

/// The blobs among `digests` that `blobs/missing` says the caller need not send.
async fn present(t: &TestApp, token: &str, blobs: &[(&Sha256, usize)]) -> Vec<Sha256> {
    let asked: Vec<Value> = blobs
        .iter()
        .map(|(d, n)| json!({"sha256": d, "size": n}))
        .collect();
    let v: Value = t
        .post_json(token, "/blobs/missing", &json!({"blobs": asked}))
        .await
        .json()
        .await
        .unwrap();
    let missing: Vec<String> = v["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["sha256"].as_str().unwrap().to_string())
        .collect();
    blobs
        .iter()
        .map(|(d, _)| **d)
        .filter(|d| !missing.contains(&d.hex()))
        .collect()
}

/// A native commit to `model` naming `bytes` by digest (without uploading them).
async fn commit_by_digest(
    t: &TestApp,
    token: &str,
    model: &str,
    parent: Option<&str>,
    bytes: &[u8],
) -> reqwest::Response {
    let readme = README.as_bytes();
    let body = json!({"parent": parent, "message": "claim",
        "files": [commit_file("README.md", readme), commit_file("w.bin", bytes)]});
    t.post_json(token, &format!("/models/{model}/commits"), &body)
        .await
}

/// Every surface that takes content by digest refuses `secret`'s digest to alice the
/// same way it refuses a digest nobody stored.
async fn refused_everywhere(t: &TestApp, alice: &str, parent: &str, secret: &[u8]) {
    let never = f32_bytes(secret.len() / 4, 999);
    let (s, n) = (Sha256::of(secret), Sha256::of(&never));
    // Existence answers: missing, like bytes nobody has.
    assert!(
        present(t, alice, &[(&s, secret.len()), (&n, never.len())])
            .await
            .is_empty()
    );
    // An upload session is opened (the bytes must be sent), whatever size is declared.
    for size in [secret.len(), secret.len() + 1] {
        let a: Value = t
            .post_json(alice, "/uploads", &json!({"sha256": s, "size": size}))
            .await
            .json()
            .await
            .unwrap();
        let b: Value = t
            .post_json(alice, "/uploads", &json!({"sha256": n, "size": size}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(a["stored"], false, "{a}");
        assert_eq!(
            shape(a),
            shape(b),
            "opening an upload says nothing of what is stored"
        );
    }
    // Native commit.
    let a = commit_by_digest(t, alice, "alice/claim", Some(parent), secret).await;
    let b = commit_by_digest(t, alice, "alice/claim", Some(parent), &never).await;
    assert_eq!(
        (a.status(), b.status()),
        (StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST)
    );
    let (a, b) = (a.text().await.unwrap(), b.text().await.unwrap());
    assert_eq!(a.replace(&s.hex(), "X"), b.replace(&n.hex(), "X"));
    assert!(a.contains("not stored for you"), "{a}");
    // Hub commit: an `lfsFile` line with only an oid, and with a size.
    for with_size in [false, true] {
        let mut value = json!({"path": "w.bin", "algo": "sha256", "oid": s.hex()});
        if with_size {
            value["size"] = json!(secret.len());
        }
        let lines = [
            json!({"key": "header", "value": {"summary": "claim"}}),
            json!({"key": "lfsFile", "value": value}),
        ];
        let res = t.hub_commit(alice, "alice/claim", &lines).await;
        assert_eq!(
            res.status(),
            StatusCode::BAD_REQUEST,
            "{}",
            res.text().await.unwrap()
        );
    }
    // Git LFS batch: an upload is asked for, as for bytes nobody has.
    let object = t
        .lfs_batch_one(alice, "alice/claim", &s, secret.len())
        .await;
    assert!(
        object["actions"]["upload"]["href"].is_string(),
        "the bytes must be sent: {object}"
    );
    // Git LFS verify.
    let res = t
        .client
        .post(format!("{}/alice/claim.git/info/lfs/objects/verify", t.url))
        .bearer_auth(alice)
        .json(&json!({"oid": s.hex(), "size": secret.len()}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Nothing was published.
    let info: Value = t
        .client
        .get(t.api("/models/alice/claim"))
        .bearer_auth(alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["revision"]["id"], parent);
    assert_eq!(
        t.get("/models/alice/claim/files/main/w.bin").await.status(),
        StatusCode::NOT_FOUND
    );
}

pub async fn claiming_a_private_blob_by_digest_is_refused_everywhere(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let secret = f32_bytes(64 * 1024, 7);
    let res = t
        .push(
            &bob,
            "bob/secret",
            &[readme(), ("w.bin", secret.clone())],
            None,
            json!({"private": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let parent = t.push_ok(&alice, "alice/claim", &[readme()], None).await;
    refused_everywhere(&t, &alice, &parent, &secret).await;

    // A deleted model grants nothing either.
    let res = t
        .client
        .delete(t.api("/models/bob/secret"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    refused_everywhere(&t, &alice, &parent, &secret).await;

    // Bob sent those bytes: he may still name them (until collected).
    assert_eq!(
        present(&t, &bob, &[(&Sha256::of(&secret), secret.len())])
            .await
            .len(),
        1
    );

    // Alice sends the bytes herself: storage stays deduplicated, and now she may name them.
    let blobs_before: Vec<String> = t
        .object_keys()
        .await
        .into_iter()
        .filter(|k| k.starts_with("blobs/"))
        .collect();
    t.upload(&alice, &secret).await;
    let blobs_after: Vec<String> = t
        .object_keys()
        .await
        .into_iter()
        .filter(|k| k.starts_with("blobs/"))
        .collect();
    assert_eq!(
        blobs_before, blobs_after,
        "the duplicate was discarded, the stored copy kept"
    );
    let res = commit_by_digest(&t, &alice, "alice/claim", Some(&parent), &secret).await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let got = t
        .client
        .get(t.api("/models/alice/claim/files/main/w.bin"))
        .send()
        .await
        .unwrap();
    assert!(got.bytes().await.unwrap() == secret[..]);
    t.assert_fsck_clean().await;
}

pub async fn claims_follow_what_the_caller_may_download(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let (public, gated, org) = (f32_bytes(1000, 1), f32_bytes(1000, 2), f32_bytes(1000, 3));
    t.push_ok(
        &bob,
        "bob/open",
        &[readme(), ("w.bin", public.clone())],
        None,
    )
    .await;
    t.push_ok(
        &bob,
        "bob/gated",
        &[readme(), ("w.bin", gated.clone())],
        None,
    )
    .await;
    let res = t.settings(&bob, "bob/gated", &json!({"gated": true})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        t.post_json(&bob, "/orgs", &json!({"name": "acme"}))
            .await
            .status(),
        StatusCode::CREATED
    );
    let res = t
        .client
        .put(t.api("/orgs/acme/members/alice"))
        .bearer_auth(&bob)
        .json(&json!({"role": "read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = t
        .push(
            &bob,
            "acme/internal",
            &[readme(), ("w.bin", org.clone())],
            None,
            json!({"private": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let d = |b: &Vec<u8>| (Sha256::of(b), b.len());
    let (p, g, o) = (d(&public), d(&gated), d(&org));
    let all = [(&p.0, p.1), (&g.0, g.1), (&o.0, o.1)];
    // Public: anyone may name it. Gated: not before accepting the license. Private
    // organisation model: its members may.
    assert_eq!(present(&t, &alice, &all).await, vec![p.0, o.0]);
    let parent = t.push_ok(&alice, "alice/m", &[readme()], None).await;
    let res = commit_by_digest(&t, &alice, "alice/m", Some(&parent), &gated).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = t
        .client
        .post(t.api("/models/bob/gated/license/accept"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(present(&t, &alice, &all).await, vec![p.0, g.0, o.0]);
    let res = commit_by_digest(&t, &alice, "alice/m", Some(&parent), &gated).await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );

    // A token limited to alice's own namespace does not reach the organisation's private model.
    let v: Value = t
        .post_json(
            &alice,
            "/tokens",
            &json!({"scope": "write", "owner": "alice"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let limited = v["token"].as_str().unwrap().to_string();
    assert_eq!(present(&t, &limited, &all).await, vec![p.0, g.0]);
    // A stranger may name only public content: bob's public blob, and the gated one now
    // that alice published it in her public model.
    let carol = t.user("carol").await;
    assert_eq!(present(&t, &carol, &all).await, vec![p.0, g.0]);
    let carol_parent = t.push_ok(&carol, "carol/m", &[readme()], None).await;
    assert_eq!(
        commit_by_digest(&t, &carol, "carol/m", Some(&carol_parent), &public)
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        commit_by_digest(&t, &carol, "carol/other", None, &org)
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        t.get("/models/carol/other").await.status(),
        StatusCode::NOT_FOUND
    );
    t.assert_fsck_clean().await;
}
