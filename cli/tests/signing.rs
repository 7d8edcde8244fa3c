//! `granary pull` checks every revision it writes against the registry's key
//! pinned for the endpoint and its transparency log (docs/SIGNING.md), and each
//! failure has its own exit code and writes nothing. A registry that lies is
//! played by a proxy in front of the real server that rewrites its answers.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use serde_json::Value;
use support::{Client, Server, make_model};

type Rewrite = dyn Fn(&str, &[u8]) -> Option<(u16, Vec<u8>)> + Send + Sync;

/// An HTTP/1.1 proxy to `upstream` whose answers `rewrite` may replace (given
/// the request path and the upstream body); one request per connection.
fn proxy(upstream: &str, rewrite: Arc<Rewrite>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let (Ok(conn), upstream, rewrite) = (conn, upstream.clone(), rewrite.clone()) else {
                continue;
            };
            std::thread::spawn(move || serve_one(conn, &upstream, &*rewrite));
        }
    });
    url
}

fn serve_one(mut conn: TcpStream, upstream: &str, rewrite: &Rewrite) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let path = text.split(' ').nth(1).unwrap_or("/").to_string();
    let request: String = text
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\r\n"))
        .collect::<String>()
        + "Connection: close\r\n\r\n";
    let mut up = TcpStream::connect(upstream).unwrap();
    up.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    up.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .unwrap_or(answer.len());
    let chunked = String::from_utf8_lossy(&answer[..split])
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = &answer[split..];
    let replaced = (!chunked).then(|| rewrite(&path, body)).flatten();
    match replaced {
        Some((status, body)) => {
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body);
        }
        None => {
            let _ = conn.write_all(&answer);
        }
    }
}

fn push_model(c: &Client, seed: u64, model: &str) -> String {
    let src = c.path(&format!("src{seed}"));
    make_model(&src, seed, 1000);
    c.ok(&["push", src.to_str().unwrap(), model])
}

fn trust_file(c: &Client) -> Value {
    serde_json::from_slice(&std::fs::read(c.config().join("trusted-keys.json")).unwrap()).unwrap()
}

