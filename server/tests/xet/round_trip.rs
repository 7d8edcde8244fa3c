//! A Xet upload is checked, stored as an ordinary blob, committed by SHA-256,
//! and downloads back both ways: natively and through reconstructions.

use reqwest::StatusCode;
use serde_json::Value;

use super::common::{Backend, TestApp};
use super::harness::*;

pub async fn a_xet_upload_becomes_an_ordinary_blob_and_downloads_back(backend: Backend) {
    let t = TestApp::start(backend).await;
    let (alice, cas) = alice_with_model(&t).await;
    let up = Upload::new(weights(300_000, 1), 40_000);
    let res = post_xorb(&t, &cas, &up.xorb_hash.hex(), &up.xorb).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["was_inserted"], true);
    // The same xorb again is accepted, and not stored twice.
    let res = post_xorb(&t, &cas, &up.xorb_hash.hex(), &up.xorb).await;
    assert_eq!(res.json::<Value>().await.unwrap()["was_inserted"], false);
    let res = post_shard(&t, &cas, &up.shard()).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    assert_eq!(res.json::<Value>().await.unwrap()["result"], 1);
    // Until a commit names it, the blob is in no revision.
    assert_eq!(
        t.download("alice/x", "main", "w.bin").await.status(),
        StatusCode::NOT_FOUND
    );
    let res = commit(&t, &alice, "alice/x", "w.bin", &up).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    // Natively, an ordinary file.
    let res = t.download("alice/x", "main", "w.bin").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &up.data[..]);
    // On the Hub surface, /resolve names its Xet file and where to get a read token.
    let res = t
        .client
        .head(format!("{}/alice/x/resolve/main/w.bin", t.url))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let file = up.file_hash.hex();
    assert_eq!(res.headers()["x-xet-hash"].to_str().unwrap(), file);
    let link = res.headers()["link"].to_str().unwrap().to_string();
    assert!(
        link.contains("/api/models/alice/x/xet-read-token/") && link.contains("xet-auth"),
        "{link}"
    );
    assert_eq!(
        res.headers()["x-linked-etag"].to_str().unwrap(),
        format!("\"{}\"", up.sha256.hex())
    );
    // A file that did not come over Xet has no Xet headers.
    let res = t
        .client
        .head(format!("{}/alice/x/resolve/main/README.md", t.url))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("x-xet-hash").is_none());
    // The tree lists the Xet file hash of that file only, as the Hub does.
    let tree: Value = t
        .client
        .get(format!("{}/api/models/alice/x/tree/main", t.url))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = |path: &str| {
        tree.as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"] == path)
            .unwrap()
            .clone()
    };
    assert_eq!(entry("w.bin")["xetHash"], file.as_str());
    assert!(entry("README.md").get("xetHash").is_none());
    // Through reconstructions, whole and in part, v2 and v1.
    let read = cas_token(&t, Some(&alice), "alice/x", "read", "main").await;
    let res = reconstruction(&t, &read, 2, &file, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(rebuild_v2(&t, &answer, up.data.len()).await, up.data);
    let res = reconstruction(&t, &read, 2, &file, Some("bytes=100000-170000")).await;
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["offset_into_first_range"], 100_000 - 80_000);
    assert_eq!(answer["terms"].as_array().unwrap().len(), 1);
    assert_eq!(
        rebuild_v2(&t, &answer, 70_001).await,
        &up.data[100_000..=170_000]
    );
    let res = reconstruction(&t, &read, 1, &file, Some("bytes=0-10")).await;
    let v1: Value = res.json().await.unwrap();
    let fetch = &v1["fetch_info"][up.xorb_hash.hex()][0];
    assert_eq!(fetch["range"]["start"], 0);
    assert_eq!(fetch["range"]["end"], 1);
    assert!(fetch["url"].as_str().unwrap().contains("/xet/data/"));
    // Past the end: 416, which the client reads as "done".
    let res = reconstruction(&t, &read, 2, &file, Some("bytes=300000-")).await;
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    t.assert_fsck_clean().await;
}

/// A term whose chunks unpack to more than one rebuild batch (4 MiB) is rebuilt
/// exactly across batches.
pub async fn a_term_larger_than_a_rebuild_batch_is_rebuilt_exactly(backend: Backend) {
    let t = TestApp::start(backend).await;
    let (alice, cas) = alice_with_model(&t).await;
    let up = Upload::new(weights(9 * 1024 * 1024 + 777, 41), 128 * 1024);
    send(&t, &cas, &up).await;
    assert_eq!(
        commit(&t, &alice, "alice/x", "big.bin", &up).await.status(),
        StatusCode::OK
    );
    let res = t.download("alice/x", "main", "big.bin").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &up.data[..]);
}
