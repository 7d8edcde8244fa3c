//! Global dedup follows blob claiming's rule: a caller learns of a xorb, and
//! may build a file on it, only when it sent the xorb or may read a file built
//! from it. Answers key every chunk hash, so they tell a client only about
//! chunks it holds.

use std::io::Cursor;

use reqwest::StatusCode;
use serde_json::json;
use xet_core_structures::metadata_shard::shard_format::MDBShardInfo;

use super::common::{Backend, README, TestApp};
use super::harness::*;

async fn dedup_query(t: &TestApp, cas: &str, chunk: &str) -> reqwest::Response {
    t.client
        .get(format!("{}/xet/v1/chunks/default-merkledb/{chunk}", t.url))
        .bearer_auth(cas)
        .send()
        .await
        .unwrap()
}

pub async fn global_dedup_tells_only_of_xorbs_the_caller_holds_or_may_read(backend: Backend) {
    let t = TestApp::start(backend).await;
    let (alice, write) = alice_with_model(&t).await;
    let up = Upload::new(weights(90_000, 11), 20_000);
    send(&t, &write, &up).await;
    // The first chunk of a file is one a client may ask about.
    let first = up.chunk_hashes[0].hex();

    // The sender is told, with every chunk hash keyed under the answer's own key.
    let read = cas_token(&t, Some(&alice), "alice/x", "read", "main").await;
    let res = dedup_query(&t, &read, &first).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.bytes().await.unwrap();
    let info = MDBShardInfo::load_from_reader(&mut Cursor::new(&body[..])).unwrap();
    assert!(info.chunk_hashes_protected());
    let blocks = info
        .read_all_xorb_blocks_full(&mut Cursor::new(&body[..]))
        .unwrap();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].metadata.xorb_hash, up.xorb_hash);
    let listed: Vec<_> = blocks[0].chunks.iter().map(|c| c.chunk_hash).collect();
    let keyed: Vec<_> = up
        .chunk_hashes
        .iter()
        .map(|h| info.keyed_chunk_hash(h))
        .collect();
    assert_eq!(listed, keyed);
    for raw in &up.chunk_hashes {
        assert!(!listed.contains(raw), "a chunk hash left unkeyed");
    }
    // A second answer has another key.
    let again = dedup_query(&t, &read, &first).await.bytes().await.unwrap();
    let info2 = MDBShardInfo::load_from_reader(&mut Cursor::new(&again[..])).unwrap();
    assert_ne!(info.chunk_hmac_key(), info2.chunk_hmac_key());
    // Not a hash, and a chunk nobody stored.
    assert_eq!(
        dedup_query(&t, &read, "nothex").await.status(),
        StatusCode::BAD_REQUEST
    );
    let unknown = up.chunk_hashes[1].hex();
    assert_eq!(
        dedup_query(&t, &read, &unknown).await.status(),
        StatusCode::NOT_FOUND
    );

    // Bob may not read the file yet (alice has not committed it): he learns
    // nothing, and his shard may not build on her xorb though he knows the bytes.
    let bob = t.user("bob").await;
    t.push_ok(
        &bob,
        "bob/y",
        &[("README.md", README.as_bytes().to_vec())],
        None,
    )
    .await;
    let bob_read = cas_token(&t, Some(&bob), "bob/y", "read", "main").await;
    let bob_write = cas_token(&t, Some(&bob), "bob/y", "write", "main").await;
    assert_eq!(
        dedup_query(&t, &bob_read, &first).await.status(),
        StatusCode::NOT_FOUND
    );
    let res = post_shard(&t, &bob_write, &up.shard()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("not yours"));

    // Committed to a private model: still nothing for bob.
    let res = t
        .settings(&alice, "alice/x", &json!({"private": true}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        commit(&t, &alice, "alice/x", "w.bin", &up).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        dedup_query(&t, &bob_read, &first).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post_shard(&t, &bob_write, &up.shard()).await.status(),
        StatusCode::BAD_REQUEST
    );

    // Public: bob may read the file, so he is told of the xorb and may build
    // on it, with true verification hashes only.
    let res = t
        .settings(&alice, "alice/x", &json!({"private": false}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        dedup_query(&t, &bob_read, &first).await.status(),
        StatusCode::OK
    );
    let lying = up.shard_with(up.chunk_hashes[0], up.file_hash, &up.sha256);
    let res = post_shard(&t, &bob_write, &lying).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("verification hash"));
    let res = post_shard(&t, &bob_write, &up.shard()).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    assert_eq!(
        commit(&t, &bob, "bob/y", "copy.bin", &up).await.status(),
        StatusCode::OK
    );
    let got = t
        .client
        .get(format!("{}/bob/y/resolve/main/copy.bin", t.url))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), &up.data[..]);

    // An anonymous reader of the public model holds nothing and learns nothing.
    let anon = cas_token(&t, None, "alice/x", "read", "main").await;
    assert_eq!(
        dedup_query(&t, &anon, &first).await.status(),
        StatusCode::NOT_FOUND
    );
    t.assert_fsck_clean().await;
}
