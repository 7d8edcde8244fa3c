//! CAS tokens follow the rules of every other surface: private models look
//! missing, gates hold, write needs the write role, a read token cannot write,
//! a token dies with its API token and with its caller's rights, and a token
//! for one model reveals nothing of another's files. Xorbs and xorb URLs grant
//! nothing by name (`dedup.rs`: who may build on whose xorbs).

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::common::{Backend, README, TestApp};
use super::harness::*;

const GATED_README: &str = "---\nlicense: apache-2.0\nextra_gated_prompt: agree\n---\n# Gated\n";

pub async fn cas_tokens_grant_no_more_than_their_caller_holds(backend: Backend) {
    let t = TestApp::start(backend).await;
    let (alice, write) = alice_with_model(&t).await;
    let bob = t.user("bob").await;
    let up = Upload::new(weights(50_000, 3), 20_000);
    send(&t, &write, &up).await;
    let res = commit(&t, &alice, "alice/x", "w.bin", &up).await;
    assert_eq!(res.status(), StatusCode::OK);
    let file = up.file_hash.hex();

    // Write tokens: only for writers, only with an API token.
    for (who, status) in [
        (Some(bob.as_str()), StatusCode::FORBIDDEN),
        (None, StatusCode::UNAUTHORIZED),
    ] {
        let res = token_response(&t, who, "alice/x", "write", "main").await;
        assert_eq!(res.status(), status, "{who:?}");
    }
    // A read token cannot upload.
    let read = cas_token(&t, Some(&bob), "alice/x", "read", "main").await;
    let res = post_xorb(&t, &read, &up.xorb_hash.hex(), &up.xorb).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = post_shard(&t, &read, &up.shard()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A forged or mangled token is 401.
    let forged = format!("{read}x");
    let res = reconstruction(&t, &forged, 2, &file, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = reconstruction(&t, "gx1.e30.AAAA", 2, &file, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = t
        .client
        .get(format!("{}/xet/v2/reconstructions/{file}", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // An expired one too.
    let mut claims = granary_server::xet::token::decode(&t.app, &read).unwrap();
    claims.exp = granary_core::time::now_secs() - 1;
    let expired = granary_server::xet::token::issue(&t.app, &claims).unwrap();
    let res = reconstruction(&t, &expired, 2, &file, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Who may name whose xorbs in a shard is dedup.rs's. Bob's read token for
    // his own model cannot reach alice's file.
    t.push_ok(
        &bob,
        "bob/y",
        &[("README.md", README.as_bytes().to_vec())],
        None,
    )
    .await;
    let bob_read = cas_token(&t, Some(&bob), "bob/y", "read", "main").await;
    let res = reconstruction(&t, &bob_read, 2, &file, None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Xorb URLs grant exactly their range, until they expire.
    let answer: Value = reconstruction(&t, &read, 2, &file, Some("bytes=0-100"))
        .await
        .json()
        .await
        .unwrap();
    let fetch = &answer["xorbs"][up.xorb_hash.hex()][0];
    let url = fetch["url"].as_str().unwrap();
    let end = fetch["ranges"][0]["bytes"]["end"].as_u64().unwrap();
    let res = t
        .client
        .get(url)
        .header("range", format!("bytes=0-{}", end + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "wider than granted");
    let widened = url.replace(
        &format!("end={}", end + 1),
        &format!("end={}", up.xorb.len()),
    );
    assert_ne!(widened, url);
    let res = t.client.get(&widened).send().await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "a URL edited to grant more"
    );
    let res = t.client.get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Made private: bob's token stops working at once, and new ones are refused as missing.
    let res = t
        .settings(&alice, "alice/x", &json!({"private": true}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = reconstruction(&t, &read, 2, &file, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    for who in [Some(bob.as_str()), None] {
        let res = token_response(&t, who, "alice/x", "read", "main").await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{who:?}");
    }
    // Alice still reads; once her API token is revoked, her CAS token dies with it.
    let mine = cas_token(&t, Some(&alice), "alice/x", "read", "main").await;
    assert_eq!(
        reconstruction(&t, &mine, 2, &file, None).await.status(),
        StatusCode::OK
    );
    let id = granary_server::xet::token::decode(&t.app, &mine)
        .unwrap()
        .token
        .unwrap();
    let res = t
        .client
        .delete(t.api(&format!("/tokens/{id}")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        reconstruction(&t, &mine, 2, &file, None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // A gated model: no read token until the license is accepted.
    let carol = t.user("carol").await;
    t.push_ok(
        &carol,
        "carol/g",
        &[("README.md", GATED_README.as_bytes().to_vec())],
        None,
    )
    .await;
    let res = t.settings(&carol, "carol/g", &json!({"gated": true})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let dave = t.user("dave").await;
    let res = token_response(&t, Some(&dave), "carol/g", "read", "main").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = t
        .post_json(&dave, "/models/carol/g/license/accept", &json!({}))
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    cas_token(&t, Some(&dave), "carol/g", "read", "main").await;
    t.assert_fsck_clean().await;
}
