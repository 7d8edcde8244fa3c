//! Xorbs live while a Xet file names them and the file's blob lives; the
//! collector removes the rest once they are older than the grace period.

use granary_server::maintenance::gc::{GcOptions, collect};
use reqwest::StatusCode;

use super::common::{Backend, README, TestApp};
use super::harness::*;

async fn xorbs(t: &TestApp) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT hash FROM xet_xorbs ORDER BY hash")
        .fetch_all(&t.app.db.pool)
        .await
        .unwrap();
    rows.into_iter().map(|(h,)| h).collect()
}

fn xorb_objects(keys: &[String]) -> Vec<&String> {
    keys.iter()
        .filter(|k| k.starts_with("xet/xorbs/"))
        .collect()
}

pub async fn xorbs_no_file_names_are_collected(backend: Backend) {
    let t = TestApp::start(backend).await;
    let (alice, cas) = alice_with_model(&t).await;
    let kept = Upload::new(weights(60_000, 11), 20_000);
    send(&t, &cas, &kept).await;
    assert_eq!(
        commit(&t, &alice, "alice/x", "w.bin", &kept).await.status(),
        StatusCode::OK
    );
    // A xorb sent but never named by a shard.
    let stray = Upload::new(weights(30_000, 12), 10_000);
    let res = post_xorb(&t, &cas, &stray.xorb_hash.hex(), &stray.xorb).await;
    assert_eq!(res.status(), StatusCode::OK);

    // Within the grace period nothing goes.
    let hour = GcOptions {
        grace_ms: 3_600_000,
        dry_run: false,
    };
    assert_eq!(collect(&t.app, hour).await.unwrap().xorbs, 0);
    assert_eq!(xorbs(&t).await.len(), 2);

    let now = GcOptions {
        grace_ms: 0,
        dry_run: false,
    };
    let dry = collect(
        &t.app,
        GcOptions {
            dry_run: true,
            ..now
        },
    )
    .await
    .unwrap();
    assert_eq!(dry.xorbs, 1);
    assert_eq!(xorbs(&t).await.len(), 2, "a dry run removes nothing");
    let report = collect(&t.app, now).await.unwrap();
    assert_eq!(
        (report.xorbs, report.xorb_bytes),
        (1, stray.xorb.len() as u64),
        "{report:?}"
    );
    assert_eq!(xorbs(&t).await, [kept.xorb_hash.hex()]);
    assert_eq!(xorb_objects(&t.object_keys().await).len(), 1);
    // The file still downloads over Xet.
    let read = cas_token(&t, Some(&alice), "alice/x", "read", "main").await;
    let answer: serde_json::Value = reconstruction(&t, &read, 2, &kept.file_hash.hex(), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rebuild_v2(&t, &answer, kept.data.len()).await, kept.data);

    // Once the model is gone and its blob collected, its xorb follows.
    let res = t
        .client
        .delete(t.api("/models/alice/x"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let report = collect(&t.app, now).await.unwrap();
    assert!(report.blobs >= 1, "{report:?}");
    assert_eq!(report.xorbs, 1, "{report:?}");
    assert!(xorbs(&t).await.is_empty());
    assert!(xorb_objects(&t.object_keys().await).is_empty());
    let (files,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM xet_files")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(files, 0);
    // A xorb sent again after its collection is stored again.
    t.push_ok(
        &alice,
        "alice/x",
        &[("README.md", README.as_bytes().to_vec())],
        None,
    )
    .await;
    let cas = cas_token(&t, Some(&alice), "alice/x", "write", "main").await;
    send(&t, &cas, &kept).await;
    assert_eq!(
        commit(&t, &alice, "alice/x", "w.bin", &kept).await.status(),
        StatusCode::OK
    );
    t.assert_fsck_clean().await;
}

fn fsck_opts(repair: bool) -> granary_server::maintenance::fsck::FsckOptions {
    granary_server::maintenance::fsck::FsckOptions {
        repair,
        deep: true,
        grace_ms: 0,
    }
}

/// `fsck --deep` finds a xorb whose bytes changed or went missing; `--repair`
/// forgets it and the Xet form of its files, whose blobs still download.
pub async fn fsck_finds_damaged_xorbs_and_repair_forgets_them(backend: Backend) {
    use granary_server::maintenance::fsck::check;
    let t = TestApp::start(backend).await;
    let (alice, cas) = alice_with_model(&t).await;
    let up = Upload::new(weights(60_000, 21), 20_000);
    send(&t, &cas, &up).await;
    assert_eq!(
        commit(&t, &alice, "alice/x", "w.bin", &up).await.status(),
        StatusCode::OK
    );
    let stray = Upload::new(weights(30_000, 22), 10_000);
    let res = post_xorb(&t, &cas, &stray.xorb_hash.hex(), &stray.xorb).await;
    assert_eq!(res.status(), StatusCode::OK);
    t.assert_fsck_clean().await;

    // One byte of the committed file's xorb flipped, the stray xorb's object gone,
    // and an object no row describes.
    let key = |h: &str| object_store::path::Path::from(format!("xet/xorbs/{}/{h}", &h[..2]));
    let mut bytes = up.xorb.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xFF;
    let hash = up.xorb_hash.hex();
    t.app.storage.put(&key(&hash), bytes.into()).await.unwrap();
    t.app
        .storage
        .delete_quietly(&key(&stray.xorb_hash.hex()))
        .await;
    let orphan = "ab".repeat(32);
    t.app
        .storage
        .put(&key(&orphan), vec![1u8; 10].into())
        .await
        .unwrap();

    let report = check(&t.app, fsck_opts(false)).await.unwrap();
    let found: Vec<(&str, &str)> = report
        .problems
        .iter()
        .map(|p| (p.kind, p.subject.as_str()))
        .collect();
    assert!(found.contains(&("xorb", hash.as_str())), "{report:?}");
    assert!(
        found.contains(&("xorb", stray.xorb_hash.hex().as_str())),
        "{report:?}"
    );
    assert_eq!(report.garbage_objects, 1, "{report:?}");

    let repaired = check(&t.app, fsck_opts(true)).await.unwrap();
    assert_eq!(repaired.repaired.len(), 2, "{repaired:?}");
    assert_eq!(repaired.garbage_removed, 1);
    t.assert_fsck_clean().await;
    assert!(xorbs(&t).await.is_empty());
    // The file is an ordinary blob still; it no longer offers a Xet form.
    let res = t
        .client
        .get(format!("{}/alice/x/resolve/main/w.bin", t.url))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("x-xet-hash").is_none());
    assert_eq!(res.bytes().await.unwrap().as_ref(), &up.data[..]);
}