fn edit_trust(c: &Client, edit: impl FnOnce(&mut Value)) {
    let mut v = trust_file(c);
    let endpoint = v["endpoints"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    edit(&mut v["endpoints"][&endpoint]);
    std::fs::write(c.config().join("trusted-keys.json"), v.to_string()).unwrap();
}

#[test]
fn pulls_check_the_signature_and_the_log_and_pin_the_key() {
    let server = Server::start();
    let c = Client::new(&server);
    let first = push_model(&c, 1, "alice/x");
    let out = c.run(&["pull", "alice/x", "-o", "one"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("trusting"), "first use is said: {stderr}");
    assert!(stderr.contains("signature checked"), "{stderr}");
    // The pinned key is the registry's current one.
    let keys: Value =
        serde_json::from_str(&support::http_get(&server.url, "/api/v1/keys")).unwrap();
    let trusted = trust_file(&c);
    let pin = trusted["endpoints"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(pin["key_id"], keys["keys"][0]["id"]);
    assert!(pin["log_size"].as_u64().unwrap() >= 1);
    // A second revision: the log grew consistently since the head seen.
    let second = push_model(&c, 2, "alice/x");
    assert_ne!(first, second);
    let json = c.ok(&["--json", "pull", "alice/x", "-o", "two"]);
    let _ = json;
    let out = c.run(&["--json", "pull", "alice/x", "-o", "three"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signature"]["key_id"], keys["keys"][0]["id"]);
    assert!(v["signature"]["log_size"].as_u64().unwrap() >= 2);
    // `granary key` shows it; `granary signature` saves the bundle.
    let key = c.run(&["key"]);
    assert!(String::from_utf8_lossy(&key.stdout).contains("BEGIN PUBLIC KEY"));
    assert!(String::from_utf8_lossy(&key.stderr).contains("trusted here"));
    c.ok(&["signature", "alice/x", "-o", "sig.json"]);
    let sig: Value = serde_json::from_slice(&std::fs::read(c.path("sig.json")).unwrap()).unwrap();
    assert_eq!(
        sig["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    // Opting out is possible, and said in --help.
    c.ok(&["pull", "alice/x", "-o", "four", "--no-verify-signature"]);
}

#[test]
fn a_changed_key_or_a_rewritten_log_is_refused_and_nothing_written() {
    let server = Server::start();
    let c = Client::new(&server);
    push_model(&c, 1, "alice/x");
    c.ok(&["pull", "alice/x", "-o", "ok"]);

    // The registry now signs with a key other than the pinned one.
    let saved = trust_file(&c);
    edit_trust(&c, |pin| pin["key_id"] = Value::from("ab".repeat(32)));
    let err = c.fails(&["pull", "alice/x", "-o", "changed"], 10);
    assert!(err.contains("--trusted-key"), "{err}");
    assert!(!c.path("changed").exists());
    std::fs::write(c.config().join("trusted-keys.json"), saved.to_string()).unwrap();

    // The log this client saw is not a prefix of the log it is shown now.
    edit_trust(&c, |pin| pin["log_root"] = Value::from("cd".repeat(32)));
    let err = c.fails(&["pull", "alice/x", "-o", "rewritten"], 12);
    assert!(err.contains("rewritten"), "{err}");
    assert!(!c.path("rewritten").exists());
    // ...nor is a longer log than this registry holds.
    std::fs::write(c.config().join("trusted-keys.json"), saved.to_string()).unwrap();
    edit_trust(&c, |pin| pin["log_size"] = Value::from(1000));
    c.fails(&["pull", "alice/x", "-o", "shrunk"], 12);
    assert!(!c.path("shrunk").exists());

    // --trusted-key pins a key explicitly; the right one works.
    std::fs::write(c.config().join("trusted-keys.json"), saved.to_string()).unwrap();
    let keys: Value =
        serde_json::from_str(&support::http_get(&server.url, "/api/v1/keys")).unwrap();
    std::fs::write(
        c.path("granary.pub"),
        keys["keys"][0]["public_key_pem"].as_str().unwrap(),
    )
    .unwrap();
    c.ok(&[
        "pull",
        "alice/x",
        "-o",
        "pinned",
        "--trusted-key",
        "granary.pub",
    ]);
}

#[test]
fn a_lying_registry_is_refused_with_a_distinct_exit_code() {
    let server = Server::start();
    let c = Client::new(&server);
    let first = push_model(&c, 1, "alice/x");
    let second = push_model(&c, 2, "alice/y");
    let other_sig = support::http_get(
        &server.url,
        &format!("/api/v1/models/alice/y/revisions/{second}/signature"),
    );

    let cases: Vec<(&str, i32, Arc<Rewrite>)> = vec![
        (
            "tampered",
            8,
            Arc::new(|path: &str, body: &[u8]| {
                path.ends_with("/signature").then(|| {
                    // One resource's digest changed after signing.
                    let mut b: Value = serde_json::from_slice(body).unwrap();
                    let payload = b["dsseEnvelope"]["payload"].as_str().unwrap().to_string();
                    let mut chars: Vec<char> = payload.chars().collect();
                    let i = chars.len() / 2;
                    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
                    b["dsseEnvelope"]["payload"] =
                        Value::from(chars.into_iter().collect::<String>());
                    (200, serde_json::to_vec(&b).unwrap())
                })
            }),
        ),
        (
            "another-revision",
            9,
            Arc::new(move |path: &str, _: &[u8]| {
                path.ends_with("/signature")
                    .then(|| (200, other_sig.clone().into_bytes()))
            }),
        ),
        (
            "not-logged",
            11,
            Arc::new(|path: &str, _: &[u8]| {
                path.contains("/log").then(|| {
                    (
                        404,
                        br#"{"error":"not in the log","code":"not_found"}"#.to_vec(),
                    )
                })
            }),
        ),
    ];
    for (name, code, rewrite) in cases {
        let url = proxy(&server.url, rewrite);
        let out = format!("out-{name}");
        let err = c.fails(
            &[
                "--endpoint",
                &url,
                "pull",
                &format!("alice/x@{first}"),
                "-o",
                &out,
            ],
            code,
        );
        assert!(err.contains("nothing was written"), "{name}: {err}");
        assert!(!c.path(&out).exists(), "{name}: files were written");
    }
}

#[test]
fn verification_attestations_check_with_the_pinned_key() {
    let server = Server::start();
    let c = Client::new(&server);
    c.fails(&["verify-attestation", "alice/missing"], 3);
    let rev = push_model(&c, 3, "alice/v");
    // The in-process worker verifies the revision; its report carries the attestation.
    let mut last = String::new();
    let done = support::wait_until(120, || {
        let out = c.run(&["verify-attestation", "alice/v"]);
        last = String::from_utf8_lossy(&out.stderr).to_string();
        out.status.success()
    });
    assert!(done, "no attestation: {last}\n{}", server.log());
    let out = c.ok(&["verify-attestation", "alice/v"]);
    assert!(
        out.starts_with(&format!("attestation of alice/v@{}", &rev[..12])),
        "{out}"
    );
    // It states the status the report shows.
    let info: Value =
        serde_json::from_slice(&c.run(&["--json", "info", "alice/v"]).stdout).unwrap();
    let status = info["revision"]["verification"][0]["status"]
        .as_str()
        .unwrap();
    assert!(
        out.contains(&format!(": {status} on cpu")),
        "{out} vs {status}"
    );

    // An attestation whose statement was edited after signing is refused.
    let url = proxy(
        &server.url,
        Arc::new(|path: &str, body: &[u8]| {
            (path == "/api/v1/models/alice/v").then(|| {
                let mut v: Value = serde_json::from_slice(body).unwrap();
                let att = &mut v["revision"]["verification"][0]["attestation"]["dsseEnvelope"];
                let payload = att["payload"].as_str().unwrap().to_string();
                att["payload"] = Value::from(payload.replacen('e', "f", 1));
                (200, serde_json::to_vec(&v).unwrap())
            })
        }),
    );
    c.fails(&["--endpoint", &url, "verify-attestation", "alice/v"], 8);
}
