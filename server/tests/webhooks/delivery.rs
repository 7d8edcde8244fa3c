//! Deliveries: signed with the webhook's secret, retried with backoff until the
//! receiver takes them, and sent after a restart when the process died mid-delivery.

use hmac::Mac;

use super::*;

pub async fn deliveries_are_signed_with_the_secret(backend: Backend) {
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

pub async fn a_failing_receiver_gets_the_event_on_the_third_try(backend: Backend) {
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

pub async fn a_delivery_in_flight_when_the_server_dies_is_sent_after_restart(backend: Backend) {
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
