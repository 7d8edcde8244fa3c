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
use std::time::Duration;

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
    sign_in_failures_never_lock_out_the_owner,
    alias_bombs_are_refused_at_commit,
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
        c.limits.trusted_proxies = "127.0.0.0/8".parse().unwrap()
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
        c.limits.trusted_proxies = "127.0.0.1".parse().unwrap();
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

/// How many connections this test may open: both ends live in this process, so two
/// descriptors each, within the open-files limit (at least 200, at most 1,000).
fn connections_we_can_open() -> usize {
    let limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            let line = text
                .lines()
                .find(|l| l.starts_with("Max open files"))?
                .to_string();
            line.split_whitespace().nth(3)?.parse::<usize>().ok()
        })
        .unwrap_or(4096);
    (limit.saturating_sub(400) / 2).clamp(200, 1000)
}

/// Whether the server closed `s` within `wait`: a read returns 0 or a reset.
async fn closed_within(s: &mut tokio::net::TcpStream, wait: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(wait, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) => return true,
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => {
                assert!(
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                    ),
                    "{e}"
                );
                return true;
            }
        }
    }
}

/// 1,000 connections that never send a byte (slowloris without the headers) are all
/// closed once the idle timeout passes, and the server serves others meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_after_the_idle_timeout() {
    let t = TestApp::start_with(Backend::Sqlite, |c| {
        c.limits.idle_timeout_secs = 1;
        c.limits.max_connections = 0;
        c.limits.max_connections_per_ip = 0;
    })
    .await;
    let addr = t.url.trim_start_matches("http://").to_string();
    let n = connections_we_can_open();
    let mut silent = Vec::with_capacity(n);
    for _ in 0..n {
        silent.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    // Not closed at once: the idle timeout closes them, not some other limit.
    assert!(!closed_within(silent.last_mut().unwrap(), Duration::from_millis(200)).await);
    let res = t
        .client
        .get(format!("{}/healthz", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "served while {n} connections idle"
    );
    // Also a connection that starts the HTTP/2 preface and stops.
    let mut partial = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut partial, b"PRI * HTTP/2")
        .await
        .unwrap();
    silent.push(partial);
    // And one that sends the whole HTTP/2 preface, then nothing (it answers no ping).
    let mut h2 = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut h2, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    silent.push(h2);
    for (i, s) in silent.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(20)).await,
            "connection {i} of {n} is still open"
        );
    }
    let res = t
        .client
        .get(format!("{}/healthz", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// Over `max_connections_per_ip` (or `max_connections`) a new connection is closed
/// at once; a trusted proxy is held to the global cap only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_caps_are_closed_at_once() {
    for (per_ip, max, trusted) in [(3, 0, false), (0, 3, false), (1, 3, true)] {
        let t = TestApp::start_with(Backend::Sqlite, |c| {
            c.limits.idle_timeout_secs = 60;
            c.limits.max_connections_per_ip = per_ip;
            c.limits.max_connections = max;
            if trusted {
                c.limits.trusted_proxies = "127.0.0.1".parse().unwrap();
            }
        })
        .await;
        let addr = t.url.trim_start_matches("http://").to_string();
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
        }
        let mut extra = tokio::net::TcpStream::connect(&addr).await.unwrap();
        assert!(
            closed_within(&mut extra, Duration::from_secs(10)).await,
            "a 4th connection (per_ip {per_ip}, max {max})"
        );
        for s in &mut held {
            assert!(
                !closed_within(s, Duration::from_millis(100)).await,
                "the first three stay open"
            );
        }
        // A connection given back makes room (once the server has seen it close).
        drop(held.pop());
        let mut served = false;
        for _ in 0..100 {
            let (status, _) = raw_request(
                &addr,
                "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .await;
            if status == Some(200) {
                served = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            served,
            "no room after a connection closed (per_ip {per_ip}, max {max})"
        );
    }
}

/// Sends `request` on a new connection; the status (None: closed unanswered) and the reply.
async fn raw_request(addr: &str, request: &str) -> (Option<u16>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    if s.write_all(request.as_bytes()).await.is_err() {
        return (None, String::new());
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok());
    (status, text)
}

/// A body trickled a byte a second is never idle; it is cut for its rate, with a
/// 408 naming `min_body_rate`, and the part is not recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_is_cut_for_its_rate() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = TestApp::start_with(Backend::Sqlite, |c| {
        c.limits.idle_timeout_secs = 2;
        c.limits.min_body_rate = 100;
    })
    .await;
    let token = t.user("alice").await;
    let bytes = common::shard(2, 7);
    let status = t.start_upload(&token, &bytes).await;
    let id = status.id.clone().unwrap();
    let addr = t.url.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /api/v1/uploads/{id}/parts/0 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: 1048576\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    // One byte a second until the server answers or closes (today's servers never do).
    while started.elapsed() < Duration::from_secs(30) {
        let _ = s.write_all(b"x").await;
        match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                reply.extend_from_slice(&buf[..n]);
                if String::from_utf8_lossy(&reply).contains('}') {
                    break;
                }
            }
            Err(_) => {}
        }
    }
    let reply = String::from_utf8_lossy(&reply).to_string();
    assert!(
        reply.starts_with("HTTP/1.1 408"),
        "after {:?}: {reply:?}",
        started.elapsed()
    );
    assert!(
        reply.contains("min_body_rate") && reply.contains("\"code\":\"timeout\""),
        "{reply}"
    );
    let v: Value = t
        .client
        .get(t.api(&format!("/uploads/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["received"],
        serde_json::json!([]),
        "the cut part was not recorded"
    );
    // A body at a normal pace passes the same limit.
    t.upload(&token, &bytes).await;
}

/// A model card whose YAML aliases expand to `anchor` × `aliases` values.
fn alias_bomb(anchor: usize, aliases: usize) -> String {
    let items = vec!["lol"; anchor].join(", ");
    format!(
        "---\nlicense: mit\nbase: &a [{items}]\nbomb:\n{}---\n# Bomb\n",
        "  - *a\n".repeat(aliases)
    )
}

/// Anyone may call `validate-yaml`: its body is capped, and a card whose aliases
/// expand to millions of values is refused at once (it cost seconds of CPU and
/// about 1 GB of memory for 16 requests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_yaml_is_bounded() {
    let t = TestApp::start(Backend::Sqlite).await;
    let url = format!("{}/api/validate-yaml", t.url);
    let post = |content: String| {
        t.client
            .post(&url)
            .json(&serde_json::json!({"repoType": "model", "content": content}))
            .send()
    };
    let res = post("x".repeat(600 * 1024)).await.unwrap();
    assert!(
        res.headers().contains_key("x-error-message"),
        "the Hub's shape"
    );
    let v = client_error(res, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(v["code"], "too_large");
    let started = std::time::Instant::now();
    let res = post(alias_bomb(1_000, 5_000)).await.unwrap();
    let status = res.status();
    let v: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"].as_str().unwrap().contains("aliases"), "{v}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let res = post(common::README.to_string()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// The same card is refused at commit time, and nothing is published.
async fn alias_bombs_are_refused_at_commit(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let files = [("README.md", alias_bomb(1_000, 5_000).into_bytes())];
    let res = t
        .push(&token, "alice/bomb", &files, None, serde_json::json!({}))
        .await;
    let v = client_error(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(v["code"], "invalid");
    assert!(v["error"].as_str().unwrap().contains("aliases"), "{v}");
    assert_eq!(
        t.get("/models/alice/bomb").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// Requests without a token are limited per client address (`anonymous_rate_per_minute`),
/// on every surface; other addresses and token holders are not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_requests_are_limited_per_address() {
    let t = TestApp::start_with(Backend::Sqlite, |c| {
        c.limits.anonymous_rate_per_minute = 20;
        c.limits.trusted_proxies = "127.0.0.1".parse().unwrap();
    })
    .await;
    let token = t.user("alice").await;
    let from = |addr: &str, url: String| t.client.get(url).header("x-forwarded-for", addr).send();
    // (The minute may turn during the loop and reset the count: allow for that once.)
    let mut limited = None;
    for _ in 0..41 {
        let res = from("203.0.113.5", t.api("/models")).await.unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = limited.expect("41 anonymous requests in a minute were all served");
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let v = client_error(res, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(v["code"], "rate_limited");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("anonymous_rate_per_minute"),
        "{v}"
    );
    // Every surface: the Hub API (in the Hub's shape), the web pages, validate-yaml.
    let res = from("203.0.113.5", format!("{}/api/models", t.url))
        .await
        .unwrap();
    assert!(
        res.headers()["x-error-message"]
            .to_str()
            .unwrap()
            .contains("anonymous_rate_per_minute")
    );
    client_error(res, StatusCode::TOO_MANY_REQUESTS).await;
    let res = from("203.0.113.5", format!("{}/models", t.url))
        .await
        .unwrap();
    client_error(res, StatusCode::TOO_MANY_REQUESTS).await;
    let res = t
        .client
        .post(format!("{}/api/validate-yaml", t.url))
        .header("x-forwarded-for", "203.0.113.5")
        .json(&serde_json::json!({"content": common::README}))
        .send()
        .await
        .unwrap();
    client_error(res, StatusCode::TOO_MANY_REQUESTS).await;
    // Another address, and a token from the same address, are served.
    assert_eq!(
        from("203.0.113.6", t.api("/models"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let res = t
        .client
        .get(t.api("/models"))
        .header("x-forwarded-for", "203.0.113.5")
        .bearer_auth(&token)
        .send()
        .await;
    assert_eq!(res.unwrap().status(), StatusCode::OK);
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
