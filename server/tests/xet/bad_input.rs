//! Xorbs and shards that lie are refused with a clear error, and nothing of
//! them is stored or becomes visible.

use granary_core::Sha256;
use reqwest::StatusCode;
use xet_core_structures::merklehash::MerkleHash;
use xet_core_structures::metadata_shard::chunk_verification::range_hash_from_chunks;
use xet_core_structures::xorb_object::{CompressionScheme, XorbChunkHeader, write_chunk_header};

use super::common::{Backend, TestApp, client_error};
use super::harness::*;

async fn xorb_rows(t: &TestApp) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM xet_xorbs")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    n
}

async fn blob_stored(t: &TestApp, sha: &Sha256) -> bool {
    granary_server::db::blobs::find(&t.app.db, sha)
        .await
        .unwrap()
        .is_some()
}

pub async fn bad_xorbs_and_shards_are_refused_and_nothing_is_stored(backend: Backend) {
    let t = TestApp::start(backend).await;
    let (alice, cas) = alice_with_model(&t).await;
    let up = Upload::new(weights(100_000, 7), 30_000);
    let objects_before = t.object_keys().await;

    // A xorb sent under another xorb's name.
    let other = Upload::new(weights(1000, 8), 500);
    let res = post_xorb(&t, &cas, &other.xorb_hash.hex(), &up.xorb).await;
    let e = client_error(res, StatusCode::BAD_REQUEST).await;
    assert!(e["error"].as_str().unwrap().contains("hash to"), "{e}");
    // Cut short, and with bytes after its chunks.
    let res = post_xorb(&t, &cas, &up.xorb_hash.hex(), &up.xorb[..up.xorb.len() - 3]).await;
    client_error(res, StatusCode::BAD_REQUEST).await;
    let mut trailing = up.xorb.clone();
    trailing.extend_from_slice(&[0, 1, 2]);
    let res = post_xorb(&t, &cas, &up.xorb_hash.hex(), &trailing).await;
    client_error(res, StatusCode::BAD_REQUEST).await;
    // A chunk that declares 10 bytes but inflates to 100,000 (a compression bomb).
    let big = vec![0u8; 100_000];
    let packed = CompressionScheme::LZ4
        .compress_from_slice(&big)
        .unwrap()
        .to_vec();
    let mut bomb = Vec::new();
    write_chunk_header(
        &mut bomb,
        &XorbChunkHeader::new(CompressionScheme::LZ4, packed.len() as u32, 10),
    )
    .unwrap();
    bomb.extend_from_slice(&packed);
    let res = post_xorb(&t, &cas, &MerkleHash::default().hex(), &bomb).await;
    let e = client_error(res, StatusCode::BAD_REQUEST).await;
    assert!(
        e["error"].as_str().unwrap().contains("declares 10 bytes"),
        "{e}"
    );
    // Not a hash at all.
    let res = post_xorb(&t, &cas, "nope", &up.xorb).await;
    client_error(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(xorb_rows(&t).await, 0, "no refused xorb is recorded");
    assert_eq!(t.object_keys().await, objects_before, "nor stored");

    // A shard naming a xorb nobody sent.
    let res = post_shard(&t, &cas, &up.shard()).await;
    let e = client_error(res, StatusCode::BAD_REQUEST).await;
    assert!(
        e["error"].as_str().unwrap().contains("upload it first"),
        "{e}"
    );
    // Garbage instead of a shard.
    let res = post_shard(&t, &cas, b"not a shard at all, not even close").await;
    client_error(res, StatusCode::BAD_REQUEST).await;

    // With the xorb sent: a shard whose verification hash lies, whose file hash
    // lies, or whose SHA-256 lies is refused, and no blob appears.
    let res = post_xorb(&t, &cas, &up.xorb_hash.hex(), &up.xorb).await;
    assert_eq!(res.status(), StatusCode::OK);
    let verification = range_hash_from_chunks(&up.chunk_hashes);
    let wrong = range_hash_from_chunks(&up.chunk_hashes[1..]);
    let lies = [
        (
            up.shard_with(wrong, up.file_hash, &up.sha256),
            "verification hash",
        ),
        (
            up.shard_with(verification, up.xorb_hash, &up.sha256),
            "file hash",
        ),
        (
            up.shard_with(verification, up.file_hash, &Sha256::of(b"other")),
            "SHA-256",
        ),
    ];
    for (shard, what) in lies {
        let res = post_shard(&t, &cas, &shard).await;
        let e = client_error(res, StatusCode::BAD_REQUEST).await;
        assert!(e["error"].as_str().unwrap().contains(what), "{what}: {e}");
    }
    assert!(
        !blob_stored(&t, &up.sha256).await,
        "no blob from a lying shard"
    );
    assert!(!blob_stored(&t, &Sha256::of(b"other")).await);
    // A commit naming the bytes by SHA-256 finds nothing to name.
    let res = commit(&t, &alice, "alice/x", "w.bin", &up).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(
        t.download("alice/x", "main", "w.bin").await.status(),
        StatusCode::NOT_FOUND
    );
    // The honest shard then goes through.
    send(&t, &cas, &up).await;
    assert!(blob_stored(&t, &up.sha256).await);
    t.assert_fsck_clean().await;
}

/// Xorbs no shard names yet count against their sender's quota: a writer cannot
/// fill the store with xorbs it never commits.
pub async fn unnamed_xorbs_count_against_the_quota(backend: Backend) {
    let first = Upload::new(weights(80_000, 31), 20_000);
    let second = Upload::new(weights(80_000, 32), 20_000);
    // Room for the README and one xorb, not two.
    let quota = (first.xorb.len() * 3 / 2) as u64;
    let t = TestApp::start_with(backend, |c| c.limits.owner_quota_bytes = quota).await;
    let (_alice, cas) = alice_with_model(&t).await;
    let res = post_xorb(&t, &cas, &first.xorb_hash.hex(), &first.xorb).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = post_xorb(&t, &cas, &second.xorb_hash.hex(), &second.xorb).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res.text().await.unwrap().contains("owner_quota_bytes"));
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM xet_xorbs")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "the refused xorb is not stored");
    t.assert_fsck_clean().await;
}
