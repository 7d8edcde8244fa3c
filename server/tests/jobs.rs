//! The verification queue on SQLite and PostgreSQL: a commit queues exactly
//! one job, concurrent workers never claim the same job, a dead worker's job
//! is claimed again after its lease, and a worker that lost its lease
//! records nothing.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::{Backend, README, TestApp};
use granary_server::db::jobs::{self, FinishedRun};
use serde_json::Value;

on_every_backend!(
    commit_queues_one_job,
    concurrent_claims_never_share_a_job,
    expired_lease_is_claimed_again,
);

async fn commit_queues_one_job(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let files = vec![("README.md", README.as_bytes().to_vec())];
    let rev = t.push_ok(&token, "alice/q", &files, None).await;
    assert_eq!(jobs::pending_count(&t.app.db).await.unwrap(), 1);
    let info: Value = t
        .get(&format!("/models/alice/q/revisions/{rev}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["verification"][0]["status"], "queued");
    // Model info reads the head's verification in the same round trip as the model.
    let model: Value = t.get("/models/alice/q").await.json().await.unwrap();
    assert_eq!(model["revision"]["verification"], info["verification"]);
    assert_eq!(model["revision"]["id"], rev.as_str());
    // Asking for a revision by name reads its verification on its own.
    let by_ref: Value = t
        .get(&format!("/models/alice/q?ref={rev}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_ref["revision"]["verification"], info["verification"]);
    assert_eq!(by_ref["revision"]["id"], rev.as_str());

    // Asking for a re-run while one is open does not add another.
    let res = t
        .client
        .post(t.api(&format!("/models/alice/q/revisions/{rev}/verify")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(jobs::pending_count(&t.app.db).await.unwrap(), 1);
    let bob = t.user("bob").await;
    let res = t
        .client
        .post(t.api(&format!("/models/alice/q/revisions/{rev}/verify")))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

async fn concurrent_claims_never_share_a_job(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    for i in 0..12 {
        let files = vec![
            ("README.md", README.as_bytes().to_vec()),
            ("n.txt", format!("{i}").into_bytes()),
        ];
        t.push_ok(&token, &format!("alice/m{i}"), &files, None)
            .await;
    }
    let db = Arc::new(t.app.db.clone());
    let mut handles = Vec::new();
    for w in 0..4 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            let name = format!("worker-{w}");
            let mut mine = Vec::new();
            while let Some(job) = jobs::claim(&db, &name, granary_core::time::now_ms(), 60_000)
                .await
                .unwrap()
            {
                assert!(
                    jobs::finish(&db, &passed_run(&name, &job, granary_core::time::now_ms()))
                        .await
                        .unwrap()
                );
                mine.push(job.id);
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 12, "every job claimed once: {all:?}");
    assert_eq!(unique.len(), 12);
    let (runs,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM verification_runs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(runs, 12, "each job recorded exactly once");
    assert_eq!(jobs::pending_count(&db).await.unwrap(), 0);
}

async fn expired_lease_is_claimed_again(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    t.push_ok(
        &token,
        "alice/lease",
        &[("README.md", README.as_bytes().to_vec())],
        None,
    )
    .await;
    let db = &t.app.db;
    let now = granary_core::time::now_ms();
    let dead = jobs::claim(db, "dead-worker", now, 50)
        .await
        .unwrap()
        .expect("a job");
    // While the lease holds, nobody else gets it.
    assert!(
        jobs::claim(db, "live-worker", now + 10, 60_000)
            .await
            .unwrap()
            .is_none()
    );
    // After it, the live worker does, as a second attempt.
    let again = jobs::claim(db, "live-worker", now + 100, 60_000)
        .await
        .unwrap()
        .expect("reclaimed");
    assert_eq!(again.id, dead.id);
    assert_eq!(again.attempts, 2);
    // The dead worker coming back cannot record or renew anything.
    assert!(
        !jobs::heartbeat(db, &dead.id, "dead-worker", now + 200)
            .await
            .unwrap()
    );
    assert!(
        !jobs::finish(db, &passed_run("dead-worker", &dead, now))
            .await
            .unwrap()
    );
    assert!(
        jobs::finish(db, &passed_run("live-worker", &again, now))
            .await
            .unwrap()
    );
    let (runs,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM verification_runs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(runs, 1);
}

fn passed_run<'a>(worker: &'a str, job: &'a jobs::JobRow, now: i64) -> FinishedRun<'a> {
    FinishedRun {
        job,
        worker,
        device: "cpu: test",
        status: "passed",
        report_json: "{\"status\":\"passed\"}",
        started_at: now,
        finished_at: now + 300,
    }
}
