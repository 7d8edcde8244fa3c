//! The bad-input corpus of connections, rate limits and sessions
//! (docs/SECURITY.md, "Connections, rate limits and sessions"): each attack
//! is tried as an attacker would and must be refused with a clear answer in
//! the API's JSON error shape, leaving nothing changed.

mod common;

use common::{Backend, TestApp};
use granary_server::db::users;
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Client, StatusCode};
use serde_json::Value;

/// Asserts a client error with the JSON error shape; returns the body.
async fn client_error(res: reqwest::Response, status: StatusCode) -> Value {
    let got = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert!(
        v["error"].as_str().is_some_and(|e| !e.is_empty()),
        "no error sentence: {text}"
    );
    assert!(v["code"].as_str().is_some(), "no code: {text}");
    v
}

on_every_backend!(
    stats_are_for_server_admins,
    forwarded_for_only_from_trusted_proxies,
    sign_in_failures_never_lock_out_the_owner
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

/// A client that does not follow redirects (sign-in answers 303).
fn browser() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of the response's Set-Cookie for `name`, and the whole header.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<(String, String)> {
    let full = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))?
        .to_string();
    Some((full.split(';').next().unwrap().to_string(), full))
}

/// The hidden CSRF field of a form page.
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

/// The sign-in form as a browser behind `forwarded_for` gets it: its cookie and CSRF field.
async fn login_form(t: &TestApp, c: &Client, forwarded_for: &str) -> (String, String) {
    let res = c
        .get(format!("{}/login", t.url))
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = set_cookie(&res, "granary_csrf").unwrap().0;
    (cookie, hidden_csrf(&res.text().await.unwrap()))
}

/// One sign-in attempt through the form, from `forwarded_for`; the response.
async fn sign_in_from(
    t: &TestApp,
    c: &Client,
    forwarded_for: &str,
    name: &str,
    password: &str,
) -> reqwest::Response {
    let (cookie, csrf) = login_form(t, c, forwarded_for).await;
    c.post(format!("{}/login", t.url))
        .header(COOKIE, cookie)
        .header("x-forwarded-for", forwarded_for)
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", name),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

/// The addresses the audit log recorded for `event`.
async fn audit_ips(t: &TestApp, event: &str) -> Vec<String> {
    let rows: Vec<(Option<String>,)> = sqlx::query_as("SELECT ip FROM audit_log WHERE event = $1")
        .bind(event)
        .fetch_all(&t.app.db.pool)
        .await
        .unwrap();
    rows.into_iter()
        .map(|(ip,)| ip.unwrap_or_default())
        .collect()
}

/// `X-Forwarded-For` names the client only when a trusted proxy sent it; from anyone
/// else it is ignored, so forging it neither hides an address nor dodges a limit.
async fn forwarded_for_only_from_trusted_proxies(backend: Backend) {
    let direct = TestApp::start_with(backend, |c| c.accounts.auth_rate_per_minute = 3).await;
    with_password(&direct, "alice", "alice-password-1").await;
    let c = browser();
    let mut limited = false;
    for i in 0..7 {
        // A new forged address every time: still one client, still limited.
        let res = sign_in_from(
            &direct,
            &c,
            &format!("203.0.113.{i}"),
            "alice",
            "wrong-password",
        )
        .await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(
        limited,
        "forged X-Forwarded-For headers dodged the sign-in limit"
    );
    let ips = audit_ips(&direct, "signin.failed").await;
    assert!(
        !ips.is_empty() && ips.iter().all(|ip| ip == "127.0.0.1"),
        "{ips:?}"
    );

    // Behind a trusted proxy (here: the loopback peer), the proxy's header is believed.
    let proxied = TestApp::start_with(backend, |c| {
        c.limits.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]
    })
    .await;
    with_password(&proxied, "alice", "alice-password-1").await;
    let res = sign_in_from(
        &proxied,
        &c,
        "1.1.1.1, 198.51.100.7",
        "alice",
        "wrong-password",
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = sign_in_from(&proxied, &c, "198.51.100.8", "alice", "alice-password-1").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(audit_ips(&proxied, "signin.failed").await, ["198.51.100.7"]);
    assert_eq!(audit_ips(&proxied, "signin.ok").await, ["198.51.100.8"]);
}

/// Someone guessing alice's password from other addresses is limited; alice, from
/// hers, still signs in. One address guessing many accounts is limited too.
async fn sign_in_failures_never_lock_out_the_owner(backend: Backend) {
    let t = TestApp::start_with(backend, |c| {
        c.accounts.auth_rate_per_minute = 3;
        c.limits.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    with_password(&t, "alice", "alice-password-1").await;
    let c = browser();
    // (A minute may turn during the loop, which resets the counters: allow for one.)
    let mut refused = None;
    for i in 0..8 {
        let res = sign_in_from(
            &t,
            &c,
            "203.0.113.66",
            "alice",
            &format!("guess-number-{i}"),
        )
        .await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(res.text().await.unwrap());
            break;
        }
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let page = refused.expect("the guesser was never limited");
    assert!(page.contains("too many failed sign-ins"), "{page}");
    // From another address, the guesser's failures count for nothing.
    for from in ["198.51.100.1", "198.51.100.2"] {
        let res = sign_in_from(&t, &c, from, "alice", "alice-password-1").await;
        assert_eq!(
            res.status(),
            StatusCode::SEE_OTHER,
            "alice signing in from {from}"
        );
        assert!(set_cookie(&res, "granary_session").is_some());
    }
    // One address trying many accounts: limited at five times the per-account rate.
    let mut limited = false;
    for i in 0..32 {
        let res = sign_in_from(
            &t,
            &c,
            "203.0.113.77",
            &format!("user{}", i % 10),
            "wrong-password",
        )
        .await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(limited, "one address guessed many accounts without limit");
}
