//! The bad-input corpus of tokens, sessions and private files (docs/SECURITY.md,
//! "Connections, rate limits and sessions"; connections and rates are in
//! `attacks_limits.rs`): each attack is tried as an attacker would and must be
//! refused with a clear answer in the API's JSON error shape, leaving nothing
//! changed.

mod common;
#[path = "attacks_support/mod.rs"]
mod support;

use common::{Backend, TestApp};
use reqwest::header::COOKIE;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use support::{browser, client_error, hidden_csrf, set_cookie, with_password};

on_every_backend!(
    stats_are_for_server_admins,
    tokens_never_outrank_or_outlive_their_creator,
    namespace_and_scope_limits_hold_beyond_tokens,
    session_cookies_are_secure_over_https,
    csrf_tokens_are_bound_to_the_session
);

/// `GET /api/v1/stats` tells how much this server moves: server administrators only.
async fn stats_are_for_server_admins(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let stats = t.api("/stats");
    let v = client_error(
        t.client.get(&stats).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(v["code"], "unauthorized");
    let v = client_error(
        t.client
            .get(&stats)
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("server administrators"),
        "{v}"
    );
    // An administrator's token limited to one namespace is not a server administrator's.
    let admin = t.admin_token().await;
    let res = t
        .post_json(
            &admin,
            "/tokens",
            &serde_json::json!({"scope": "read", "owner": "alice"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let limited: Value = res.json().await.unwrap();
    let res = t
        .client
        .get(&stats)
        .bearer_auth(limited["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    client_error(res, StatusCode::FORBIDDEN).await;
    // A read token of the administrator is enough to read them.
    let res = t
        .post_json(&admin, "/tokens", &serde_json::json!({"scope": "read"}))
        .await;
    let read: Value = res.json().await.unwrap();
    let res = t
        .client
        .get(&stats)
        .bearer_auth(read["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert!(v["blob_bytes_received"].is_u64(), "{v}");
    assert_eq!(t.stats().await["file_requests"], 0);
}

/// Creates a token with `token`; the response.
async fn new_token(t: &TestApp, token: &str, body: Value) -> reqwest::Response {
    t.post_json(token, "/tokens", &body).await
}

/// The token of a `201` answer to `POST /tokens`, and the whole answer.
async fn created(res: reqwest::Response) -> (String, Value) {
    let status = res.status();
    let v: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{v}");
    (v["token"].as_str().unwrap().to_string(), v)
}

/// A token that expires in a day cannot make one that never expires (or expires
/// later), a read token cannot make a write token, and a namespace-limited token
/// makes only tokens limited to the same namespace.
async fn tokens_never_outrank_or_outlive_their_creator(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let (day, v) = created(
        new_token(
            &t,
            &alice,
            serde_json::json!({"scope": "admin", "expires_days": 1}),
        )
        .await,
    )
    .await;
    let day_expires = v["expires_at"].as_i64().unwrap();
    for body in [
        serde_json::json!({"scope": "admin"}),
        serde_json::json!({"scope": "read", "expires_days": 2}),
        serde_json::json!({"scope": "read", "expires_at": day_expires + 1}),
    ] {
        let v = client_error(
            new_token(&t, &day, body.clone()).await,
            StatusCode::FORBIDDEN,
        )
        .await;
        assert!(
            v["error"].as_str().unwrap().contains("outlives"),
            "{body}: {v}"
        );
    }
    // No later than the creator's expiry is fine, and stays bounded in turn.
    let (child, v) = created(
        new_token(
            &t,
            &day,
            serde_json::json!({"scope": "write", "expires_at": day_expires}),
        )
        .await,
    )
    .await;
    assert_eq!(v["expires_at"], day_expires);
    client_error(
        new_token(&t, &child, serde_json::json!({"scope": "read"})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    // Scope.
    let (read, _) =
        created(new_token(&t, &alice, serde_json::json!({"scope": "read"})).await).await;
    let v = client_error(
        new_token(&t, &read, serde_json::json!({"scope": "write"})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("cannot create a `write` token"),
        "{v}"
    );
    // Namespace: inherited, and no other.
    let (limited, _) = created(
        new_token(
            &t,
            &alice,
            serde_json::json!({"scope": "admin", "owner": "alice"}),
        )
        .await,
    )
    .await;
    client_error(
        new_token(
            &t,
            &limited,
            serde_json::json!({"scope": "read", "owner": "bob"}),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let (_, v) = created(new_token(&t, &limited, serde_json::json!({"scope": "read"})).await).await;
    assert_eq!(v["owner"], "alice");
    // Nonsense is refused plainly.
    client_error(
        new_token(
            &t,
            &alice,
            serde_json::json!({"scope": "read", "expires_at": 1}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    // Nothing refused was stored: alice holds the test token and the five made above.
    let list: Value = t
        .client
        .get(t.api("/tokens"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["tokens"].as_array().unwrap().len(), 6, "{list}");
}

/// A namespace-limited token cannot create organisations, a read token cannot create
/// sign-up invites, and the Hub's repo delete needs `admin` as the native one does.
async fn namespace_and_scope_limits_hold_beyond_tokens(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let (limited, _) = created(
        new_token(
            &t,
            &alice,
            serde_json::json!({"scope": "admin", "owner": "alice"}),
        )
        .await,
    )
    .await;
    let res = t
        .post_json(&limited, "/orgs", &serde_json::json!({"name": "acme"}))
        .await;
    let v = client_error(res, StatusCode::FORBIDDEN).await;
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("cannot create organisations"),
        "{v}"
    );
    let res = t
        .client
        .get(t.api("/orgs/acme/members"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "no organisation was created"
    );

    let admin = t.admin_token().await;
    let (admin_read, _) =
        created(new_token(&t, &admin, serde_json::json!({"scope": "read"})).await).await;
    let (admin_write, _) =
        created(new_token(&t, &admin, serde_json::json!({"scope": "write"})).await).await;
    for token in [&admin_read, &admin_write] {
        let res = t
            .client
            .post(t.api("/invites"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let v = client_error(res, StatusCode::FORBIDDEN).await;
        assert!(
            v["error"].as_str().unwrap().contains("`admin` token"),
            "{v}"
        );
    }
    let invites: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM invites")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(invites.0, 0);
    let res = t
        .client
        .post(t.api("/invites"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);

    let res = t
        .post_json(&alice, "/repos", &serde_json::json!({"id": "alice/empty"}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (write, _) =
        created(new_token(&t, &alice, serde_json::json!({"scope": "write"})).await).await;
    let delete = |token: String| {
        t.client
            .delete(format!("{}/api/repos/delete", t.url))
            .bearer_auth(token)
            .json(&serde_json::json!({"name": "alice/empty", "type": "model"}))
            .send()
    };
    let res = delete(write).await.unwrap();
    assert!(
        res.headers().contains_key("x-error-message"),
        "the Hub's shape"
    );
    let v = client_error(res, StatusCode::FORBIDDEN).await;
    assert!(v["error"].as_str().unwrap().contains("`admin` role"), "{v}");
    assert_eq!(
        t.get("/models/alice/empty").await.status(),
        StatusCode::OK,
        "still there"
    );
    assert_eq!(
        delete(alice.clone()).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        t.get("/models/alice/empty").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// Signs in through the form; the browser's cookies (pre-session id and session).
async fn signed_in(
    t: &TestApp,
    c: &Client,
    name: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (String, reqwest::Response) {
    let mut get = c.get(format!("{}/login", t.url));
    for (k, v) in headers {
        get = get.header(*k, *v);
    }
    let res = get.send().await.unwrap();
    let (pre, _) = set_cookie(&res, "granary_csrf").unwrap();
    let csrf = hidden_csrf(&res.text().await.unwrap());
    let mut post = c.post(format!("{}/login", t.url)).header(COOKIE, &pre);
    for (k, v) in headers {
        post = post.header(*k, *v);
    }
    let res = post
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", name),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "sign-in of {name}");
    let (session, _) = set_cookie(&res, "granary_session").unwrap();
    (format!("{pre}; {session}"), res)
}

/// Whether a response set `name` with the `Secure` attribute, and carried HSTS.
fn secure_and_hsts(res: &reqwest::Response, name: &str) -> (bool, bool) {
    let (_, full) = set_cookie(res, name).unwrap_or_else(|| panic!("no {name} cookie"));
    let secure = full
        .split(';')
        .any(|a| a.trim().eq_ignore_ascii_case("secure"));
    let hsts = res
        .headers()
        .get("strict-transport-security")
        .map(|v| v.to_str().unwrap().to_string());
    if let Some(v) = &hsts {
        assert!(v.starts_with("max-age=") && v != "max-age=0", "{v}");
    }
    (secure, hsts.is_some())
}

/// Over HTTPS (a `https://` public URL, or a trusted proxy saying so) the cookies are
/// `Secure` and every answer carries HSTS; `X-Forwarded-Proto` from anyone else is ignored.
async fn session_cookies_are_secure_over_https(backend: Backend) {
    let c = browser();
    let https = TestApp::start_with(backend, |c| {
        c.web.public_url = Some("https://granary.example".into())
    })
    .await;
    with_password(&https, "alice", "alice-password-1").await;
    let res = c.get(format!("{}/login", https.url)).send().await.unwrap();
    assert_eq!(secure_and_hsts(&res, "granary_csrf"), (true, true));
    let (_, res) = signed_in(&https, &c, "alice", "alice-password-1", &[]).await;
    assert_eq!(secure_and_hsts(&res, "granary_session"), (true, true));
    let res = https.get("/models").await;
    assert!(
        res.headers().contains_key("strict-transport-security"),
        "HSTS on every answer"
    );

    // Plain HTTP: no Secure (the browser would drop the cookie), no HSTS, whatever a
    // client that is not a trusted proxy claims.
    let plain = TestApp::start(backend).await;
    with_password(&plain, "alice", "alice-password-1").await;
    let res = c
        .get(format!("{}/login", plain.url))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(secure_and_hsts(&res, "granary_csrf"), (false, false));
    let (_, res) = signed_in(
        &plain,
        &c,
        "alice",
        "alice-password-1",
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert_eq!(secure_and_hsts(&res, "granary_session"), (false, false));

    // Behind a trusted proxy that terminates TLS.
    let proxied = TestApp::start_with(backend, |c| {
        c.limits.trusted_proxies = "127.0.0.1".parse().unwrap()
    })
    .await;
    with_password(&proxied, "alice", "alice-password-1").await;
    let res = c
        .get(format!("{}/login", proxied.url))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(secure_and_hsts(&res, "granary_csrf"), (true, true));
    let (_, res) = signed_in(
        &proxied,
        &c,
        "alice",
        "alice-password-1",
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert_eq!(secure_and_hsts(&res, "granary_session"), (true, true));
    let res = c
        .get(format!("{}/login", proxied.url))
        .header("x-forwarded-proto", "http")
        .send()
        .await
        .unwrap();
    assert_eq!(secure_and_hsts(&res, "granary_csrf"), (false, false));
}

/// A form token is an HMAC of the browser's session: one taken from another session,
/// or a value planted in the old double-submit cookie, is refused.
async fn csrf_tokens_are_bound_to_the_session(backend: Backend) {
    let t = TestApp::start(backend).await;
    let c = browser();
    with_password(&t, "alice", "alice-password-1").await;
    with_password(&t, "bob", "bob-password-22").await;
    let (alice, _) = signed_in(&t, &c, "alice", "alice-password-1", &[]).await;
    let (bob, _) = signed_in(&t, &c, "bob", "bob-password-22", &[]).await;
    let form_token = |cookies: String| {
        let c = c.clone();
        let url = format!("{}/settings/tokens", t.url);
        async move {
            hidden_csrf(
                &c.get(url)
                    .header(COOKIE, cookies)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap(),
            )
        }
    };
    let bobs = form_token(bob.clone()).await;
    let alices = form_token(alice.clone()).await;
    assert_ne!(alices, bobs);
    let create = |cookies: String, csrf: String| {
        c.post(format!("{}/settings/tokens", t.url))
            .header(COOKIE, cookies)
            .form(&[
                ("csrf", csrf.as_str()),
                ("scope", "admin"),
                ("name", "stolen"),
            ])
            .send()
    };
    // Bob's token with alice's session.
    let res = create(alice.clone(), bobs.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("CSRF"));
    // A planted double-submit pair: the cookie and the field agree, but are no HMAC of alice's session.
    let planted = "ab".repeat(32);
    let session = alice.split("; ").nth(1).unwrap();
    let res = create(
        format!("granary_csrf={planted}; {session}"),
        planted.clone(),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let names: Vec<(String,)> = sqlx::query_as("SELECT name FROM api_tokens")
        .fetch_all(&t.app.db.pool)
        .await
        .unwrap();
    assert!(
        names.iter().all(|(n,)| n != "stolen"),
        "a refused form made a token"
    );
    // Alice's own token works.
    let res = create(alice.clone(), alices).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Sign-in forms: a token is bound to its browser's pre-session id.
    let res = c.get(format!("{}/login", t.url)).send().await.unwrap();
    let theirs = hidden_csrf(&res.text().await.unwrap());
    let res = c.get(format!("{}/login", t.url)).send().await.unwrap();
    let (mine, _) = set_cookie(&res, "granary_csrf").unwrap();
    let res = c
        .post(format!("{}/login", t.url))
        .header(COOKIE, mine)
        .form(&[
            ("csrf", theirs.as_str()),
            ("username", "alice"),
            ("password", "alice-password-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&res, "granary_session").is_none());
}

/// The mode bits of a file or directory.
#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The database, its WAL files and the signing keys are readable by the server's user
/// alone (0600, in a 0700 data directory); files an older version left open are tightened.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_directory_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("data");
    let t = TestApp::start_with(Backend::Sqlite, |c| c.data_dir = data.clone()).await;
    let token = t.user("alice").await;
    t.push_ok(&token, "alice/m", &common::model_files(), None)
        .await;
    // The Hub's LFS signing key is made on the first upload URL.
    let oid = granary_core::Sha256::of(b"not uploaded yet").hex();
    let res = t
        .client
        .post(format!("{}/alice/m.git/info/lfs/objects/batch", t.url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": 16}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(mode(&data), 0o700, "the data directory");
    for name in [
        "granary.db",
        "granary.db-wal",
        "granary.db-shm",
        "session.key",
        "hf-signing.key",
    ] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    drop(t);

    // A data directory and keys an older version left readable by others.
    let old = parent.path().join("old");
    std::fs::create_dir(&old).unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    for name in ["session.key", "hf-signing.key"] {
        std::fs::write(old.join(name), "ab".repeat(32)).unwrap();
        std::fs::set_permissions(old.join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let t = TestApp::start_with(Backend::Sqlite, |c| c.data_dir = old.clone()).await;
    assert_eq!(mode(&old), 0o700);
    for name in ["session.key", "hf-signing.key", "granary.db"] {
        assert_eq!(mode(&old.join(name)), 0o600, "{name}");
    }
    assert_eq!(
        std::fs::read_to_string(old.join("session.key")).unwrap(),
        "ab".repeat(32),
        "the key is kept"
    );
    drop(t);
}
