//! The bad-input corpus: malformed and malicious uploads, paths, bodies,
//! headers and queries. Each case expects a clear 4xx in the API's JSON error
//! shape (`{"error", "code"}`) and nothing stored, and the server healthy after.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Backend, README, TestApp, client_error, commit_file, shard};
use granary_core::Sha256;
use granary_core::safetensors_header::build;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Any 4xx with the JSON error shape.
async fn any_client_error(res: reqwest::Response) -> Value {
    let got = res.status();
    let text = res.text().await.unwrap();
    assert!(got.is_client_error(), "{got}: {text}");
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({got}): {text}"));
    assert!(v["error"].as_str().is_some(), "{text}");
    v
}

/// The model does not exist: nothing was published.
async fn nothing_published(t: &TestApp, model: &str) {
    let res = t.get(&format!("/models/{model}")).await;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "{model} should not exist"
    );
    let name = model.split('/').nth(1).unwrap();
    let rows: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM models WHERE name = $1")
        .bind(name)
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(rows.0, 0, "a refused push left a model row");
}

fn readme() -> (&'static str, Vec<u8>) {
    ("README.md", README.as_bytes().to_vec())
}

/// A safetensors file with a hand-written header and `data` bytes of data.
fn raw_safetensors(header: &[u8], data: usize) -> Vec<u8> {
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header);
    f.extend(std::iter::repeat_n(0u8, data));
    f
}

