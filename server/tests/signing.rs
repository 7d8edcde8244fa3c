//! Every revision is signed with the registry's key (docs/SIGNING.md): the
//! bundle verifies against the key `GET /api/v1/keys` serves and covers exactly
//! the revision's files; revisions older than signing are signed at start-up;
//! a replica with another key refuses to start unless asked to rotate, and
//! rotation keeps old signatures verifiable. The real `model_signing` tool
//! checks pulled models in tests/hf.

mod common;

use common::{Backend, README, TestApp};
use granary_core::Sha256;
use granary_core::signing::Bundle;
use granary_server::App;
use granary_server::signing::start;
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
    let key = VerifyingKey::from_public_key_pem(pem).unwrap();
    let (signed, der) = bundle.signed_parts().unwrap();
    let sig = Signature::from_der(&der).unwrap();
    key.verify(&signed, &sig).expect("the signature verifies");
    assert_eq!(
        bundle.verification_material.public_key.hint,
        granary_core::signing::key_id(pem)
    );
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
    // A replica starting on the same database and key signs it.
    let replica = App::open(t.app.config.clone()).await.unwrap();
    start(&replica).await.unwrap();
    let bundle: Bundle = signature(&t, None, "alice/m", &rev)
        .await
        .json()
        .await
        .unwrap();
    verify(&bundle, &first_pem);

    // A replica with another key refuses to start...
    let other = t.dir.path().join("other-key.pem");
    let key = granary_server::signing::RegistryKey::generated();
    std::fs::write(&other, key_pem(&key)).unwrap();
    let mut config = t.app.config.clone();
    config.signing.key = Some(other.clone());
    let other_app = App::open(config.clone()).await.unwrap();
    let err = start(&other_app).await.unwrap_err().to_string();
    assert!(err.contains("--rotate-signing-key"), "{err}");
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
);
