//! Accounts in the browser, over real HTTP: sign-in with a password, the
//! session cookie, CSRF on every state-changing form, tokens made and revoked
//! on the web, model settings, license acceptance, sign-out revoking the
//! session, sign-up modes and the sign-in rate limit, webhooks on the settings page.

mod common;

use common::{Backend, README, TestApp};
use granary_server::db::users;
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Client, StatusCode};
use serde_json::Value;

on_every_backend!(
    sign_in_tokens_settings_and_sign_out,
    sign_up_modes_and_rate_limits,
    webhooks_on_the_settings_page,
    the_web_deletes_a_model_as_the_api_does,
    the_signed_in_shell,
    gated_models_on_the_web,
);

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of a Set-Cookie header for `name`.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.to_string())
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

fn hidden_csrf(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[i..i + 64].to_string()
}

async fn with_password(t: &TestApp, name: &str, password: &str) {
    let user = users::ensure(&t.app.db, name, false, granary_core::time::now_ms())
        .await
        .unwrap();
    users::set_password(
        &t.app.db,
        &user.id,
        &granary_server::passwords::hash(password).unwrap(),
    )
    .await
    .unwrap();
}

/// Signs in through the form; returns the cookie header value (csrf + session) and the csrf token.
async fn sign_in(t: &TestApp, c: &Client, name: &str, password: &str) -> (String, String) {
    let res = c.get(format!("{}/login", t.url)).send().await.unwrap();
    let csrf_cookie = pair(&set_cookie(&res, "granary_csrf").unwrap());
    let csrf = hidden_csrf(&res.text().await.unwrap());
    let res = c
        .post(format!("{}/login", t.url))
        .header(COOKIE, &csrf_cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", name),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "sign-in of {name}");
    let session = set_cookie(&res, "granary_session").unwrap();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    let cookies = format!("{csrf_cookie}; {}", pair(&session));
    // The forms of a session carry a token bound to that session.
    let res = c
        .get(format!("{}/settings/tokens", t.url))
        .header(COOKIE, &cookies)
        .send()
        .await
        .unwrap();
    let session_csrf = hidden_csrf(&res.text().await.unwrap());
    assert_ne!(
        session_csrf, csrf,
        "a session's forms are bound to the session, not to the sign-in form"
    );
    (cookies, session_csrf)
}

async fn sign_in_tokens_settings_and_sign_out(backend: Backend) {
    let t = TestApp::start(backend).await;
    let c = client();
    with_password(&t, "alice", "alice-password-1").await;
    with_password(&t, "bob", "bob-password-22").await;
    let alice_token = t.user("alice").await;
    let files = vec![
        ("README.md", README.as_bytes().to_vec()),
        ("w.bin", b"weights".to_vec()),
    ];
    t.push_ok(&alice_token, "alice/m", &files, None).await;

    // A form without its CSRF token is refused, and so is a wrong password.
    let res = c.get(format!("{}/login", t.url)).send().await.unwrap();
    let csrf_cookie = pair(&set_cookie(&res, "granary_csrf").unwrap());
    let csrf = hidden_csrf(&res.text().await.unwrap());
    let res = c
        .post(format!("{}/login", t.url))
        .header(COOKIE, &csrf_cookie)
        .form(&[("username", "alice"), ("password", "alice-password-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&res, "granary_session").is_none());
    let res = c
        .post(format!("{}/login", t.url))
        .header(COOKIE, &csrf_cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", "wrong-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await.unwrap().contains("do not match"));

    let (cookies, csrf) = sign_in(&t, &c, "alice", "alice-password-1").await;

    // The session shows the user's tokens page; a new token is shown once and works.
    let res = c
        .get(format!("{}/settings/tokens", t.url))
        .header(COOKIE, &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("API tokens of alice"));
    let res = c
        .post(format!("{}/settings/tokens", t.url))
        .header(COOKIE, &cookies)
        .form(&[
            ("csrf", csrf.as_str()),
            ("scope", "read"),
            ("name", "laptop"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let i = html.find("<pre><code>gr_").expect("the new token") + 11;
    let token = &html[i..i + 43];
    let who: Value = t
        .client
        .get(t.api("/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who["name"], "alice");

    // CSRF: the same form with a forged or missing token does nothing.
    for bad in [
        "",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let res = c
            .post(format!("{}/settings/tokens", t.url))
            .header(COOKIE, &cookies)
            .form(&[("csrf", bad), ("scope", "admin")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    // A session cookie alone never authorises a state change on the API.
    let res = c
        .post(t.api("/tokens"))
        .header(COOKIE, &cookies)
        .json(&serde_json::json!({"scope": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let list = users::list_tokens(
        &t.app.db,
        &users::find_by_name(&t.app.db, "alice")
            .await
            .unwrap()
            .unwrap()
            .id,
    )
    .await
    .unwrap();
    assert_eq!(list.len(), 2, "only the test token and `laptop`");

    // Model settings: private and gated through the form.
    let res = c
        .get(format!("{}/alice/m/settings", t.url))
        .header(COOKIE, &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = c
        .post(format!("{}/alice/m/settings", t.url))
        .header(COOKIE, &cookies)
        .form(&[
            ("csrf", csrf.as_str()),
            ("visibility", "public"),
            ("gate", "gated"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let info: Value = t.get("/models/alice/m").await.json().await.unwrap();
    assert_eq!(info["gated"], true);

    // Bob may not open alice's settings; he accepts the license on the web, then downloads.
    let (bob_cookies, bob_csrf) = sign_in(&t, &c, "bob", "bob-password-22").await;
    let res = c
        .get(format!("{}/alice/m/settings", t.url))
        .header(COOKIE, &bob_cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let bob_token = t.user("bob").await;
    let file = t.api("/models/alice/m/files/main/w.bin");
    assert_eq!(
        t.client
            .get(&file)
            .bearer_auth(&bob_token)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    let res = c
        .post(format!("{}/alice/m/accept-license", t.url))
        .header(COOKIE, &bob_cookies)
        .form(&[("csrf", bob_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        t.client
            .get(&file)
            .bearer_auth(&bob_token)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // Private through the form: bob no longer sees it.
    c.post(format!("{}/alice/m/settings", t.url))
        .header(COOKIE, &cookies)
        .form(&[
            ("csrf", csrf.as_str()),
            ("visibility", "private"),
            ("gate", "gated"),
        ])
        .send()
        .await
        .unwrap();
    let res = c
        .get(format!("{}/alice/m", t.url))
        .header(COOKIE, &bob_cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = c
        .get(format!("{}/alice/m", t.url))
        .header(COOKIE, &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // A tampered session cookie is anonymous.
    let tampered = cookies.replace("granary_session=ey", "granary_session=eX");
    let res = c
        .get(format!("{}/settings/tokens", t.url))
        .header(COOKIE, &tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // Signing out revokes the session: the old cookie is worth nothing.
    let res = c
        .post(format!("{}/logout", t.url))
        .header(COOKIE, &cookies)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        set_cookie(&res, "granary_session")
            .unwrap()
            .contains("Max-Age=0")
    );
    let res = c
        .get(format!("{}/settings/tokens", t.url))
        .header(COOKIE, &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "a revoked session must not sign in"
    );
    let res = c
        .get(format!("{}/alice/m", t.url))
        .header(COOKIE, &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // The audit log recorded the failure and the changes.
    let events: Vec<(String,)> = sqlx::query_as("SELECT event FROM audit_log")
        .fetch_all(&t.app.db.pool)
        .await
        .unwrap();
    let events: Vec<String> = events.into_iter().map(|(e,)| e).collect();
    for e in [
        "signin.failed",
        "signin.ok",
        "token.created",
        "repo.gate",
        "repo.visibility",
    ] {
        assert!(events.iter().any(|x| x == e), "{e} missing from {events:?}");
    }
}

async fn sign_up_modes_and_rate_limits(backend: Backend) {
    let closed = TestApp::start(backend).await;
    let c = client();
    assert_eq!(
        c.get(format!("{}/signup", closed.url))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );

    let open = TestApp::start_with(backend, |cfg| cfg.accounts.signup = "open".into()).await;
    let res = c.get(format!("{}/signup", open.url)).send().await.unwrap();
    let cookie = pair(&set_cookie(&res, "granary_csrf").unwrap());
    let csrf = hidden_csrf(&res.text().await.unwrap());
    let post = |form: Vec<(&'static str, String)>| {
        c.post(format!("{}/signup", open.url))
            .header(COOKIE, cookie.clone())
            .form(&form)
            .send()
    };
    let res = post(vec![
        ("csrf", csrf.clone()),
        ("username", "newbie".into()),
        ("password", "short".into()),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("at least 10"));
    let res = post(vec![
        ("csrf", csrf.clone()),
        ("username", "api".into()),
        ("password", "long-enough-password".into()),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = post(vec![
        ("csrf", csrf.clone()),
        ("username", "newbie".into()),
        ("password", "long-enough-password".into()),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    sign_in(&open, &c, "newbie", "long-enough-password").await;
    let res = post(vec![
        ("csrf", csrf.clone()),
        ("username", "NEWBIE".into()),
        ("password", "long-enough-password".into()),
    ])
    .await
    .unwrap();
    assert!(res.text().await.unwrap().contains("is taken"));

    // Invite-only: a code from an admin, usable once.
    let invite = TestApp::start_with(backend, |cfg| cfg.accounts.signup = "invite".into()).await;
    let now = granary_core::time::now_ms();
    let root = users::ensure(&invite.app.db, "root", true, now)
        .await
        .unwrap();
    let root_token = users::create_token(&invite.app.db, &root.id, "t", "admin", now)
        .await
        .unwrap();
    let v: Value = invite
        .client
        .post(invite.api("/invites"))
        .bearer_auth(&root_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = v["code"].as_str().unwrap().to_string();
    let res = c
        .get(format!("{}/signup", invite.url))
        .send()
        .await
        .unwrap();
    let cookie = pair(&set_cookie(&res, "granary_csrf").unwrap());
    let csrf = hidden_csrf(&res.text().await.unwrap());
    for (name, want) in [
        ("first", StatusCode::OK),
        ("second", StatusCode::BAD_REQUEST),
    ] {
        let res = c
            .post(format!("{}/signup", invite.url))
            .header(COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", name),
                ("password", "long-enough-password"),
                ("invite", code.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), want, "{name}");
    }

    // Sign-in attempts are rate limited per account and address.
    let res = c.get(format!("{}/login", open.url)).send().await.unwrap();
    let cookie = pair(&set_cookie(&res, "granary_csrf").unwrap());
    let csrf = hidden_csrf(&res.text().await.unwrap());
    let mut limited = false;
    // Twice the limit and one: the minute may turn during the loop and reset the count once.
    for _ in 0..41 {
        let res = c
            .post(format!("{}/login", open.url))
            .header(COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "newbie"),
                ("password", "guess-guess-guess"),
            ])
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(limited, "41 failed sign-ins in a minute must hit the limit");
}

/// A model's admins add a webhook on its settings page (the secret shown once, the SSRF
/// guard as on the API) and remove it; nobody else may.
async fn webhooks_on_the_settings_page(backend: Backend) {
    let t = TestApp::start(backend).await;
    let c = client();
    with_password(&t, "alice", "alice-password-1").await;
    with_password(&t, "bob", "bob-password-22").await;
    let alice = t.user("alice").await;
    t.push_ok(
        &alice,
        "alice/m",
        &[("README.md", README.as_bytes().to_vec())],
        None,
    )
    .await;
    let (cookies, csrf) = sign_in(&t, &c, "alice", "alice-password-1").await;
    let add = |url: &'static str, cookies: String, csrf: String| {
        c.post(format!("{}/alice/m/webhooks", t.url))
            .header(COOKIE, cookies)
            .form(&[
                ("csrf", csrf.as_str()),
                ("url", url),
                ("events", "tag.created, repo.deleted"),
            ])
            .send()
    };

    // A loopback receiver is refused here too (the server has no --webhooks-allow-private).
    let res = add("http://127.0.0.1:9/hook", cookies.clone(), csrf.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("public addresses"));
    // A public one is registered (nothing is sent until an event happens).
    let res = add("http://1.1.1.1/hook", cookies.clone(), csrf.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let secret_at = html.find("whsec_").expect("the secret is shown once");
    let secret = &html[secret_at..secret_at + 70];
    let page = c
        .get(format!("{}/alice/m/settings", t.url))
        .header(COOKIE, &cookies)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("http://1.1.1.1/hook") && page.contains("tag.created, repo.deleted"));
    assert!(!page.contains(secret), "the secret is not shown again");
    let hooks: Value = c
        .get(t.api("/models/alice/m/webhooks"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = hooks["webhooks"][0]["id"].as_str().unwrap().to_string();

    // Bob may neither add nor remove; a form without a valid CSRF token does nothing.
    let (bob_cookies, bob_csrf) = sign_in(&t, &c, "bob", "bob-password-22").await;
    let res = add("http://1.1.1.1/bob", bob_cookies.clone(), bob_csrf.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let remove = |cookies: String, csrf: String| {
        c.post(format!("{}/alice/m/webhooks/{id}/delete", t.url))
            .header(COOKIE, cookies)
            .form(&[("csrf", csrf.as_str())])
            .send()
    };
    assert_eq!(
        remove(bob_cookies, bob_csrf).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_ne!(
        remove(cookies.clone(), "0".repeat(64))
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
    let res = remove(cookies, csrf).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        granary_server::db::webhooks::find(&t.app.db, &id)
            .await
            .unwrap()
            .is_none()
    );
}

/// Deleting a model on the web is the one domain operation the native API and the Hub
/// API call (`repos::delete`): the model and its revisions go, and the audit log
/// records the same `repo.deleted` event with the same actor and subject. A wrong
/// confirmation deletes nothing.
async fn the_web_deletes_a_model_as_the_api_does(backend: Backend) {
    let t = TestApp::start(backend).await;
    let c = client();
    with_password(&t, "alice", "alice-password-1").await;
    let token = t.user("alice").await;
    let files = vec![("README.md", README.as_bytes().to_vec())];
    for model in ["alice/webbed", "alice/native"] {
        t.push_ok(&token, model, &files, None).await;
    }
    let (cookies, csrf) = sign_in(&t, &c, "alice", "alice-password-1").await;
    let delete = |confirm: &'static str| {
        c.post(format!("{}/alice/webbed/delete", t.url))
            .header(COOKIE, &cookies)
            .form(&[("csrf", csrf.as_str()), ("confirm", confirm)])
            .send()
    };
    let res = delete("alice/other").await.unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(t.get("/models/alice/webbed").await.status(), StatusCode::OK);
    let res = delete("alice/webbed").await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/alice");
    let res = t
        .client
        .delete(t.api("/models/alice/native"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for model in ["alice/webbed", "alice/native"] {
        assert_eq!(
            t.get(&format!("/models/{model}")).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    let (revisions,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM revisions")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        revisions, 0,
        "deleted with their revisions, on both surfaces"
    );
    let deleted: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT actor, subject FROM audit_log WHERE event = 'repo.deleted' ORDER BY subject",
    )
    .fetch_all(&t.app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        deleted,
        [
            (Some("alice".into()), Some("alice/native".into())),
            (Some("alice".into()), Some("alice/webbed".into())),
        ]
    );
}

async fn page_as(t: &TestApp, c: &Client, cookies: &str, path: &str) -> (StatusCode, String) {
    let res = c
        .get(format!("{}{path}", t.url))
        .header(COOKIE, cookies)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

/// Issue 22, item 1: the header knows who is signed in; pages that need a session send
/// anonymous visitors to sign in and back; dates are dates; destructive buttons ask first.
async fn the_signed_in_shell(backend: Backend) {
    let t = TestApp::start(backend).await;
    let c = client();
    with_password(&t, "alice", "alice-password-1").await;
    with_password(&t, "bob", "bob-password-22").await;
    let alice_token = t.user("alice").await;
    t.push_ok(
        &alice_token,
        "alice/m",
        &[("README.md", README.as_bytes().to_vec())],
        None,
    )
    .await;
    // An organisation alice belongs to, for her settings page.
    let res = t
        .post_json(&alice_token, "/orgs", &serde_json::json!({"name": "acme"}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // Anonymous: "Sign in" in the header; pages that need a session redirect there and back.
    let (_, home) = page_as(&t, &c, "", "/").await;
    assert!(home.contains(r#"class="signin" href="/login""#));
    assert!(!home.contains("user-menu"));
    for (path, next) in [
        ("/settings/tokens", "%2Fsettings%2Ftokens"),
        ("/settings", "%2Fsettings"),
        ("/alice/m/settings", "%2Falice%2Fm%2Fsettings"),
    ] {
        let res = c.get(format!("{}{path}", t.url)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(res.headers()["location"], format!("/login?next={next}"));
    }
    let res = c
        .get(format!("{}/login?next=%2Fsettings%2Ftokens", t.url))
        .send()
        .await
        .unwrap();
    let csrf_cookie = pair(&set_cookie(&res, "granary_csrf").unwrap());
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"<input type="hidden" name="next" value="/settings/tokens">"#));
    let csrf = hidden_csrf(&html);
    let sign_in_to = |next: &'static str| {
        c.post(format!("{}/login", t.url))
            .header(COOKIE, &csrf_cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "alice"),
                ("password", "alice-password-1"),
                ("next", next),
            ])
            .send()
    };
    let res = sign_in_to("/settings/tokens").await.unwrap();
    assert_eq!(res.headers()["location"], "/settings/tokens");
    let cookies = format!(
        "{csrf_cookie}; {}",
        pair(&set_cookie(&res, "granary_session").unwrap())
    );
    // Never back to another site.
    for evil in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let res = sign_in_to(evil).await.unwrap();
        assert_eq!(res.headers()["location"], "/alice", "{evil}");
    }

    // Signed in: the user menu instead of "Sign in", on every page, errors included.
    for path in ["/", "/models", "/alice/m", "/alice/nope"] {
        let (_, html) = page_as(&t, &c, &cookies, path).await;
        assert!(
            html.contains(r#"<span class="user-name">alice</span>"#),
            "{path}"
        );
        assert!(!html.contains(r#"class="signin""#), "{path}");
        for link in [
            "/alice",
            "/settings#organisations",
            "/settings/tokens",
            "/settings",
        ] {
            assert!(
                html.contains(&format!(r#"<a href="{link}">"#)),
                "{path}: {link}"
            );
        }
        assert!(html.contains(r#"action="/logout""#), "{path}");
    }
    let (status, html) = page_as(&t, &c, &cookies, "/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"<a href="/acme">acme</a></td><td>admin</td>"#),
        "{html}"
    );
    // An organisation's page says so; its members are listed to its members only.
    let (status, html) = page_as(&t, &c, &cookies, "/acme").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Organisation · 0 models"), "{html}");
    assert!(html.contains(r#"<a href="/alice">alice</a> <span class="label">admin</span>"#));
    let (_, html) = page_as(&t, &c, "", "/acme").await;
    assert!(html.contains("Organisation · 0 models"));
    assert!(!html.contains(r#"<ul class="members">"#) && html.contains("Only members of acme"));
    let (_, html) = page_as(&t, &c, "", "/alice").await;
    assert!(html.contains("User · 1 model"), "{html}");

    // Tokens: dates, not epoch milliseconds; revoking asks first and looks destructive.
    let (_, html) = page_as(&t, &c, &cookies, "/settings/tokens").await;
    let csrf = hidden_csrf(&html);
    let res = c
        .post(format!("{}/settings/tokens", t.url))
        .header(COOKIE, &cookies)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "ci"),
            ("expires_days", "30"),
        ])
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains(" UTC</td>"), "expiry as a date");
    let epoch = regex_lite_digits(&html);
    assert!(epoch.is_none(), "epoch milliseconds on the page: {epoch:?}");
    assert!(html.contains(r#"<details class="confirm">"#));
    assert!(html.contains(r#"<button type="submit" class="danger">Revoke ci</button>"#));

    // The Settings tab shows to the model's admins only.
    let (_, html) = page_as(&t, &c, &cookies, "/alice/m").await;
    assert!(html.contains(r#"<a href="/alice/m/settings">Settings</a>"#));
    let (status, html) = page_as(&t, &c, &cookies, "/alice/m/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<a href="/alice/m/settings" aria-current="page">Settings</a>"#));
    assert!(html.contains(r#"<button type="submit" class="danger">Delete alice/m</button>"#));
    let (bob, _) = sign_in(&t, &c, "bob", "bob-password-22").await;
    let (_, html) = page_as(&t, &c, &bob, "/alice/m").await;
    assert!(html.contains(r#"<span class="user-name">bob</span>"#));
    assert!(!html.contains("/alice/m/settings"));
    let (_, html) = page_as(&t, &c, "", "/alice/m").await;
    assert!(!html.contains("/alice/m/settings"));
}

/// A table cell holding a bare number of 13 digits (an epoch in milliseconds), if any.
fn regex_lite_digits(html: &str) -> Option<String> {
    html.split("<td>").skip(1).find_map(|cell| {
        let text = cell.split("</td>").next()?;
        (text.len() == 13 && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.to_string())
    })
}

/// Issue 22, item 4: a gated model shows a badge; anonymous visitors are asked to sign in,
/// signed-in users to accept the license (a form with CSRF); no page links its files until
/// then, and neither the file viewer nor raw shows their bytes.
async fn gated_models_on_the_web(backend: Backend) {
    let t = TestApp::start(backend).await;
    let c = client();
    with_password(&t, "alice", "alice-password-1").await;
    with_password(&t, "bob", "bob-password-22").await;
    let alice_token = t.user("alice").await;
    let files = vec![
        ("README.md", README.as_bytes().to_vec()),
        ("config.json", br#"{"secret_sauce": 1}"#.to_vec()),
    ];
    t.push_ok(&alice_token, "alice/g", &files, None).await;
    let res = t
        .client
        .patch(t.api("/models/alice/g/settings"))
        .bearer_auth(&alice_token)
        .json(&serde_json::json!({"gated": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let file_links = "/api/v1/models/alice/g/files/";

    // Anonymous: the badge and a sign-in prompt that comes back here; no file links or bytes.
    let (status, html) = page_as(&t, &c, "", "/alice/g").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<span class="badge badge-gated">gated</span>"#));
    assert!(
        html.contains(r#"href="/login?next=%2Falice%2Fg">sign in</a>"#),
        "{html}"
    );
    assert!(!html.contains("accept-license"));
    for path in ["/alice/g/tree/main", "/alice/g/blob/main/config.json"] {
        let (status, html) = page_as(&t, &c, "", path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!html.contains(file_links), "{path}: {html}");
        assert!(!html.contains("secret_sauce"), "{path}");
        assert!(!html.contains("/alice/g/raw/"), "{path}");
    }
    let res = c
        .get(format!("{}/alice/g/raw/main/config.json", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(!res.text().await.unwrap().contains("secret_sauce"));

    // Accepting needs a session and the CSRF token.
    let res = c.get(format!("{}/login", t.url)).send().await.unwrap();
    let pre = pair(&set_cookie(&res, "granary_csrf").unwrap());
    let pre_csrf = hidden_csrf(&res.text().await.unwrap());
    let res = c
        .post(format!("{}/alice/g/accept-license", t.url))
        .header(COOKIE, &pre)
        .form(&[("csrf", pre_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "no session");
    let (bob, bob_csrf) = sign_in(&t, &c, "bob", "bob-password-22").await;
    let (_, html) = page_as(&t, &c, &bob, "/alice/g").await;
    assert!(
        html.contains(r#"<form method="post" action="/alice/g/accept-license">"#),
        "{html}"
    );
    assert!(!html.contains(file_links));
    let res = c
        .post(format!("{}/alice/g/accept-license", t.url))
        .header(COOKIE, &bob)
        .form(&[("csrf", "0".repeat(64).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "a forged CSRF token");
    let (_, html) = page_as(&t, &c, &bob, "/alice/g/tree/main").await;
    assert!(!html.contains(file_links), "nothing accepted yet");
    let res = c
        .post(format!("{}/alice/g/accept-license", t.url))
        .header(COOKIE, &bob)
        .form(&[("csrf", bob_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/alice/g");

    // Accepted: the files are offered and shown, the prompt is gone.
    let (_, html) = page_as(&t, &c, &bob, "/alice/g").await;
    assert!(!html.contains("accept-license"));
    let (_, html) = page_as(&t, &c, &bob, "/alice/g/tree/main").await;
    assert!(html.contains(file_links), "{html}");
    let (_, html) = page_as(&t, &c, &bob, "/alice/g/blob/main/config.json").await;
    assert!(html.contains("secret_sauce"), "{html}");
    // The owner never needs to accept.
    let (alice, _) = sign_in(&t, &c, "alice", "alice-password-1").await;
    let (_, html) = page_as(&t, &c, &alice, "/alice/g/tree/main").await;
    assert!(html.contains(file_links));
}
