//! Every change emits its event, in its own transaction: a change that fails leaves none.

use granary_server::db::{events, jobs};

use super::*;

pub async fn every_change_emits_its_event_in_its_transaction(backend: Backend) {
    let t = start(backend).await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let rx = Receiver::start(vec![]).await;
    add_webhook(&t, &alice, "/namespaces/alice", json!({"url": rx.url})).await;
    let _worker = deliver(&t.app);
    let model = "alice/evented";

    let res = t.post_json(&alice, "/repos", &json!({"id": model})).await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let first = t.push_ok(&alice, model, &files(), None).await;
    let mut readme = common::README.to_string();
    readme.push_str("\nMore.\n");
    let second = t
        .push_ok(
            &alice,
            model,
            &[("README.md", readme.into_bytes())],
            Some(&first),
        )
        .await;
    assert_eq!(
        put_tag(&t, &alice, model, "v1", &first, false).await,
        StatusCode::CREATED
    );
    assert_eq!(
        put_tag(&t, &alice, model, "v1", &second, true).await,
        StatusCode::OK
    );
    let res = t
        .client
        .delete(t.api(&format!("/models/{model}/tags/v1")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let settings = |body: Value| {
        t.client
            .patch(t.api(&format!("/models/{model}/settings")))
            .bearer_auth(&alice)
            .json(&body)
            .send()
    };
    assert_eq!(
        settings(json!({"private": true})).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        settings(json!({"private": false, "gated": true}))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let res = t
        .post_json(&bob, &format!("/models/{model}/license/accept"), &json!({}))
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );

    // A verification finishing (the worker's own call, without running a model).
    let db = &t.app.db;
    let now = granary_core::time::now_ms();
    let job = jobs::claim(db, "test-worker", now, 60_000)
        .await
        .unwrap()
        .unwrap();
    let run = jobs::FinishedRun {
        job: &job,
        worker: "test-worker",
        device: "cpu: test",
        status: "passed",
        report_json: r#"{"status":"passed","parameters":42}"#,
        started_at: now,
        finished_at: now + 1,
    };
    assert!(jobs::finish(db, &run).await.unwrap());

    // Changes that fail leave no event: a push on a stale parent, a tag that will not
    // move silently, a tag that does not exist, a model that exists already.
    let stale = t
        .push(
            &alice,
            model,
            &[("README.md", b"---\nlicense: mit\n---\nstale".to_vec())],
            Some(&first),
            json!({}),
        )
        .await;
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    assert_eq!(
        put_tag(&t, &alice, model, "v2", &first, false).await,
        StatusCode::CREATED
    );
    assert_eq!(
        put_tag(&t, &alice, model, "v2", &second, false).await,
        StatusCode::CONFLICT
    );
    let res = t
        .client
        .delete(t.api(&format!("/models/{model}/tags/nope")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let again = t.post_json(&alice, "/repos", &json!({"id": model})).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);

    let model_id = granary_server::db::models::find(db, &model.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let res = t
        .client
        .delete(t.api(&format!("/models/{model}")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());

    let mut kinds = events::kinds_of_model(db, &model_id).await.unwrap();
    let expected = [
        "repo.created",
        "revision.published",
        "revision.published",
        "tag.created",
        "ref.moved",
        "tag.deleted",
        "repo.visibility",
        "repo.visibility",
        "repo.gate",
        "license.accepted",
        "verification.finished",
        "tag.created",
        "repo.deleted",
    ];
    let mut sorted = expected.map(str::to_string).to_vec();
    sorted.sort();
    kinds.sort();
    assert_eq!(kinds, sorted);

    // The namespace's webhook heard every one of them, with its figures.
    let got = rx.wait_delivered(expected.len()).await;
    let find = |kind: &str| -> Vec<Value> {
        got.iter()
            .map(Received::json)
            .filter(|v| v["type"] == kind)
            .collect()
    };
    let moved = &find("ref.moved")[0];
    assert_eq!(moved["data"]["from"], first.as_str());
    assert_eq!(moved["data"]["to"], second.as_str());
    let verified = &find("verification.finished")[0];
    assert_eq!(verified["data"]["status"], "passed");
    assert_eq!(verified["data"]["report"]["parameters"], 42);
    assert_eq!(find("license.accepted")[0]["data"]["user"], "bob");
    assert_eq!(find("license.accepted")[0]["actor"], "bob");
    let mut visibility: Vec<bool> = find("repo.visibility")
        .iter()
        .map(|v| v["data"]["private"].as_bool().unwrap())
        .collect();
    visibility.sort();
    assert_eq!(visibility, [false, true]);
    assert_eq!(find("revision.published")[0]["actor"], "alice");
}
