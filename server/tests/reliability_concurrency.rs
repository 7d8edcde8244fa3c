//! Races, on SQLite and PostgreSQL: many pushes onto one branch (one
//! compare-and-swap winner per round, a linear history, nothing lost), many
//! clients uploading the same blob (stored once, all succeed), a tag race
//! (one winner).

mod common;

use std::collections::HashSet;

use common::{Backend, README, TestApp, commit_file};
use granary_core::Sha256;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    concurrent_pushes_have_one_winner_per_round,
    same_blob_uploaded_by_many_is_stored_once,
    tag_race_has_one_winner
);

const PUSHERS: usize = 20;
const ROUNDS: usize = 3;

async fn concurrent_pushes_have_one_winner_per_round(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let readme = README.as_bytes().to_vec();
    let mut head = t
        .push_ok(&token, "alice/race", &[("README.md", readme.clone())], None)
        .await;
    let mut winners = vec![head.clone()];
    for round in 0..ROUNDS {
        // Every pusher's blobs are uploaded first, so the commits race each other.
        let contents: Vec<Vec<u8>> = (0..PUSHERS)
            .map(|i| format!("round {round} pusher {i}").into_bytes())
            .collect();
        for c in &contents {
            t.upload(&token, c).await;
        }
        let commits = contents.iter().enumerate().map(|(i, c)| {
            let body = json!({
                "parent": head,
                "message": format!("round {round} pusher {i}"),
                "files": [commit_file("README.md", &readme), commit_file(&format!("pusher-{i}.txt"), c)],
            });
            let (t, token) = (&t, &token);
            async move {
                let res = t.post_json(token, "/models/alice/race/commits", &body).await;
                let status = res.status();
                let v: Value = res.json().await.unwrap();
                (i, status, v)
            }
        });
        let results = futures::future::join_all(commits).await;
        let won: Vec<&(usize, StatusCode, Value)> = results
            .iter()
            .filter(|r| r.1 == StatusCode::CREATED)
            .collect();
        assert_eq!(
            won.len(),
            1,
            "round {round}: {:?}",
            results.iter().map(|r| r.1).collect::<Vec<_>>()
        );
        for (i, status, v) in &results {
            assert!(
                *status == StatusCode::CREATED || *status == StatusCode::CONFLICT,
                "pusher {i}: {status} {v}"
            );
            if *status == StatusCode::CONFLICT {
                assert_eq!(v["code"], "conflict");
                assert!(v["error"].as_str().unwrap().contains("has moved"), "{v}");
            }
        }
        let (winner, _, v) = won[0];
        head = v["id"].as_str().unwrap().to_string();
        winners.push(head.clone());
        // The winner's files are there, byte for byte.
        let res = t
            .download("alice/race", &head, &format!("pusher-{winner}.txt"))
            .await;
        assert_eq!(res.bytes().await.unwrap(), contents[*winner]);
        // Nothing lost: every loser's blob is stored, so pulling and pushing again needs no upload.
        let missing: Value = t
            .post_json(&token, "/blobs/missing", &json!({"blobs": contents.iter().map(|c| json!({"sha256": Sha256::of(c), "size": c.len()})).collect::<Vec<_>>()}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(missing["missing"], json!([]));
    }
    // Exactly one revision per winner, and the log walks parent to parent.
    let count: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM revisions")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(count.0 as usize, ROUNDS + 1);
    let log: Value = t
        .get("/models/alice/race/log/main?limit=100")
        .await
        .json()
        .await
        .unwrap();
    let entries = log["entries"]
        .as_array()
        .or_else(|| log["revisions"].as_array())
        .unwrap_or_else(|| panic!("{log}"));
    let ids: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let mut expected: Vec<&str> = winners.iter().map(String::as_str).collect();
    expected.reverse();
    assert_eq!(ids, expected);
    for pair in entries.windows(2) {
        assert_eq!(pair[0]["parent"], pair[1]["id"], "the log is not linear");
    }
    // A loser that pulls and pushes again lands.
    let again = json!({"parent": head, "message": "retry", "files": [commit_file("README.md", &readme), commit_file("late.txt", b"round 0 pusher 3")]});
    assert_eq!(
        t.post_json(&token, "/models/alice/race/commits", &again)
            .await
            .status(),
        StatusCode::CREATED
    );
}

/// One client's upload of `bytes`, as a careful client does it: whatever a
/// concurrent client did meanwhile (completed the blob, took the session), it
/// starts again and finds the blob stored. Never a 5xx.
async fn upload_racing(t: &TestApp, token: &str, bytes: &[u8]) -> usize {
    for attempt in 0..20 {
        let status = t.start_upload(token, bytes).await;
        if status.stored {
            return attempt;
        }
        let mut restart = false;
        for n in status.missing_parts() {
            let res = t.put_part(token, &status, bytes, n).await;
            let code = res.status();
            assert!(
                !code.is_server_error(),
                "put part: {code} {}",
                res.text().await.unwrap()
            );
            if code != StatusCode::OK {
                restart = true;
                break;
            }
        }
        if restart {
            continue;
        }
        let res = t.complete(token, &status).await;
        let code = res.status();
        let text = res.text().await.unwrap();
        assert!(!code.is_server_error(), "complete: {code} {text}");
        if code == StatusCode::OK {
            return attempt;
        }
    }
    panic!("the upload never finished");
}

async fn same_blob_uploaded_by_many_is_stored_once(backend: Backend) {
    let t = TestApp::start(backend).await;
    let bytes = common::shard(3, 42); // 3 parts of 1 MiB
    let digest = Sha256::of(&bytes);
    let mut tokens = Vec::new();
    for i in 0..8 {
        tokens.push(t.user(&format!("user{i}")).await);
    }
    // Eight users, and the first two twice each (same user: the same session, raced).
    let clients: Vec<&String> = tokens.iter().chain(tokens[..2].iter()).collect();
    let uploads = clients.iter().map(|token| upload_racing(&t, token, &bytes));
    futures::future::join_all(uploads).await;

    let rows: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM blobs WHERE sha256 = $1")
        .bind(digest.hex())
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(rows.0, 1);
    let sessions: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM upload_sessions")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(sessions.0, 0, "finished sessions are gone");
    let layout = granary_server::db::blobs::find(&t.app.db, &digest)
        .await
        .unwrap()
        .unwrap();
    let keys = t.object_keys().await;
    let blob_keys: Vec<&String> = keys.iter().filter(|k| k.contains(&digest.hex())).collect();
    assert_eq!(blob_keys.len() as u64, layout.part_count, "{keys:?}");
    assert!(
        keys.iter().all(|k| !k.starts_with("uploads/")),
        "staged parts left behind: {keys:?}"
    );
    // The stored bytes are the blob.
    let stored = t
        .app
        .storage
        .read_blob_range(layout, 0..layout.size)
        .await
        .unwrap();
    assert_eq!(Sha256::of(&stored), digest);
    // And every client can commit it.
    for (i, token) in tokens.iter().enumerate() {
        let res = t
            .post_json(
                token,
                &format!("/models/user{i}/m/commits"),
                &json!({"parent": null, "message": "m", "license": "mit",
                "files": [commit_file("model.safetensors", &bytes)]}),
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "{}",
            res.text().await.unwrap()
        );
    }
}

async fn tag_race_has_one_winner(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let readme = ("README.md", README.as_bytes().to_vec());
    let a = t
        .push_ok(
            &token,
            "alice/tags",
            &[readme.clone(), ("a.txt", b"a".to_vec())],
            None,
        )
        .await;
    let b = t
        .push_ok(
            &token,
            "alice/tags",
            &[readme, ("b.txt", b"b".to_vec())],
            Some(&a),
        )
        .await;
    for round in 0..3 {
        let tag = format!("v{round}");
        let racers = (0..12).map(|i| {
            let target = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (t, token, tag) = (&t, &token, tag.clone());
            async move {
                let res = t
                    .client
                    .put(t.api(&format!("/models/alice/tags/tags/{tag}")))
                    .bearer_auth(token)
                    .json(&json!({"revision": target}))
                    .send()
                    .await
                    .unwrap();
                (target, res.status())
            }
        });
        let results = futures::future::join_all(racers).await;
        let created: Vec<&(String, StatusCode)> = results
            .iter()
            .filter(|r| r.1 == StatusCode::CREATED)
            .collect();
        assert_eq!(created.len(), 1, "{results:?}");
        let winner = &created[0].0;
        for (target, status) in &results {
            if target == winner {
                assert!(
                    *status == StatusCode::CREATED || *status == StatusCode::OK,
                    "{status}"
                );
            } else {
                assert_eq!(*status, StatusCode::CONFLICT);
            }
        }
        let refs: Value = t.get("/models/alice/tags/refs").await.json().await.unwrap();
        let tags: HashSet<(String, String)> = refs["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_string(),
                    r["revision"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(tags.contains(&(tag.clone(), winner.clone())), "{refs}");
    }
    // The Hub's tag endpoint races the same way: tags never move.
    let racers = (0..8).map(|i| {
        let target = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (t, token) = (&t, &token);
        async move {
            t.client
                .post(format!("{}/api/models/alice/tags/tag/{target}", t.url))
                .bearer_auth(token)
                .json(&json!({"tag": "hub-v1"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures::future::join_all(racers).await;
    assert!(
        statuses
            .iter()
            .all(|s| s.is_success() || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    // Successes (the creation, and the same target again) all name one revision.
    let winners: HashSet<usize> = statuses
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_success())
        .map(|(i, _)| i % 2)
        .collect();
    assert_eq!(winners.len(), 1, "{statuses:?}");
}
