//! The authorization matrix: roles × actions × surfaces, every cell asserted,
//! on SQLite and PostgreSQL. A private model answers exactly like a missing one.

mod common;

use common::{Backend, README, TestApp};
use granary_server::db::users;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_every_backend!(
    authorization_matrix,
    gated_downloads_need_acceptance,
    tokens_are_scoped_and_revocable,
    every_surface_creates_changes_and_deletes_alike,
);

/// The callers of the matrix, by name.
struct Callers {
    tokens: Vec<(&'static str, Option<String>)>,
}

impl Callers {
    fn token(&self, who: &str) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(n, _)| *n == who)
            .and_then(|(_, t)| t.as_deref())
    }
}

async fn setup(t: &TestApp) -> Callers {
    let db = &t.app.db;
    let now = granary_core::time::now_ms();
    let alice = t.user("alice").await;
    let rita = t.user("rita").await;
    let walt = t.user("walt").await;
    let oscar = t.user("oscar").await;
    let root_user = users::ensure(db, "root", true, now).await.unwrap();
    let root = users::create_token(db, &root_user.id, "t", "admin", now)
        .await
        .unwrap();
    let alice_row = users::find_by_name(db, "alice").await.unwrap().unwrap();
    let spec = users::TokenSpec {
        name: "ro",
        scope: "read",
        owner_limit: None,
        expires_at: None,
    };
    let (_, read_only) = users::create_scoped_token(db, &alice_row.id, &spec, now)
        .await
        .unwrap();
    let walt_row = users::find_by_name(db, "walt").await.unwrap().unwrap();
    let (revoked_id, revoked) = users::create_scoped_token(
        db,
        &walt_row.id,
        &users::TokenSpec {
            name: "old",
            scope: "write",
            owner_limit: None,
            expires_at: None,
        },
        now,
    )
    .await
    .unwrap();
    assert!(
        users::revoke_token(db, &walt_row.id, &revoked_id, now)
            .await
            .unwrap()
    );

    assert_eq!(
        t.post_json(&alice, "/orgs", &json!({"name": "acme"}))
            .await
            .status(),
        StatusCode::CREATED
    );
    for (who, role) in [("rita", "read"), ("walt", "write")] {
        let res = t
            .client
            .put(t.api(&format!("/orgs/acme/members/{who}")))
            .bearer_auth(&alice)
            .json(&json!({"role": role}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    let files = vec![
        ("README.md", README.as_bytes().to_vec()),
        ("w.bin", b"weights".to_vec()),
    ];
    for name in ["public", "secret", "gated"] {
        t.push_ok(&alice, &format!("acme/{name}"), &files, None)
            .await;
    }
    let settings = |name: &str, body: Value| {
        t.client
            .patch(t.api(&format!("/models/acme/{name}/settings")))
            .bearer_auth(&alice)
            .json(&body)
            .send()
    };
    assert_eq!(
        settings("secret", json!({"private": true}))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        settings("gated", json!({"gated": true}))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    Callers {
        tokens: vec![
            ("anonymous", None),
            ("other", Some(oscar)),
            ("reader", Some(rita)),
            ("writer", Some(walt)),
            ("owner", Some(alice)),
            ("admin", Some(root)),
            ("revoked", Some(revoked)),
            ("read-token", Some(read_only)),
        ],
    }
}

const ROLES: [&str; 8] = [
    "anonymous",
    "other",
    "reader",
    "writer",
    "owner",
    "admin",
    "revoked",
    "read-token",
];

async fn send(
    t: &TestApp,
    token: Option<&str>,
    method: Method,
    url: String,
    body: Option<Value>,
) -> (StatusCode, String) {
    let mut req = t.client.request(method, url);
    if let Some(tok) = token {
        req = req.bearer_auth(tok);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

/// A success cell accepts any 2xx (a tag is 201 when made, 200 when already there); a refusal
/// must be exactly the expected status.
fn assert_outcome(status: StatusCode, expected: u16, context: &str) {
    if (200..300).contains(&expected) {
        assert!(
            status.is_success(),
            "expected success, got {status}: {context}"
        );
    } else {
        assert_eq!(status.as_u16(), expected, "{context}");
    }
}

/// Expected statuses per role, in ROLES order.
fn row(codes: [u16; 8]) -> [u16; 8] {
    codes
}

/// One request of the matrix: what it is, method, URL, JSON body, and the expected status
/// per role (see [`row`]).
type Case = (&'static str, Method, String, Option<Value>, [u16; 8]);

async fn authorization_matrix(backend: Backend) {
    let t = TestApp::start(backend).await;
    let c = setup(&t).await;
    let api = |p: &str| t.api(p);
    let web = |p: &str| format!("{}{p}", t.url);
    //                     anon other reader writer owner admin revoked read-token
    let public_read = row([200, 200, 200, 200, 200, 200, 401, 200]);
    let private_read = row([404, 404, 200, 200, 200, 200, 401, 200]);
    let gated_pull = row([403, 403, 200, 200, 200, 200, 401, 200]);
    let cases: Vec<Case> = vec![
        (
            "read public (API)",
            Method::GET,
            api("/models/acme/public"),
            None,
            public_read,
        ),
        (
            "read private (API)",
            Method::GET,
            api("/models/acme/secret"),
            None,
            private_read,
        ),
        (
            "read gated (API)",
            Method::GET,
            api("/models/acme/gated"),
            None,
            public_read,
        ),
        (
            "pull public",
            Method::GET,
            api("/models/acme/public/files/main/w.bin"),
            None,
            public_read,
        ),
        (
            "pull private",
            Method::GET,
            api("/models/acme/secret/files/main/w.bin"),
            None,
            private_read,
        ),
        (
            "pull gated",
            Method::GET,
            api("/models/acme/gated/files/main/w.bin"),
            None,
            gated_pull,
        ),
        (
            "web public",
            Method::GET,
            web("/acme/public"),
            None,
            public_read,
        ),
        (
            "web private",
            Method::GET,
            web("/acme/secret"),
            None,
            private_read,
        ),
        (
            "tag public",
            Method::PUT,
            api("/models/acme/public/tags/t1"),
            Some(json!({"revision": "main", "force": true})),
            row([401, 403, 403, 200, 200, 200, 401, 403]),
        ),
        (
            "tag private",
            Method::PUT,
            api("/models/acme/secret/tags/t1"),
            Some(json!({"revision": "main", "force": true})),
            row([404, 404, 403, 200, 200, 200, 401, 403]),
        ),
        (
            "change visibility",
            Method::PATCH,
            api("/models/acme/public/settings"),
            Some(json!({"private": false})),
            row([401, 403, 403, 403, 200, 200, 401, 403]),
        ),
        (
            "change gate of private",
            Method::PATCH,
            api("/models/acme/secret/settings"),
            Some(json!({"gated": false})),
            row([404, 404, 403, 403, 200, 200, 401, 403]),
        ),
        (
            "manage members",
            Method::PUT,
            api("/orgs/acme/members/rita"),
            Some(json!({"role": "read"})),
            row([401, 403, 403, 403, 200, 200, 401, 403]),
        ),
        (
            "list members",
            Method::GET,
            api("/orgs/acme/members"),
            None,
            row([401, 403, 200, 200, 200, 200, 401, 200]),
        ),
    ];
    for (what, method, url, body, expected) in &cases {
        for (i, role) in ROLES.iter().enumerate() {
            let (status, text) =
                send(&t, c.token(role), method.clone(), url.clone(), body.clone()).await;
            assert_outcome(status, expected[i], &format!("{what} as {role}: {text}"));
        }
    }

    // Push: a commit on top of main, per role.
    let push_expect = row([401, 403, 403, 201, 201, 201, 401, 403]);
    for (model, private) in [("public", false), ("secret", true)] {
        for (i, role) in ROLES.iter().enumerate() {
            let head = t.get(&format!("/models/acme/{model}/refs")).await;
            let parent = if private {
                let owner = c.token("owner").unwrap();
                let v: Value = t
                    .client
                    .get(t.api(&format!("/models/acme/{model}/refs")))
                    .bearer_auth(owner)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                v["branches"][0]["revision"].as_str().unwrap().to_string()
            } else {
                let v: Value = head.json().await.unwrap();
                v["branches"][0]["revision"].as_str().unwrap().to_string()
            };
            let files = vec![
                ("README.md", README.as_bytes().to_vec()),
                ("w.bin", format!("by {role}").into_bytes()),
            ];
            // Each writer sends its own bytes: a blob another user uploaded cannot be
            // named by digest (`integrity.rs` tests that refusal).
            if push_expect[i] == 201 {
                for (_, b) in &files {
                    t.upload(c.token(role).unwrap(), b).await;
                }
            }
            let body = json!({"parent": parent, "files": files.iter().map(|(p, b)| common::commit_file(p, b)).collect::<Vec<_>>()});
            let (status, text) = send(
                &t,
                c.token(role),
                Method::POST,
                api(&format!("/models/acme/{model}/commits")),
                Some(body),
            )
            .await;
            let want = push_expect[i];
            // Without the write role: 401 or 403, whether the model is private, public or missing.
            assert_eq!(status.as_u16(), want, "push {model} as {role}: {text}");
        }
    }

    // Search never shows a private model to anyone.
    for role in ROLES.iter().filter(|r| **r != "revoked") {
        let (_, text) = send(
            &t,
            c.token(role),
            Method::GET,
            api("/models?owner=acme"),
            None,
        )
        .await;
        let v: Value = serde_json::from_str(&text).unwrap();
        let ids: Vec<&str> = v["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec!["acme/gated", "acme/public"], "search as {role}");
    }

    // Private is answered exactly like missing, on every surface.
    for (private, missing) in [
        (api("/models/acme/secret"), api("/models/acme/nothing")),
        (
            api("/models/acme/secret/files/main/w.bin"),
            api("/models/acme/nothing/files/main/w.bin"),
        ),
        (
            api("/models/acme/secret/refs"),
            api("/models/acme/nothing/refs"),
        ),
    ] {
        for role in ["anonymous", "other"] {
            let a = send(&t, c.token(role), Method::GET, private.clone(), None).await;
            let b = send(&t, c.token(role), Method::GET, missing.clone(), None).await;
            assert_eq!(a.0, b.0);
            assert_eq!(
                a.1.replace("secret", "X"),
                b.1.replace("nothing", "X"),
                "{private} as {role}"
            );
        }
    }
    let a = send(&t, None, Method::GET, web("/acme/secret"), None).await;
    let b = send(&t, None, Method::GET, web("/acme/nothing"), None).await;
    assert_eq!(a.0, b.0);

    // Delete last: admins of the namespace only.
    // (The two who may delete go last, each with a model of their own.)
    let deletes = [
        ("anonymous", "public", 401),
        ("other", "public", 403),
        ("reader", "public", 403),
        ("writer", "public", 403),
        ("revoked", "public", 401),
        ("read-token", "public", 403),
        ("owner", "public", 204),
        ("admin", "gated", 204),
    ];
    for (role, model, want) in deletes {
        let (status, text) = send(
            &t,
            c.token(role),
            Method::DELETE,
            api(&format!("/models/acme/{model}")),
            None,
        )
        .await;
        assert_eq!(status.as_u16(), want, "delete as {role}: {text}");
    }
    assert_eq!(
        t.get("/models/acme/public").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.get("/models/acme/gated").await.status(),
        StatusCode::NOT_FOUND
    );
}

async fn gated_downloads_need_acceptance(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let res = t
        .post_json(
            &alice,
            "/repos",
            &json!({"id": "alice/llama-like", "gated": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        t.post_json(&alice, "/repos", &json!({"id": "alice/llama-like"}))
            .await
            .status(),
        StatusCode::CONFLICT
    );
    let files = vec![
        ("README.md", README.as_bytes().to_vec()),
        ("w.bin", b"gated weights".to_vec()),
    ];
    let rev = t.push_ok(&alice, "alice/llama-like", &files, None).await;
    let info: Value = t
        .get("/models/alice/llama-like")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["gated"], true);

    let url = t.api("/models/alice/llama-like/files/main/w.bin");
    let res = t.client.get(&url).bearer_auth(&bob).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["code"], "gated");
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("granary license accept alice/llama-like")
    );

    // One check order on every surface: the gate before the revision, so a caller who has
    // not accepted learns nothing of which branches, tags or files exist.
    for url in [
        t.api("/models/alice/llama-like/files/no-such-branch/w.bin"),
        t.api("/models/alice/llama-like/files/main/no-such-file"),
        format!("{}/alice/llama-like/resolve/no-such-branch/w.bin", t.url),
        format!("{}/alice/llama-like/resolve/main/no-such-file", t.url),
        format!(
            "{}/api/models/alice/llama-like/xet-read-token/no-such-branch",
            t.url
        ),
    ] {
        let res = t.client.get(&url).bearer_auth(&bob).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{url}");
    }

    let res = t
        .client
        .post(t.api("/models/alice/llama-like/license/accept"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = t.client.get(&url).bearer_auth(&bob).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(&res.bytes().await.unwrap()[..], b"gated weights");

    // Owners see who accepted, at which revision; others may not.
    let v: Value = t
        .client
        .get(t.api("/models/alice/llama-like/license/acceptances"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["acceptances"][0]["user"], "bob");
    assert_eq!(v["acceptances"][0]["revision_id"], rev.as_str());
    let res = t
        .client
        .get(t.api("/models/alice/llama-like/license/acceptances"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

async fn tokens_are_scoped_and_revocable(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    t.user("bob").await;
    let files = vec![("README.md", README.as_bytes().to_vec())];

    // A token limited to `alice` cannot write elsewhere, nor mint a broader token.
    let v: Value = t
        .post_json(
            &alice,
            "/tokens",
            &json!({"scope": "write", "owner": "alice", "expires_days": 30}),
        )
        .await
        .json()
        .await
        .unwrap();
    let limited = v["token"].as_str().unwrap().to_string();
    assert!(v["expires_at"].as_i64().unwrap() > granary_core::time::now_ms());
    t.push_ok(&limited, "alice/ok", &files, None).await;
    let res = t
        .post_json(&limited, "/orgs", &json!({"name": "team"}))
        .await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "a namespace-limited token cannot create organisations"
    );
    let res = t.post_json(&alice, "/orgs", &json!({"name": "team"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = t.push(&limited, "team/x", &files, None, json!({})).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = t
        .post_json(
            &limited,
            "/tokens",
            &json!({"scope": "write", "owner": "team"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // A read token cannot create a write token.
    let v: Value = t
        .post_json(&alice, "/tokens", &json!({"scope": "read"}))
        .await
        .json()
        .await
        .unwrap();
    let read = v["token"].as_str().unwrap().to_string();
    assert_eq!(
        t.post_json(&read, "/tokens", &json!({"scope": "write"}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    // Listing shows no secrets; revocation takes effect on the next request.
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
    let text = list.to_string();
    assert!(!text.contains(&limited) && !text.contains("token_hash"));
    let id = v["id"].as_str().unwrap();
    let res = t
        .client
        .delete(t.api(&format!("/tokens/{id}")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = t
        .client
        .get(t.api("/whoami"))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // The audit log has the events, for server admins only.
    let res = t
        .client
        .get(t.api("/audit"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let now = granary_core::time::now_ms();
    let root = users::ensure(&t.app.db, "root", true, now).await.unwrap();
    let root_token = users::create_token(&t.app.db, &root.id, "t", "admin", now)
        .await
        .unwrap();
    let v: Value = t
        .client
        .get(t.api("/audit"))
        .bearer_auth(&root_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for e in ["token.created", "token.revoked", "org.created"] {
        assert!(events.contains(&e), "{e} missing from {events:?}");
    }

    // Token creation is rate limited.
    let mut limited_out = false;
    for _ in 0..30 {
        if t.post_json(&alice, "/tokens", &json!({"scope": "read"}))
            .await
            .status()
            == StatusCode::TOO_MANY_REQUESTS
        {
            limited_out = true;
            break;
        }
    }
    assert!(
        limited_out,
        "30 token requests in a minute must hit the limit of 20"
    );
}

/// The audit events of a model, oldest first.
async fn audit_of(t: &TestApp, subject: &str) -> Vec<String> {
    let admin = t.admin_token().await;
    let v: Value = t
        .client
        .get(t.api("/audit?limit=100"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut events: Vec<String> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"] == subject)
        .map(|e| {
            format!(
                "{} {}",
                e["event"].as_str().unwrap(),
                e["detail"].as_str().unwrap_or("")
            )
            .trim()
            .to_string()
        })
        .collect();
    events.reverse();
    events
}

/// Create, settings and delete go through one domain layer (`repos.rs`): the Hub
/// surface writes the same audit events as the native one, and deletes a model with
/// its revisions as the native API and the web do (it used to refuse).
async fn every_surface_creates_changes_and_deletes_alike(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let hub = |path: &str| format!("{}/api/repos/{path}", t.url);
    // Created on the Hub, pushed to, changed twice to the same value, deleted on the Hub.
    let res = t
        .client
        .post(hub("create"))
        .bearer_auth(&alice)
        .json(&json!({"name": "hubbed", "private": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let res = t
        .client
        .post(hub("create"))
        .bearer_auth(&alice)
        .json(&json!({"name": "hubbed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    t.push_ok(
        &alice,
        "alice/hubbed",
        &[("README.md", README.as_bytes().to_vec())],
        None,
    )
    .await;
    for _ in 0..2 {
        let res = t
            .settings(&alice, "alice/hubbed", &json!({"private": false}))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = t
        .client
        .delete(hub("delete"))
        .bearer_auth(&alice)
        .json(&json!({"name": "alice/hubbed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    assert_eq!(
        t.get("/models/alice/hubbed").await.status(),
        StatusCode::NOT_FOUND
    );
    let revisions: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM revisions")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(revisions.0, 0, "deleted with its revisions");
    assert_eq!(
        audit_of(&t, "alice/hubbed").await,
        [
            "repo.created private=true gated=false",
            "revision.published",
            "repo.visibility public",
            "repo.deleted"
        ],
        "one event per change, the same on every surface"
    );
    // The native API, the same way.
    assert_eq!(
        t.post_json(&alice, "/repos", &json!({"id": "alice/native"}))
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        t.post_json(&alice, "/repos", &json!({"id": "alice/native"}))
            .await
            .status(),
        StatusCode::CONFLICT
    );
    let res = t
        .client
        .delete(t.api("/models/alice/native"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        audit_of(&t, "alice/native").await,
        ["repo.created private=false gated=false", "repo.deleted"]
    );
}
