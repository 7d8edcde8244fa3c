//! Events and webhooks on SQLite and PostgreSQL, with a real HTTP receiver on
//! loopback (the servers under test pass `--webhooks-allow-private`, except where the
//! SSRF guard is the point): every change emits its event in its own transaction,
//! deliveries are signed, retried with backoff and survive a restart, a private
//! model's events stay in its namespace, internal addresses are refused, and only
//! admins manage webhooks.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use common::{Backend, TestApp, client_error};
use granary_core::api::{DeliveryList, WebhookInfo};
use granary_server::db::{events, jobs, webhooks as db_webhooks};
use granary_server::webhooks::Dispatcher;
use hmac::Mac;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    deliveries_are_signed_with_the_secret,
    a_failing_receiver_gets_the_event_on_the_third_try,
    a_delivery_in_flight_when_the_server_dies_is_sent_after_restart,
    private_model_events_stay_in_their_namespace,
    internal_addresses_are_refused_by_default,
    every_change_emits_its_event_in_its_transaction,
    only_admins_manage_webhooks,
);

/// What the receiver does with the next request.
#[derive(Clone, Copy)]
enum Reply {
    Status(u16),
    /// Never answers (the sender dies waiting).
    Hang,
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
    /// The status it answered.
    status: u16,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).unwrap().to_str().unwrap()
    }
}

/// A webhook receiver on loopback: answers from a script, then 200.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(script: Vec<Reply>) -> Self {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script = Arc::new(Mutex::new(script));
        let (g, s) = (got.clone(), script.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (got, script) = (g.clone(), s.clone());
                async move {
                    let reply = {
                        let mut script = script.lock().unwrap();
                        if script.is_empty() {
                            Reply::Status(200)
                        } else {
                            script.remove(0)
                        }
                    };
                    let status = match reply {
                        Reply::Status(s) => s,
                        Reply::Hang => 0,
                    };
                    got.lock().unwrap().push(Received {
                        headers,
                        body,
                        status,
                    });
                    if let Reply::Hang = reply {
                        std::future::pending::<()>().await;
                    }
                    AxumStatus::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, got }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The requests it answered 2xx.
    fn delivered(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }

    /// Waits until `n` requests were answered 2xx.
    async fn wait_delivered(&self, n: usize) -> Vec<Received> {
        wait_for(&format!("{n} deliveries at {}", self.url), || {
            let d = self.delivered();
            (d.len() >= n).then_some(d)
        })
        .await
    }
}

/// Polls `f` until it answers, failing after 30 s.
async fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A server whose webhooks may reach loopback, with retries 50 ms apart.
async fn start(backend: Backend) -> TestApp {
    TestApp::start_with(backend, |c| {
        c.webhooks.allow_private = true;
        c.webhooks.retry_base_ms = 50;
        c.webhooks.timeout_secs = 1;
    })
    .await
}

/// Runs a delivery worker on `t` until the handle is dropped or aborted.
fn deliver(app: &Arc<granary_server::App>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(Dispatcher::new(app.clone()).run(std::future::pending()))
}

async fn add_webhook(t: &TestApp, token: &str, path: &str, body: Value) -> WebhookInfo {
    let res = t.post_json(token, &format!("{path}/webhooks"), &body).await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    res.json().await.unwrap()
}

