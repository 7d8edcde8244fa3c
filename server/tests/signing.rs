//! Every revision is signed with the registry's key (docs/SIGNING.md): the
//! bundle verifies against the key `GET /api/v1/keys` serves and covers exactly
//! the revision's files; revisions older than signing are signed at start-up;
//! a replica with another key refuses to start unless asked to rotate, and
//! rotation keeps old signatures verifiable. The real `model_signing` tool
//! checks pulled models in tests/hf.

mod common;

use common::{Backend, README, TestApp};
use granary_core::Sha256;
use granary_core::api::{LogConsistency, RevisionLogProof, SignedTreeHead};
use granary_core::log::LogEntry;
use granary_core::signing::Bundle;
use granary_server::App;
use granary_server::publish::signatures::start;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn keys(t: &TestApp) -> Vec<Value> {
    let v: Value = t.get("/keys").await.json().await.unwrap();
    v["keys"].as_array().unwrap().clone()
}

async fn signature(t: &TestApp, token: Option<&str>, model: &str, rev: &str) -> reqwest::Response {
    let mut req = t
        .client
        .get(t.api(&format!("/models/{model}/revisions/{rev}/signature")));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

/// Checks `bundle` against the PEM key, returning what it covers.
fn verify(bundle: &Bundle, pem: &str) -> granary_core::signing::Signed {
    common::verify_bundle(bundle, pem);
    bundle.contents().unwrap()
}

async fn revisions_are_signed_with_the_served_key(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let files = vec![
        ("README.md", README.as_bytes().to_vec()),
        (".gitattributes", b"*.bin filter=lfs\n".to_vec()),
        ("sub/w.bin", vec![7u8; 5000]),
    ];
    let rev = t.push_ok(&alice, "alice/m", &files, None).await;

    let keys = keys(&t).await;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["status"], "current");
    let pem = keys[0]["public_key_pem"].as_str().unwrap();
    assert_eq!(keys[0]["id"], granary_core::signing::key_id(pem));

    let res = signature(&t, None, "alice/m", "main").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-granary-revision"], rev.as_str());
    let bundle: Bundle = res.json().await.unwrap();
    let signed = verify(&bundle, pem);
    assert_eq!(signed.subject, format!("alice/m@{rev}"));
    // Every file but the git file `model_signing` ignores, sorted.
    let want: Vec<(String, Sha256)> = vec![
        ("README.md".into(), Sha256::of(README.as_bytes())),
        ("sub/w.bin".into(), Sha256::of(&[7u8; 5000])),
    ];
    let got: Vec<(String, Sha256)> = signed
        .files
        .iter()
        .map(|f| (f.path.clone(), f.sha256))
        .collect();
    assert_eq!(got, want);
    // By revision id too, and the same bytes every time.
    let again = signature(&t, None, "alice/m", &rev)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(again, serde_json::to_string_pretty(&bundle).unwrap());

    // A tampered bundle does not verify.
    let mut tampered = bundle.clone();
    let mut payload: Value =
        serde_json::from_slice(&base64_decode(&tampered.dsse_envelope.payload)).unwrap();
    payload["subject"][0]["name"] = json!("alice/m@other");
    tampered.dsse_envelope.payload = base64_encode(&serde_json::to_vec(&payload).unwrap());
    let key = VerifyingKey::from_public_key_pem(pem).unwrap();
    let (signed, der) = tampered.signed_parts().unwrap();
    assert!(
        key.verify(&signed, &Signature::from_der(&der).unwrap())
            .is_err()
    );

    // Signatures are read as manifests are: a private model's look missing to others.
    let bob = t.user("bob").await;
    let res = t
        .settings(&alice, "alice/m", &json!({"private": true}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    for who in [None, Some(bob.as_str())] {
        let res = signature(&t, who, "alice/m", "main").await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{who:?}");
    }
    assert_eq!(
        signature(&t, Some(&alice), "alice/m", "main")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        signature(&t, Some(&alice), "alice/m", "nosuchref")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // A revision committed over the Hub API is signed alike.
    let res = t
        .hub_commit(
            &alice,
            "alice/m",
            &[
                json!({"key": "header", "value": {"summary": "hub"}}),
                json!({"key": "file", "value": {"path": "notes.txt", "content": "aGk=", "encoding": "base64"}}),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let bundle: Bundle = signature(&t, Some(&alice), "alice/m", "main")
        .await
        .json()
        .await
        .unwrap();
    let signed = verify(&bundle, pem);
    assert!(signed.files.iter().any(|f| f.path == "notes.txt"));
    assert_ne!(signed.revision(), Some(rev.as_str()));
}

async fn old_revisions_are_signed_at_start_and_keys_rotate(backend: Backend) {
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
    let first_pem = keys(&t).await[0]["public_key_pem"]
        .as_str()
        .unwrap()
        .to_string();
    // As if the revision predated signing.
    sqlx::query("DELETE FROM revision_signatures")
        .execute(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        signature(&t, None, "alice/m", &rev).await.status(),
        StatusCode::NOT_FOUND
    );
    // fsck names it.
    let opts = granary_server::maintenance::fsck::FsckOptions {
        repair: false,
        deep: false,
        grace_ms: 0,
    };
    let report = granary_server::maintenance::fsck::check(&t.app, opts)
        .await
        .unwrap();
    let found: Vec<(&str, String)> = report
        .problems
        .iter()
        .map(|p| (p.kind, p.subject.clone()))
        .collect();
    assert_eq!(found, [("signature", format!("alice/m@{rev}"))]);
    // A replica starting on the same database and key signs it.
    let replica = App::open(t.app.config.clone()).await.unwrap();
    start(&replica).await.unwrap();
    let bundle: Bundle = signature(&t, None, "alice/m", &rev)
        .await
        .json()
        .await
        .unwrap();
    verify(&bundle, &first_pem);
    t.assert_fsck_clean().await;

    // A replica with another key refuses to start...
    let other = t.dir.path().join("other-key.pem");
    let key = granary_server::signing::RegistryKey::generated();
    std::fs::write(&other, key_pem(&key)).unwrap();
    let mut config = t.app.config.clone();
    config.signing.key = Some(other.clone());
    let other_app = App::open(config.clone()).await.unwrap();
    let err = start(&other_app).await.unwrap_err().to_string();
    assert!(err.contains("--rotate-signing-key"), "{err}");
    // A verification worker with that key would sign attestations nobody can
    // check with the registry's key: it stops at once instead of taking jobs.
    let worker = granary_server::verification::Worker::new(std::sync::Arc::new(other_app));
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        worker.run(std::future::pending::<()>()),
    )
    .await
    .expect("the worker stops");
    // ...unless told to rotate: the old key is then retired and still served.
    config.signing.rotate = true;
    let rotated = App::open(config).await.unwrap();
    start(&rotated).await.unwrap();
    let keys = keys(&t).await;
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["status"], "current");
    assert_eq!(keys[0]["id"], rotated.signing_key.id);
    assert_eq!(keys[1]["status"], "retired");
    assert_eq!(keys[1]["public_key_pem"], first_pem.as_str());
    // The old signature still verifies with the retired key.
    verify(&bundle, &first_pem);
    // The old key may not come back unasked.
    let old = App::open(t.app.config.clone()).await.unwrap();
    let err = start(&old).await.unwrap_err().to_string();
    assert!(err.contains("not the registry's current key"), "{err}");
}

/// Checks a signed tree head's signature with the PEM key.
fn verify_head(head: &SignedTreeHead, pem: &str) {
    let key = VerifyingKey::from_public_key_pem(pem).unwrap();
    let signed = SignedTreeHead::signed_bytes(head.tree_size, &head.root_hash, head.timestamp);
    let sig = Signature::from_der(&base64_decode(&head.signature)).unwrap();
    key.verify(&signed, &sig)
        .expect("the head's signature verifies");
    assert_eq!(head.key_id, granary_core::signing::key_id(pem));
}

async fn log_proof(t: &TestApp, token: Option<&str>, model: &str, rev: &str) -> reqwest::Response {
    let mut req = t
        .client
        .get(t.api(&format!("/models/{model}/revisions/{rev}/log")));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

/// Every signed revision is a leaf of the log, in commit order, whatever the
/// concurrency; proofs of inclusion and consistency check against signed heads.
async fn the_log_holds_every_revision_once_in_one_history(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let pem = keys(&t).await[0]["public_key_pem"]
        .as_str()
        .unwrap()
        .to_string();
    let first = t
        .push_ok(
            &alice,
            "alice/a",
            &[("README.md", README.as_bytes().to_vec())],
            None,
        )
        .await;
    let early: SignedTreeHead = t.get("/log/head").await.json().await.unwrap();
    verify_head(&early, &pem);
    assert_eq!(early.tree_size, 1);

    // Racing pushes to eight models: one linear history, no gaps, no repeats.
    let pushes = (0..8).map(|i| {
        let (t, alice) = (&t, &alice);
        async move {
            let readme = format!("{README}\nmodel {i}\n");
            let model = format!("alice/m{i}");
            let rev = t
                .push_ok(alice, &model, &[("README.md", readme.into_bytes())], None)
                .await;
            (model, rev)
        }
    });
    let mut revisions = futures::future::join_all(pushes).await;
    revisions.push(("alice/a".into(), first.clone()));
    let head: SignedTreeHead = t.get("/log/head").await.json().await.unwrap();
    verify_head(&head, &pem);
    assert_eq!(head.tree_size, 9);
    let mut indices = Vec::new();
    for (model, rev) in &revisions {
        let proof: RevisionLogProof = log_proof(&t, Some(&alice), model, rev)
            .await
            .json()
            .await
            .unwrap();
        verify_head(&proof.head, &pem);
        proof
            .head
            .verify_inclusion(&proof.leaf, proof.leaf_index, &proof.proof)
            .expect("included");
        let entry: LogEntry = serde_json::from_str(&proof.leaf).unwrap();
        assert_eq!((&entry.model, &entry.revision), (model, rev));
        let bundle = signature(&t, Some(&alice), model, rev)
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(entry.signature_sha256, Sha256::of(&bundle).hex());
        // Another leaf at the same index does not check.
        let mut forged = entry.clone();
        forged.revision = "0".repeat(64);
        assert!(
            proof
                .head
                .verify_inclusion(&forged.leaf(), proof.leaf_index, &proof.proof)
                .is_err()
        );
        indices.push(proof.leaf_index);
    }
    indices.sort();
    assert_eq!(indices, (0..9).collect::<Vec<u64>>());
    // The first revision is the first leaf.
    let proof: RevisionLogProof = log_proof(&t, None, "alice/a", &first)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(proof.leaf_index, 0);

    // The early head is a prefix of the new one; a forged early root is not.
    let c: LogConsistency = t.get("/log/consistency?from=1").await.json().await.unwrap();
    verify_head(&c.head, &pem);
    c.head
        .verify_consistency(early.tree_size, &early.root_hash, &c.proof)
        .expect("consistent");
    assert!(
        c.head
            .verify_consistency(early.tree_size, &"ab".repeat(32), &c.proof)
            .is_err()
    );
    // One answer can prove a revision's inclusion and the log's growth since a
    // head the client saw, against the same signed head.
    let both: RevisionLogProof = t
        .get(&format!(
            "/models/alice/m3/revisions/main/log?from={}",
            early.tree_size
        ))
        .await
        .json()
        .await
        .unwrap();
    let consistency = both.consistency.as_ref().expect("a consistency proof");
    both.head
        .verify_consistency(early.tree_size, &early.root_hash, consistency)
        .expect("consistent");
    both.head
        .verify_inclusion(&both.leaf, both.leaf_index, &both.proof)
        .expect("included");
    // A client that saw a longer log than this one is told so.
    let res = t.get("/log/consistency?from=100").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // A private model's entries look missing to others; the head stays public.
    let res = t
        .settings(&alice, "alice/a", &json!({"private": true}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let bob = t.user("bob").await;
    for who in [None, Some(bob.as_str())] {
        let res = log_proof(&t, who, "alice/a", &first).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{who:?}");
    }
    assert_eq!(t.get("/log/head").await.status(), StatusCode::OK);
}

fn key_pem(key: &granary_server::signing::RegistryKey) -> String {
    key.private_pem()
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

on_every_backend!(
    revisions_are_signed_with_the_served_key,
    old_revisions_are_signed_at_start_and_keys_rotate,
    the_log_holds_every_revision_once_in_one_history,
);
