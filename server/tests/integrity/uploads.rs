//! Part replay and racing part attempts: the bytes that are stored are always
//! the bytes that were hashed.

use granary_core::Sha256;
use granary_core::api::UploadStatus;
use reqwest::StatusCode;
use serde_json::Value;

use super::common::{Backend, README, TestApp, f32_bytes};

/// 1.5 MiB of distinct bytes: two parts of the harness's 1 MiB.
fn file(seed: u64) -> Vec<u8> {
    f32_bytes(3 * 128 * 1024, seed)
}

async fn put_bytes(
    t: &TestApp,
    token: &str,
    status: &UploadStatus,
    n: u64,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let id = status.id.as_ref().unwrap();
    t.client
        .put(t.api(&format!("/uploads/{id}/parts/{n}")))
        .bearer_auth(token)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn assert_refused_as_received(res: reqwest::Response) {
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["code"], "part_received", "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("never replaced"),
        "{v}"
    );
}

pub async fn replayed_part_is_refused_and_the_hashed_bytes_are_stored(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let real = file(1);
    let status = t.start_upload(&alice, &real).await;
    assert_eq!(status.part_count, 2);

    // Part 0 with the real bytes, then part 0 again with other bytes of the same length.
    let (a, b) = status.part_range(0);
    assert_eq!(
        t.put_part(&alice, &status, &real, 0).await.status(),
        StatusCode::OK
    );
    let mut forged = real[a as usize..b as usize].to_vec();
    forged.iter_mut().for_each(|x| *x = x.wrapping_add(1));
    assert_refused_as_received(put_bytes(&t, &alice, &status, 0, forged.clone()).await).await;
    assert_eq!(
        t.put_part(&alice, &status, &real, 1).await.status(),
        StatusCode::OK
    );
    // And after every part arrived, a replay of either is refused too.
    assert_refused_as_received(
        put_bytes(&t, &alice, &status, 1, vec![0; real.len() - b as usize]).await,
    )
    .await;
    assert_eq!(t.complete(&alice, &status).await.status(), StatusCode::OK);

    // Out of order, with the replay in between: part 1, part 0, forged part 1.
    let other = file(2);
    let s2 = t.start_upload(&alice, &other).await;
    assert_eq!(
        t.put_part(&alice, &s2, &other, 1).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        t.put_part(&alice, &s2, &other, 0).await.status(),
        StatusCode::OK
    );
    let (a1, b1) = s2.part_range(1);
    assert_refused_as_received(put_bytes(&t, &alice, &s2, 1, vec![7; (b1 - a1) as usize]).await)
        .await;
    assert_eq!(t.complete(&alice, &s2).await.status(), StatusCode::OK);

    // The real bytes are what a pull gets, under the real digest.
    let rev = t
        .push_ok(
            &alice,
            "alice/m",
            &[
                ("w.bin", real.clone()),
                ("x.bin", other.clone()),
                ("README.md", README.as_bytes().to_vec()),
            ],
            None,
        )
        .await;
    for (path, bytes) in [("w.bin", &real), ("x.bin", &other)] {
        let res = t.download("alice/m", &rev, path).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            res.bytes().await.unwrap() == bytes[..],
            "{path} is served as uploaded"
        );
    }
    assert!(
        t.object_keys()
            .await
            .iter()
            .all(|k| !k.starts_with("uploads/")),
        "nothing left staged"
    );
    t.assert_fsck_clean().await;
}

pub async fn racing_attempts_at_a_part_store_only_hashed_bytes(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let mut outcomes = (0, 0);
    for round in 0..6u64 {
        let real = file(100 + round);
        let status = t.start_upload(&alice, &real).await;
        let (a, b) = status.part_range(0);
        let forged = vec![round as u8; (b - a) as usize];
        // Two attempts at part 0 at once: the real bytes and forged ones.
        let (one, two) = tokio::join!(
            put_bytes(
                &t,
                &alice,
                &status,
                0,
                real[a as usize..b as usize].to_vec()
            ),
            put_bytes(&t, &alice, &status, 0, forged),
        );
        let statuses = [one.status(), two.status()];
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "exactly one attempt is the part: {statuses:?}"
        );
        assert!(statuses.contains(&StatusCode::CONFLICT), "{statuses:?}");
        assert_eq!(
            t.put_part(&alice, &status, &real, 1).await.status(),
            StatusCode::OK
        );
        let done = t.complete(&alice, &status).await;
        let digest = Sha256::of(&real);
        let stored = granary_server::db::blobs::find(&t.app.db, &digest)
            .await
            .unwrap();
        if one.status() == StatusCode::OK {
            // The real attempt won: the blob is stored, with the real bytes.
            assert_eq!(done.status(), StatusCode::OK);
            let layout = stored.expect("stored");
            assert!(
                t.app
                    .storage
                    .read_blob_range(layout, 0..layout.size)
                    .await
                    .unwrap()
                    == real
            );
            outcomes.0 += 1;
        } else {
            // The forged attempt won: completion finds the digest wrong and stores nothing.
            assert_eq!(done.status(), StatusCode::BAD_REQUEST);
            let v: Value = done.json().await.unwrap();
            assert_eq!(v["code"], "digest_mismatch", "{v}");
            assert!(
                stored.is_none(),
                "forged bytes are never stored under the real digest"
            );
            outcomes.1 += 1;
        }
    }
    eprintln!(
        "real attempt won {} rounds, forged attempt won {}",
        outcomes.0, outcomes.1
    );
    assert!(
        t.object_keys()
            .await
            .iter()
            .all(|k| !k.starts_with("uploads/")),
        "losing attempts leave nothing staged"
    );
    t.assert_fsck_clean().await;
}
