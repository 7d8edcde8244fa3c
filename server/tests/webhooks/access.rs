//! Who hears and who manages: a private model's events stay in its namespace, internal
//! addresses are refused, and only admins manage webhooks.

use super::*;

pub async fn private_model_events_stay_in_their_namespace(backend: Backend) {
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

pub async fn internal_addresses_are_refused_by_default(backend: Backend) {
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

pub async fn only_admins_manage_webhooks(backend: Backend) {
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