async fn deliveries(t: &TestApp, token: &str, path: &str, id: &str) -> DeliveryList {
    let res = t
        .client
        .get(t.api(&format!("{path}/webhooks/{id}/deliveries")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

fn files() -> Vec<(&'static str, Vec<u8>)> {
    vec![("README.md", common::README.as_bytes().to_vec())]
}

async fn put_tag(
    t: &TestApp,
    token: &str,
    model: &str,
    tag: &str,
    rev: &str,
    force: bool,
) -> StatusCode {
    t.client
        .put(t.api(&format!("/models/{model}/tags/{tag}")))
        .bearer_auth(token)
        .json(&json!({"revision": rev, "force": force}))
        .send()
        .await
        .unwrap()
        .status()
}

async fn deliveries_are_signed_with_the_secret(backend: Backend) {
    let t = start(backend).await;
    let alice = t.user("alice").await;
    let rx = Receiver::start(vec![]).await;
    let hook = add_webhook(
        &t,
        &alice,
        "/namespaces/alice",
        json!({"url": rx.url, "events": ["revision.published"]}),
    )
    .await;
    let secret = hook
        .secret
        .clone()
        .expect("the secret is shown at creation");
    assert!(secret.len() >= 32);
    let _worker = deliver(&t.app);
    let rev = t.push_ok(&alice, "alice/signed", &files(), None).await;

    let got = rx.wait_delivered(1).await;
    let r = &got[0];
    let body = r.json();
    assert_eq!(body["type"], "revision.published");
    assert_eq!(body["model"], "alice/signed");
    assert_eq!(body["data"]["revision"], rev.as_str());
    assert_eq!(body["data"]["branch"], "main");
    assert_eq!(r.header("x-granary-event"), "revision.published");
    assert_eq!(r.header("x-granary-delivery"), body["id"].as_str().unwrap());

    // The receiver's check, written independently of the server's code.
    let sig = r.header("x-granary-signature");
    let (t_part, v1) = sig.split_once(",v1=").unwrap();
    let ts: i64 = t_part.strip_prefix("t=").unwrap().parse().unwrap();
    let now = granary_core::time::now_ms() / 1000;
    assert!((now - ts).abs() < 300, "a fresh timestamp");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&r.body);
    mac.verify_slice(&hex::decode(v1).unwrap())
        .expect("the signature verifies with the secret");
    let mut wrong = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"another secret").unwrap();
    wrong.update(format!("{ts}.").as_bytes());
    wrong.update(&r.body);
    assert!(wrong.verify_slice(&hex::decode(v1).unwrap()).is_err());

    // Listing never shows the secret again.
    let res = t
        .client
        .get(t.api("/namespaces/alice/webhooks"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["webhooks"][0]["id"], hook.id.as_str());
    assert!(list["webhooks"][0].get("secret").is_none());
    assert!(!list.to_string().contains(&secret));
}

async fn a_failing_receiver_gets_the_event_on_the_third_try(backend: Backend) {
    let t = start(backend).await;
    let alice = t.user("alice").await;
    let rev = t.push_ok(&alice, "alice/flaky", &files(), None).await;
    let rx = Receiver::start(vec![Reply::Status(500), Reply::Status(500)]).await;
    let hook = add_webhook(
        &t,
        &alice,
        "/models/alice/flaky",
        json!({"url": rx.url, "events": ["tag.created"], "secret": "a-secret-of-my-own"}),
    )
    .await;
    assert_eq!(hook.model.as_deref(), Some("alice/flaky"));
    assert_eq!(hook.secret.as_deref(), Some("a-secret-of-my-own"));
    let _worker = deliver(&t.app);
    assert_eq!(
        put_tag(&t, &alice, "alice/flaky", "v1", &rev, false).await,
        StatusCode::CREATED
    );

    let got = rx.wait_delivered(1).await;
    assert_eq!(got[0].json()["type"], "tag.created");
    assert_eq!(got[0].json()["data"]["tag"], "v1");
    let all = rx.received();
    assert_eq!(
        all.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    // The same event each time.
    let ids: Vec<&str> = all.iter().map(|r| r.header("x-granary-delivery")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]));

    let list = wait_for_state(&t, &alice, "/models/alice/flaky", &hook.id, "delivered").await;
    let d = &list.deliveries[0];
    assert_eq!(d.event_type, "tag.created");
    let statuses: Vec<Option<u16>> = d.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    assert!(d.attempts[0].error.as_deref().unwrap().contains("500"));
    // Exponential backoff: the second wait at least twice the base after the first.
    assert!(d.attempts[1].at - d.attempts[0].at >= 50);
    assert!(d.attempts[2].at - d.attempts[1].at >= 100);
}

/// Waits until the webhook's newest delivery is in `state`.
async fn wait_for_state(
    t: &TestApp,
    token: &str,
    path: &str,
    id: &str,
    state: &str,
) -> DeliveryList {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let list = deliveries(t, token, path, id).await;
        if list.deliveries.first().is_some_and(|d| d.state == state) {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no delivery became {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_delivery_in_flight_when_the_server_dies_is_sent_after_restart(backend: Backend) {
    let t = start(backend).await;
    let alice = t.user("alice").await;
    // The first attempt never gets an answer: the process dies while sending it.
    let rx = Receiver::start(vec![Reply::Hang]).await;
    let hook = add_webhook(&t, &alice, "/namespaces/alice", json!({"url": rx.url})).await;
    let worker = deliver(&t.app);
    t.push_ok(&alice, "alice/durable", &files(), None).await;
    let hung = wait_for("the first attempt", || {
        rx.received()
            .first()
            .map(|r| r.header("x-granary-delivery").to_string())
    })
    .await;
    worker.abort();
    let _ = worker.await;
    let delivered_ids = |rx: &Receiver| -> Vec<String> {
        rx.delivered()
            .iter()
            .map(|r| r.header("x-granary-delivery").to_string())
            .collect()
    };
    assert!(!delivered_ids(&rx).contains(&hung));

    // A new process on the same database (nothing carried over in memory) sends what
    // the dead one held, once its lease has run out.
    let restarted = Arc::new(
        granary_server::App::open(t.app.config.clone())
            .await
            .unwrap(),
    );
    let _worker = deliver(&restarted);
    wait_for("the event in flight at the kill", || {
        delivered_ids(&rx).contains(&hung).then_some(())
    })
    .await;
    let got = rx.wait_delivered(2).await;
    let types: Vec<String> = got
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect();
    assert!(types.contains(&"repo.created".to_string()), "{types:?}");
    assert!(
        types.contains(&"revision.published".to_string()),
        "{types:?}"
    );
    // Each attempt is recorded, the dead one's included: its lease ran out unrecorded.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let list = deliveries(&t, &alice, "/namespaces/alice", &hook.id).await;
        if list.deliveries.len() == 2 && list.deliveries.iter().all(|d| d.state == "delivered") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{list:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(db_webhooks::pending_count(&t.app.db).await.unwrap(), 0);
}

async fn private_model_events_stay_in_their_namespace(backend: Backend) {
    let t = start(backend).await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let mine = Receiver::start(vec![]).await;
    let theirs = Receiver::start(vec![]).await;
    let alice_hook = add_webhook(&t, &alice, "/namespaces/alice", json!({"url": mine.url})).await;
    t.push_ok(&bob, "bob/public", &files(), None).await;
    let bob_hook = add_webhook(&t, &bob, "/namespaces/bob", json!({"url": theirs.url})).await;
    let bob_model_hook =
        add_webhook(&t, &bob, "/models/bob/public", json!({"url": theirs.url})).await;
    let _worker = deliver(&t.app);

    let res = t
        .push(
            &alice,
            "alice/secret",
            &files(),
            None,
            json!({"private": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let got = mine.wait_delivered(2).await;
    assert!(got.iter().all(|r| r.json()["model"] == "alice/secret"));

    // Deliveries are queued with the event, in its transaction: none exists for bob's.
    for (path, id) in [
        ("/namespaces/bob", &bob_hook.id),
        ("/models/bob/public", &bob_model_hook.id),
    ] {
        assert!(deliveries(&t, &bob, path, id).await.deliveries.is_empty());
    }
    let alice_deliveries = deliveries(&t, &alice, "/namespaces/alice", &alice_hook.id).await;
    assert_eq!(alice_deliveries.deliveries.len(), 2);
    assert!(
        theirs
            .received()
            .iter()
            .all(|r| r.json()["model"] != "alice/secret")
    );
}

async fn internal_addresses_are_refused_by_default(backend: Backend) {
    let t = TestApp::start_with(backend, |c| c.webhooks.timeout_secs = 1).await;
    let alice = t.user("alice").await;
    let rx = Receiver::start(vec![]).await;
    let port = rx
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    for url in [
        rx.url.clone(),
        format!("http://localhost:{port}/hook"),
        "http://10.1.2.3/hook".into(),
        "http://172.16.0.1/hook".into(),
        "http://192.168.0.10/hook".into(),
        "http://169.254.169.254/latest/meta-data".into(),
        "http://[::1]/hook".into(),
        "http://[fd00::1]/hook".into(),
        "http://0.0.0.0/hook".into(),
        "http://[::ffff:127.0.0.1]/hook".into(),
    ] {
        let res = t
            .post_json(&alice, "/namespaces/alice/webhooks", &json!({"url": url}))
            .await;
        let v = client_error(res, StatusCode::BAD_REQUEST).await;
        assert!(
            v["error"].as_str().unwrap().contains("public addresses"),
            "{url}: {v}"
        );
    }
    for url in ["ftp://example.com/", "http://user:pw@example.com/"] {
        let res = t
            .post_json(&alice, "/namespaces/alice/webhooks", &json!({"url": url}))
            .await;
        client_error(res, StatusCode::BAD_REQUEST).await;
    }

    // One stored anyway (say, before the guard, or by hand) is refused at delivery.
    let row = db_webhooks::create(
        &t.app.db,
        &db_webhooks::NewWebhook {
            namespace: "alice",
            model_id: None,
            url: &rx.url,
            secret: "0123456789abcdef",
            events: &[],
            created_by: "alice",
        },
        granary_core::time::now_ms(),
    )
    .await
    .unwrap();
    t.push_ok(&alice, "alice/guarded", &files(), None).await;
    let worker = Dispatcher::new(t.app.clone());
    assert!(worker.deliver_next().await.unwrap());
    assert!(
        rx.received().is_empty(),
        "nothing reached the internal address"
    );
    let list = deliveries(&t, &alice, "/namespaces/alice", &row.id).await;
    let attempted: Vec<_> = list
        .deliveries
        .iter()
        .filter(|d| !d.attempts.is_empty())
        .collect();
    assert_eq!(attempted.len(), 1);
    let attempt = &attempted[0].attempts[0];
    assert_eq!(attempt.status, None);
    assert!(
        attempt
            .error
            .as_deref()
            .unwrap()
            .contains("public addresses"),
        "{attempt:?}"
    );
}

async fn every_change_emits_its_event_in_its_transaction(backend: Backend) {
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

async fn only_admins_manage_webhooks(backend: Backend) {
    let t = start(backend).await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let rx = Receiver::start(vec![]).await;
    t.push_ok(&alice, "alice/open", &files(), None).await;
    let res = t
        .push(
            &alice,
            "alice/hidden",
            &files(),
            None,
            json!({"private": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // An organisation where bob may write but not administer.
    assert_eq!(
        t.post_json(&alice, "/orgs", &json!({"name": "acme"}))
            .await
            .status(),
        StatusCode::CREATED
    );
    let res = t
        .client
        .put(t.api("/orgs/acme/members/bob"))
        .bearer_auth(&alice)
        .json(&json!({"role": "write"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    t.push_ok(&bob, "acme/shared", &files(), None).await;
    let hook = add_webhook(&t, &alice, "/models/alice/open", json!({"url": rx.url})).await;
    let org_hook = add_webhook(&t, &alice, "/namespaces/acme", json!({"url": rx.url})).await;

    let body = json!({"url": rx.url});
    let call = |method: reqwest::Method, path: String, token: Option<String>| {
        let mut req = t.client.request(method, t.api(&path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if path.ends_with("/webhooks") {
            req = req.json(&body);
        }
        req.send()
    };
    use reqwest::Method;
    let cases = [
        // (path, the answer to bob; anonymous callers get 401 where bob gets 403)
        (
            "/models/alice/open/webhooks".to_string(),
            StatusCode::FORBIDDEN,
        ),
        (
            "/models/alice/hidden/webhooks".to_string(),
            StatusCode::NOT_FOUND,
        ),
        (
            "/models/alice/missing/webhooks".to_string(),
            StatusCode::NOT_FOUND,
        ),
        (
            "/namespaces/alice/webhooks".to_string(),
            StatusCode::FORBIDDEN,
        ),
        (
            "/models/acme/shared/webhooks".to_string(),
            StatusCode::FORBIDDEN,
        ),
        (
            "/namespaces/acme/webhooks".to_string(),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (path, expected) in &cases {
        for method in [Method::GET, Method::POST] {
            let res = call(method.clone(), path.clone(), Some(bob.clone()))
                .await
                .unwrap();
            assert_eq!(res.status(), *expected, "bob {method} {path}");
        }
        let res = call(Method::GET, path.clone(), None).await.unwrap();
        let anonymous = if *expected == StatusCode::NOT_FOUND {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(res.status(), anonymous, "anonymous GET {path}");
    }
    for (path, id) in [
        (format!("/models/alice/open/webhooks/{}", hook.id), &hook.id),
        (
            format!("/namespaces/acme/webhooks/{}", org_hook.id),
            &org_hook.id,
        ),
    ] {
        let res = call(Method::DELETE, path.clone(), Some(bob.clone()))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "bob DELETE {path}");
        let res = call(Method::GET, format!("{path}/deliveries"), Some(bob.clone()))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "bob deliveries {path}");
        assert!(db_webhooks::find(&t.app.db, id).await.unwrap().is_some());
    }
    // A webhook is reached only through its own scope.
    let res = call(
        Method::DELETE,
        format!("/namespaces/alice/webhooks/{}", org_hook.id),
        Some(alice.clone()),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Its admins may; the server admin too.
    let res = call(
        Method::DELETE,
        format!("/models/alice/open/webhooks/{}", hook.id),
        Some(alice.clone()),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let admin = t.admin_token().await;
    let res = call(
        Method::DELETE,
        format!("/namespaces/acme/webhooks/{}", org_hook.id),
        Some(admin),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}