async fn push_refused(
    t: &TestApp,
    token: &str,
    files: &[(&str, Vec<u8>)],
    status: StatusCode,
    needle: &str,
) {
    let res = t.push(token, "alice/bad", files, None, json!({})).await;
    let v = client_error(res, status).await;
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains(needle), "`{msg}` should mention `{needle}`");
    nothing_published(t, "alice/bad").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_safetensors_are_refused() {
    let t = TestApp::start(Backend::Sqlite).await;
    let token = t.user("alice").await;
    let good = build(&[("a", "F32", vec![2, 2], vec![0; 16])]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("too short", b"1234".to_vec(), "too short"),
        ("header past the end", {
            let mut f = good.clone();
            f[..8].copy_from_slice(&10_000u64.to_le_bytes());
            f
        }, "declares"),
        ("overlapping offsets", raw_safetensors(
            br#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#, 3),
            "not a valid safetensors"),
        ("offsets out of range", raw_safetensors(
            br#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#, 2), "truncated"),
        ("offsets past u64", raw_safetensors(
            br#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[18446744073709551615,3]}}"#, 4), "not a valid safetensors"),
        ("dtype and shape disagree", build(&[("a", "F32", vec![3], vec![0; 8])]), "not a valid safetensors"),
        ("huge shape", raw_safetensors(
            br#"{"a":{"dtype":"F64","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}"#, 8),
            "not a valid safetensors"),
        ("unknown dtype", raw_safetensors(br#"{"a":{"dtype":"F99","shape":[1],"data_offsets":[0,1]}}"#, 1),
            "not a valid safetensors"),
        ("non-UTF-8 header", raw_safetensors(b"{\"\xff\xfe\":1}", 0), "UTF-8"),
        ("duplicate keys", raw_safetensors(
            br#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, 1),
            "twice"),
        ("trailing bytes", { let mut f = good.clone(); f.extend_from_slice(b"extra"); f }, "trailing"),
        ("truncated data", { let mut f = good.clone(); f.truncate(f.len() - 1); f }, "truncated"),
        ("header not an object", raw_safetensors(b"[1,2,3]", 0), "not a valid safetensors"),
        ("empty header", raw_safetensors(b"", 0), "not a valid safetensors"),
        ("deeply nested JSON", raw_safetensors(&[b'['; 100_000], 0), "not a valid safetensors"),
    ];
    for (what, bytes, needle) in cases {
        eprintln!("case: {what}");
        push_refused(
            &t,
            &token,
            &[("model.safetensors", bytes), readme()],
            StatusCode::BAD_REQUEST,
            needle,
        )
        .await;
    }
    // A length prefix that declares a huge header the file does not hold (the header cap of 413 is
    // for headers that are really there: `safetensors_header_cap_is_configurable`).
    for declared in [64u64 << 20, 100_000_001, u64::MAX] {
        let mut huge = good.clone();
        huge[..8].copy_from_slice(&declared.to_le_bytes());
        push_refused(
            &t,
            &token,
            &[("model.safetensors", huge), readme()],
            StatusCode::BAD_REQUEST,
            "declares",
        )
        .await;
    }
    // And the good file is accepted, so the cases above failed for their flaw.
    t.push_ok(
        &token,
        "alice/good",
        &[("model.safetensors", good), readme()],
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safetensors_header_cap_is_configurable() {
    let t = TestApp::start_with(Backend::Sqlite, |c| c.limits.max_safetensors_header = 64).await;
    let token = t.user("alice").await;
    let small = build(&[("a", "U8", vec![1], vec![0])]);
    t.push_ok(
        &token,
        "alice/small",
        &[("model.safetensors", small), readme()],
        None,
    )
    .await;
    let names: Vec<(String, String, Vec<u64>, Vec<u8>)> = (0..8)
        .map(|i| {
            (
                format!("tensor.{i}"),
                "U8".to_string(),
                vec![1u64],
                vec![0u8],
            )
        })
        .collect();
    let refs: Vec<(&str, &str, Vec<u64>, Vec<u8>)> = names
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), d.as_str(), s.clone(), b.clone()))
        .collect();
    push_refused(
        &t,
        &token,
        &[("big.safetensors", build(&refs)), readme()],
        StatusCode::PAYLOAD_TOO_LARGE,
        "64 bytes",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pickles_are_refused_under_any_name() {
    let t = TestApp::start(Backend::Sqlite).await;
    let token = t.user("alice").await;
    let pickle =
        b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94."
            .to_vec();
    let torch_zip = common::stored_zip(&[
        ("archive/data/0", &[0u8; 8192]),
        ("archive/data.pkl", &pickle),
    ]);
    let old_protocol = b"\x80\x02cposix\nsystem\nq\x00.".to_vec();
    for name in [
        "pytorch_model.bin",
        "model.pt",
        "weights.pth",
        "x.pkl",
        "a.ckpt",
        "model.joblib",
        "weights.txt",
        "config.json",
        "noext",
        "dir/deep/model.npy",
        "MODEL.BIN",
        "model.safetensors.bin",
    ] {
        for bytes in [&pickle, &torch_zip, &old_protocol] {
            eprintln!("case: {name} ({} bytes)", bytes.len());
            push_refused(
                &t,
                &token,
                &[(name, bytes.clone()), readme()],
                StatusCode::BAD_REQUEST,
                "pickle",
            )
            .await;
        }
    }
    // A pickle named `.safetensors` is not a valid safetensors file either.
    push_refused(
        &t,
        &token,
        &[("model.safetensors", pickle.clone()), readme()],
        StatusCode::BAD_REQUEST,
        "safetensors",
    )
    .await;
}

/// Paths no push may hold, with the rule each breaks.
fn bad_paths() -> Vec<String> {
    let mut v: Vec<String> = [
        "../etc/passwd",
        "a/../../b",
        "/abs",
        "a\\b",
        "..\\..\\win.ini",
        "C:/x",
        "c:x",
        "a//b",
        "a/",
        "./a",
        "a/./b",
        "a/..",
        "..",
        ".",
        "",
        "a\0b",
        "a\nb",
        "a\rb",
        "tab\there",
        "\u{1b}[31mred",
        "a\u{7f}b",
        "a\u{85}b",
        // Tool configuration: a pulled `.git/config` runs commands on `git status`.
        ".git/config",
        ".GIT/config",
        "sub/.git/hooks/pre-commit",
        ".git./config",
        ".git /config",
        ".Git../HEAD",
        ".g\u{200c}it/config",
        "git~1/config",
        ".git",
        // Names Windows or macOS would silently change, or that name devices.
        "CON",
        "nul.txt",
        "a/COM1.json",
        "LPT9.bin",
        "aux",
        "file.",
        "dir./x",
        "name ",
        "a:b",
        "x.bin:stream",
        "what?.txt",
        "star*.bin",
        "pipe|x",
        "<script>.json",
        "quote\".json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("x".repeat(1025));
    v.push(vec!["d"; 33].join("/"));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paths_in_native_commits() {
    let t = TestApp::start(Backend::Sqlite).await;
    let token = t.user("alice").await;
    let bytes = b"hello".to_vec();
    t.upload(&token, &bytes).await;
    let readme_bytes = README.as_bytes().to_vec();
    t.upload(&token, &readme_bytes).await;
    let sha = Sha256::of(&bytes).hex();
    for path in bad_paths() {
        let body = json!({"parent": null, "message": "m", "files": [
            {"path": path, "size": 5, "sha256": sha},
            commit_file("README.md", &readme_bytes),
        ]});
        let res = t
            .post_json(&token, "/models/alice/bad/commits", &body)
            .await;
        client_error(res, StatusCode::BAD_REQUEST).await;
    }
    // Sets of valid paths that collide.
    // (NFC and NFD spellings of one name, and full case folding, collide too.)
    for set in [
        vec!["A.txt", "a.txt"],
        vec!["a", "a/b"],
        vec!["x", "x"],
        vec!["Straße", "STRASSE"],
        vec!["caf\u{e9}.txt", "cafe\u{301}.txt"],
        vec!["CAF\u{c9}/x", "cafe\u{301}/y", "caf\u{e9}"],
    ] {
        let mut files: Vec<Value> = set
            .iter()
            .map(|p| json!({"path": p, "size": 5, "sha256": sha}))
            .collect();
        files.push(json!(commit_file("README.md", &readme_bytes)));
        let body = json!({"parent": null, "message": "m", "files": files});
        let res = t
            .post_json(&token, "/models/alice/bad/commits", &body)
            .await;
        client_error(res, StatusCode::BAD_REQUEST).await;
    }
    let revisions: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM revisions")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert!(revisions.0 <= 1);
}

/// GET a raw request target (no URL normalisation) and return status and body.
fn raw_get(url: &str, target: &str, headers: &[(&str, &[u8])]) -> (u16, Vec<u8>) {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req =
        format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n").into_bytes();
    for (k, v) in headers {
        req.extend_from_slice(k.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(v);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    s.write_all(&req).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| out[i + 4..].to_vec())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_traversal_in_every_read_api() {
    let t = TestApp::start(Backend::Sqlite).await;
    let token = t.user("alice").await;
    t.push_ok(
        &token,
        "alice/m",
        &[
            ("config.json", b"{}".to_vec()),
            ("sub/a.txt", b"a".to_vec()),
            readme(),
        ],
        None,
    )
    .await;
    let secret = std::fs::read(t.dir.path().join("granary.db")).unwrap();
    let traversals = [
        "../../granary.db",
        "..%2F..%2Fgranary.db",
        "%2E%2E/%2E%2E/granary.db",
        "%2e%2e%2f%2e%2e%2fgranary.db",
        "sub/..%2F..%2Fconfig.json",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "..%5C..%5Cgranary.db",
        "a%00b",
        "%0a",
        "sub%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "....//....//etc/passwd",
        "%C0%AE%C0%AE/granary.db",
        "%ff",
    ];
    for p in traversals {
        for target in [
            format!("/api/v1/models/alice/m/files/main/{p}"),
            format!("/alice/m/resolve/main/{p}"),
            format!("/api/models/alice/m/tree/main/{p}"),
            format!("/alice/m/tree/main/{p}"),
            format!("/alice/m/tensors/main/{p}"),
        ] {
            let (status, body) = raw_get(&t.url, &target, &[]);
            assert!((400..500).contains(&status), "{target}: {status}");
            assert!(
                !body
                    .windows(16)
                    .any(|w| secret.windows(16).take(4).any(|s| s == w)),
                "{target} leaked the database"
            );
            if target.starts_with("/api/") || target.contains("/resolve/") {
                let v: Value =
                    serde_json::from_slice(&body).unwrap_or_else(|_| panic!("{target}: not JSON"));
                assert!(v["error"].is_string(), "{target}");
            }
        }
        // paths-info: form and JSON.
        let res = t
            .client
            .post(format!("{}/api/models/alice/m/paths-info/main", t.url))
            .form(&[("paths", p), ("paths", "config.json")])
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        // Either refused, or answered with only the real file: never an entry outside the model.
        if status.is_success() {
            let entries = body.as_array().unwrap();
            assert!(
                entries.iter().all(|e| e["path"] == "config.json"),
                "{p}: {body}"
            );
        } else {
            assert!(status.is_client_error(), "{p}: {status}");
        }
    }
    // Ref names that try to climb.
    for rev in [
        "..%2F..",
        "%2E%2E",
        "main%00",
        "a%20b",
        "%27%20OR%201%3D1--",
    ] {
        let (status, _) = raw_get(
            &t.url,
            &format!("/api/v1/models/alice/m/files/{rev}/config.json"),
            &[],
        );
        assert!((400..500).contains(&status), "{rev}: {status}");
        let (status, _) = raw_get(&t.url, &format!("/alice/m/resolve/{rev}/config.json"), &[]);
        assert!((400..500).contains(&status), "{rev}: {status}");
    }
    assert_eq!(t.get("/models/alice/m").await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paths_in_hub_commits_and_preupload() {
    use base64::Engine as _;
    let t = TestApp::start(Backend::Sqlite).await;
    let token = t.user("alice").await;
    let rev = t
        .push_ok(
            &token,
            "alice/m",
            &[("config.json", b"{}".to_vec()), readme()],
            None,
        )
        .await;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    for path in bad_paths() {
        for op in [
            json!({"key": "file", "value": {"path": path, "content": b64(b"x"), "encoding": "base64"}}),
            json!({"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": Sha256::of(b"{}").hex(), "size": 2}}),
            json!({"key": "copyFile", "value": {"path": "config.json", "newPath": path}}),
        ] {
            let res = t
                .hub_commit(
                    &token,
                    "alice/m",
                    &[json!({"key": "header", "value": {"summary": "evil"}}), op],
                )
                .await;
            any_client_error(res).await;
        }
        let res = t
            .client
            .post(format!("{}/api/models/alice/m/preupload/main", t.url))
            .bearer_auth(&token)
            .json(&json!({"files": [{"path": path, "size": 1, "sample": b64(b"x")}]}))
            .send()
            .await
            .unwrap();
        // Preupload only advises; it may refuse or answer, but never crash or store.
        assert!(
            res.status().is_client_error() || res.status().is_success(),
            "{path}: {}",
            res.status()
        );
    }
    // Still the one revision.
    let info: Value = t.get("/models/alice/m").await.json().await.unwrap();
    assert_eq!(info["revision"]["id"], rev.as_str());
    let revisions: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM revisions")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(revisions.0, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_413() {
    let t = TestApp::start_with(Backend::Sqlite, |c| {
        c.limits.max_json_body = 64 * 1024;
        c.max_files = 3;
    })
    .await;
    let token = t.user("alice").await;
    // JSON over max_json_body, on the native and the Hub surfaces.
    let big = json!({"parent": null, "message": "x".repeat(100_000), "files": []});
    let v = client_error(
        t.post_json(&token, "/models/alice/bad/commits", &big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(
        v["error"].as_str().unwrap().contains("max_json_body"),
        "{v}"
    );
    assert_eq!(v["code"], "too_large");
    let res = t
        .client
        .post(format!("{}/api/v1/blobs/missing", t.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(vec![b' '; 200_000])
        .send()
        .await
        .unwrap();
    client_error(res, StatusCode::PAYLOAD_TOO_LARGE).await;
    let res = t
        .client
        .post(format!("{}/api/repos/create", t.url))
        .bearer_auth(&token)
        .json(&json!({"name": "x", "padding": "y".repeat(100_000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Too many files.
    let files: Vec<(String, Vec<u8>)> = (0..4)
        .map(|i| (format!("f{i}.txt"), vec![b'a' + i as u8]))
        .collect();
    let files: Vec<(&str, Vec<u8>)> = files.iter().map(|(p, b)| (p.as_str(), b.clone())).collect();
    let res = t
        .push(&token, "alice/bad", &files, None, json!({"license": "mit"}))
        .await;
    let v = client_error(res, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(v["error"].as_str().unwrap().contains("max_files"), "{v}");
    nothing_published(&t, "alice/bad").await;

    // The Hub commit: a line over 1 MiB outside `content`, and too many operations.
    let rev = t
        .push_ok(
            &token,
            "alice/m",
            &[("config.json", b"{}".to_vec()), readme()],
            None,
        )
        .await;
    let lines = [json!({"key": "header", "value": {"summary": "s".repeat(2 << 20)}})];
    let v = client_error(
        t.hub_commit(&token, "alice/m", &lines).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(v["error"].as_str().unwrap().contains("1 MiB"), "{v}");
    let mut lines = vec![json!({"key": "header", "value": {"summary": "many"}})];
    for i in 0..10 {
        lines.push(json!({"key": "deletedFile", "value": {"path": format!("nope{i}")}}));
    }
    let v = client_error(
        t.hub_commit(&token, "alice/m", &lines).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(v["error"].as_str().unwrap().contains("max_files"), "{v}");
    let info: Value = t.get("/models/alice/m").await.json().await.unwrap();
    assert_eq!(info["revision"]["id"], rev.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_part_lengths_are_refused_and_not_recorded() {
    let t = TestApp::start(Backend::Sqlite).await;
    let token = t.user("alice").await;
    let bytes = shard(2, 7);
    let status = t.start_upload(&token, &bytes).await;
    let id = status.id.clone().unwrap();
    let url = t.api(&format!("/uploads/{id}/parts/0"));
    let (a, b) = status.part_range(0);
    let part = &bytes[a as usize..b as usize];
    // Shorter and longer than the part.
    for body in [
        part[..part.len() - 1].to_vec(),
        [part, b"x"].concat(),
        Vec::new(),
    ] {
        let res = t
            .client
            .put(&url)
            .bearer_auth(&token)
            .body(body)
            .send()
            .await
            .unwrap();
        client_error(res, StatusCode::BAD_REQUEST).await;
    }
    // A Content-Length that promises more than is sent, then the client stops writing.
    let addr = t.url.trim_start_matches("http://").to_string();
    let path = format!("/api/v1/uploads/{id}/parts/0");
    let tok = token.clone();
    let reply = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(s, "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {tok}\r\nContent-Length: {}\r\n\r\n", part_len(&[a, b])).unwrap();
        s.write_all(&[0u8; 1000]).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).to_string()
    })
    .await
    .unwrap();
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 4"),
        "{reply}"
    );
    // A wrong part number.
    let res = t
        .client
        .put(t.api(&format!("/uploads/{id}/parts/99")))
        .bearer_auth(&token)
        .body(part.to_vec())
        .send()
        .await
        .unwrap();
    client_error(res, StatusCode::BAD_REQUEST).await;
    // Nothing was recorded: the part is still missing, and complete says so.
    let res = t
        .client
        .get(t.api(&format!("/uploads/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    let now: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    assert_eq!(now["received"], json!([]), "{now}");
    client_error(t.complete(&token, &status).await, StatusCode::CONFLICT).await;
    // And the upload still works.
    t.upload(&token, &bytes).await;
    assert_eq!(t.get("/models").await.status(), StatusCode::OK);
}

fn part_len(r: &[u64; 2]) -> u64 {
    r[1] - r[0]
}

/// Opens a connection, sends `head` and then `body` one byte per `gap`,
/// and returns the reply and how long until the server answered or closed.
fn trickle(url: &str, head: &str, body: &[u8], gap: Duration) -> (String, Duration) {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let mut sent = 0;
    let _ = s.write_all(head.as_bytes());
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.windows(4).any(|w| w == b"\r\n\r\n")
                    && String::from_utf8_lossy(&out).contains("}")
                {
                    break;
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
        if start.elapsed() > Duration::from_secs(30) {
            panic!("the server neither answered nor closed a trickling connection in 30 s");
        }
        if sent < body.len() && start.elapsed() >= gap * (sent as u32 + 1) {
            if s.write_all(&body[sent..sent + 1]).is_err() {
                break;
            }
            sent += 1;
        }
    }
    (String::from_utf8_lossy(&out).to_string(), start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_clients_are_cut_and_the_server_stays_healthy() {
    let t = TestApp::start_with(Backend::Sqlite, |c| {
        c.limits.idle_timeout_secs = 1;
        c.limits.request_timeout_secs = 3;
        // The trickled JSON body tests the request timeout, not the body rate (attacks_limits.rs).
        c.limits.min_body_rate = 0;
    })
    .await;
    let token = t.user("alice").await;
    let url = t.url.clone();
    let addr = url.trim_start_matches("http://").to_string();
    let bytes = shard(2, 9);
    let status = t.start_upload(&token, &bytes).await;
    let id = status.id.clone().unwrap();
    let tok = token.clone();
    let (results, healthy_meanwhile) = tokio::join!(
        tokio::task::spawn_blocking(move || {
            let mut results = Vec::new();
            // Headers that never finish (slowloris): the connection is closed.
            results.push((
                "headers",
                trickle(
                    &url,
                    "GET /healthz HTTP/1.1\r\nHost: x\r\n",
                    &[],
                    Duration::from_secs(1),
                ),
            ));
            // A part upload whose body stops: 408 (idle_timeout_secs) or a cut connection.
            results.push(("part body", trickle(&url, &format!(
                "PUT /api/v1/uploads/{id}/parts/0 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {tok}\r\nContent-Length: 1048576\r\n\r\n"),
                &[0u8; 3], Duration::from_millis(300))));
            // A JSON body that trickles a byte every 0.5 s: never idle, but over the request timeout.
            let json = br#"{"blobs": [                                                                    ]}"#;
            results.push(("json body", trickle(&url, &format!(
                "POST /api/v1/blobs/missing HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {tok}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", json.len()),
                json, Duration::from_millis(500))));
            results
        }),
        async {
            // Others are served while those hang.
            let mut ok = 0;
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(400)).await;
                if t.client
                    .get(format!("{}/healthz", t.url))
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false)
                {
                    ok += 1;
                }
            }
            ok
        }
    );
    assert_eq!(healthy_meanwhile, 5);
    for (what, (reply, took)) in results.unwrap() {
        eprintln!(
            "{what}: {took:?}: {}",
            reply.lines().next().unwrap_or("(closed)")
        );
        assert!(took < Duration::from_secs(8), "{what} was held {took:?}");
        assert!(
            reply.is_empty() || reply.starts_with("HTTP/1.1 408"),
            "{what}: {reply}"
        );
        if !reply.is_empty() {
            assert!(
                reply.contains("_timeout_secs"),
                "{what}: the 408 names the limit: {reply}"
            );
        }
    }
    // The part was not recorded, and the upload still completes.
    t.upload(&token, &bytes).await;
    assert_eq!(
        t.client
            .get(format!("{}/healthz", t.url))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_headers_is_401() {
    let t = TestApp::start(Backend::Sqlite).await;
    let _ = t.user("alice").await;
    for value in [
        &b"Bearer \xff\xfe\xfd"[..],
        b"Bearer gr_\xc3\x28",
        b"\xff",
        b"Bearer ",
        b"Basic YWxpY2U6eA==",
    ] {
        for target in [
            "/api/v1/models",
            "/api/v1/whoami",
            "/api/whoami-v2",
            "/api/models",
            "/alice/x/resolve/main/a",
        ] {
            let (status, body) = raw_get(&t.url, target, &[("Authorization", value)]);
            assert_eq!(
                status,
                401,
                "{target} with {value:?}: {}",
                String::from_utf8_lossy(&body)
            );
            let v: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["code"], "unauthorized", "{v}");
        }
    }
    // Other odd header bytes are harmless.
    let (status, _) = raw_get(
        &t.url,
        "/api/v1/models",
        &[
            ("X-Request-Id", b"\xff\xfe"),
            ("Cookie", b"granary_session=\xff"),
        ],
    );
    assert_eq!(status, 200);
    let (status, _) = raw_get(&t.url, "/api/v1/models", &[("Range", b"bytes=\xff-")]);
    assert_eq!(status, 200);
}

on_every_backend!(search_treats_wildcards_and_quotes_as_text);

async fn search_treats_wildcards_and_quotes_as_text(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    t.push_ok(
        &token,
        "alice/alpha_1",
        &[("config.json", b"{}".to_vec()), readme()],
        None,
    )
    .await;
    t.push_ok(
        &token,
        "alice/beta",
        &[("config.json", b"{}".to_vec()), readme()],
        None,
    )
    .await;
    let native = |q: &str| {
        let url = reqwest::Url::parse_with_params(&t.api("/models"), &[("q", q)]).unwrap();
        let client = t.client.clone();
        async move {
            let res = client.get(url).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let v: Value = res.json().await.unwrap();
            v["models"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let hub = |q: &str| {
        let url =
            reqwest::Url::parse_with_params(&format!("{}/api/models", t.url), &[("search", q)])
                .unwrap();
        let client = t.client.clone();
        async move {
            let res = client.get(url).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let v: Value = res.json().await.unwrap();
            v.as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    for (q, want) in [
        ("%", vec![]),
        ("_", vec!["alice/alpha_1"]),
        ("a_1", vec!["alice/alpha_1"]),
        ("a%1", vec![]),
        ("'", vec![]),
        ("\"", vec![]),
        ("\\", vec![]),
        ("' OR 1=1 --", vec![]),
        ("\") OR (\"1\"=\"1", vec![]),
        ("beta", vec!["alice/beta"]),
        ("\u{0}", vec![]),
    ] {
        assert_eq!(native(q).await, want, "native q={q:?}");
        assert_eq!(hub(q).await, want, "hub search={q:?}");
    }
    // The web search page too: a 200 without the wildcard matching everything.
    let url = reqwest::Url::parse_with_params(&format!("{}/models", t.url), &[("q", "%")]).unwrap();
    let page = t
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("alice/beta"),
        "`%` matched everything on the web page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_in_user_fields_is_escaped_on_web_pages() {
    let t = TestApp::start(Backend::Sqlite).await;
    let token = t.user("alice").await;
    let x = "<script>document.title='pwned'</script>";
    let img = "<img src=x onerror=alert(1)>";
    let card = format!(
        "---\nlicense: apache-2.0\ntags:\n  - \"{x}\"\n  - \"{img}\"\npipeline_tag: \"{x}\"\nlibrary_name: \"{img}\"\n\
         base_model: \"javascript:alert(1)\"\ndatasets:\n  - \"{x}\"\nlanguage:\n  - \"{img}\"\n---\n\
         # Title {x}\n\n{img}\n\n[link](javascript:alert(1))\n\n<a href=\"javascript:alert(2)\">a</a>\n\n\
         <iframe src=\"https://evil.example\"></iframe>\n\n<div onclick=\"alert(3)\">d</div>\n\n<svg onload=alert(4)></svg>\n"
    );
    let weights = build(&[(x, "F32", vec![1], vec![0; 4])]);
    let files = vec![
        ("README.md", card.into_bytes()),
        // `<`, `>` and `"` cannot be in a path at all (Windows refuses them): quotes and
        // ampersands can.
        ("'onmouseover='alert(5)' x&amp;y.json", b"{}".to_vec()),
        ("dir'onmouseover='alert(6)/x.txt", b"x".to_vec()),
        ("model.safetensors", weights),
    ];
    let res = t
        .push(
            &token,
            "alice/xss",
            &files,
            None,
            json!({"message": format!("msg {x} {img}")}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    // Branch and tag names cannot hold markup at all.
    for name in ["<script>", "a\"b", "x onmouseover=1"] {
        let res = t
            .client
            .put(t.api(&format!("/models/alice/xss/tags/{}", urlencode(name))))
            .bearer_auth(&token)
            .json(&json!({"revision": "main"}))
            .send()
            .await
            .unwrap();
        client_error(res, StatusCode::BAD_REQUEST).await;
    }
    let pages = [
        "/".to_string(),
        "/models".to_string(),
        "/models?q=%3Cscript%3E".to_string(),
        "/alice".to_string(),
        "/alice/xss".to_string(),
        "/alice/xss/tree/main".to_string(),
        "/alice/xss/tree/main?path=dir%27onmouseover%3D%27alert(6)".to_string(),
        "/alice/xss/commits/main".to_string(),
        "/alice/xss/tensors/main/model.safetensors".to_string(),
        "/alice/xss/benchmarks".to_string(),
    ];
    for page in pages {
        let res = t
            .client
            .get(format!("{}{page}", t.url))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let html = res.text().await.unwrap();
        assert!(
            status.is_success() || status == StatusCode::NOT_FOUND,
            "{page}: {status}"
        );
        let bad = dangerous_markup(&html);
        assert!(
            bad.is_empty(),
            "{page} has live markup from user input: {bad:?}"
        );
    }
}

/// Tags in `html` that would run script: `<script>`, `<iframe>`, `<svg>`, `<object>`,
/// `<embed>`, any `on…=` attribute, any `javascript:` URL. Escaped text (`&lt;script&gt;`) is fine.
fn dangerous_markup(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    let bytes = lower.as_bytes();
    for (i, _) in lower.match_indices('<') {
        if !bytes.get(i + 1).is_some_and(|b| b.is_ascii_alphabetic()) {
            continue;
        }
        let end = lower[i..]
            .find('>')
            .map(|j| i + j + 1)
            .unwrap_or(lower.len());
        let tag = &lower[i..end];
        let name: String = tag[1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let handler = tag.char_indices().any(|(k, c)| {
            (c.is_ascii_whitespace() || c == '"' || c == '\'' || c == '/')
                && tag[k + 1..].starts_with("on")
                && tag[k + 3..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .count()
                    > 0
                && tag[k + 3..]
                    .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                    .trim_start()
                    .starts_with('=')
        });
        if matches!(
            name.as_str(),
            "script" | "iframe" | "svg" | "object" | "embed"
        ) || handler
            || tag.contains("javascript:")
        {
            found.push(html[i..end].to_string());
        }
    }
    found
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn the_markup_check_sees_handlers_but_not_escaped_text() {
    assert!(dangerous_markup("<p>&lt;script&gt; onerror=x javascript:</p>").is_empty());
    assert_eq!(dangerous_markup("<img src=x onerror=alert(1)>").len(), 1);
    assert_eq!(
        dangerous_markup("<td title=\"a\"onmouseover=\"x\">").len(),
        1
    );
    assert_eq!(
        dangerous_markup("<a href=\"javascript:alert(1)\">").len(),
        1
    );
    assert_eq!(dangerous_markup("<SCRIPT>x</SCRIPT>").len(), 1);
    assert!(dangerous_markup("<a href=\"/alice/one\">one</a>").is_empty());
}
