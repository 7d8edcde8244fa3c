//! The bad-input corpus of connections, request rates and client addresses
//! (docs/SECURITY.md, "Connections, rate limits and sessions"; tokens, cookies
//! and files are in `attacks_sessions.rs`): each attack is tried as an attacker
//! would and must be refused with a clear answer in the API's JSON error shape,
//! leaving nothing changed.

mod common;
#[path = "attacks_support/mod.rs"]
mod support;

use common::{Backend, TestApp};
use reqwest::header::COOKIE;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use std::time::Duration;
use support::{browser, client_error, hidden_csrf, set_cookie, with_password};

on_every_backend!(
    forwarded_for_only_from_trusted_proxies,
    sign_in_failures_never_lock_out_the_owner,
    alias_bombs_are_refused_at_commit
);

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
