//! `granary webhook` against a real server (allowed to deliver to loopback) and a
//! receiver on loopback: add, list, test, watch the delivery, remove; only the
//! namespace's admins may.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use support::{Client, Server, wait_until};

/// Runs `granary ARGS --json` as `c`, asserts success, parses stdout.
fn json(c: &Client, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = c.run(&all);
    assert!(
        out.status.success(),
        "granary {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("granary {all:?} printed no JSON ({e})"))
}

/// What the receiver got: (`X-Granary-Event`, body) per request.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A receiver that answers every POST 200 and keeps what it got.
fn receiver() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Received = Arc::default();
    let kept = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut length, mut event) = (0usize, String::new());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if let Some(v) = lower.strip_prefix("x-granary-event:") {
                    event = v.trim().to_string();
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            kept.lock()
                .unwrap()
                .push((event, String::from_utf8_lossy(&body).into_owned()));
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, got)
}

#[test]
fn webhooks_are_added_tested_listed_and_removed() {
    let server = Server::start_with_env(&[
        ("GRANARY_WEBHOOKS_ALLOW_PRIVATE", "true"),
        ("GRANARY_WEBHOOK_RETRY_BASE_MS", "100"),
    ]);
    let alice = Client::new(&server);
    let (url, got) = receiver();

    // Without --json the secret is alone on the last line of stdout.
    let secret = alice.ok(&["webhook", "add", "alice", &url, "--event", "webhook.ping"]);
    assert!(
        secret.starts_with("whsec_") && !secret.contains(' '),
        "{secret}"
    );
    let made = json(
        &alice,
        &[
            "webhook",
            "add",
            "alice",
            &url,
            "--secret",
            "0123456789abcdef0123",
        ],
    );
    let id = made["id"].as_str().unwrap().to_string();
    assert_eq!(made["secret"], "0123456789abcdef0123");

    let list = json(&alice, &["webhook", "ls", "alice"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(
        !list.to_string().contains("whsec_"),
        "secrets are never listed: {list}"
    );
    let table = String::from_utf8(alice.run(&["webhook", "ls", "alice"]).stdout).unwrap();
    assert!(
        table.contains(&id) && table.contains("webhook.ping"),
        "{table}"
    );

    let sent = json(&alice, &["webhook", "test", "alice", &id]);
    let event = sent["event_id"].as_str().unwrap().to_string();
    assert!(
        wait_until(30, || {
            let d = json(&alice, &["webhook", "deliveries", "alice", &id]);
            d[0]["state"] == "delivered"
        }),
        "the ping was not delivered"
    );
    let d = json(&alice, &["webhook", "deliveries", "alice", &id]);
    assert_eq!(d[0]["event_id"], event.as_str());
    assert_eq!(d[0]["event_type"], "webhook.ping");
    assert_eq!(d[0]["attempts"][0]["status"], 200);
    let received = got.lock().unwrap().clone();
    assert!(
        received
            .iter()
            .any(|(kind, body)| kind == "webhook.ping" && body.contains(&event)),
        "{received:?}"
    );

    // Bob administers nothing of alice's.
    let mut bob = Client::new(&server);
    bob.token = Some(server.bob_token.clone());
    bob.fails(&["webhook", "ls", "alice"], 4);
    bob.fails(&["webhook", "rm", "alice", &id], 4);

    alice.ok(&["webhook", "rm", "alice", &id]);
    assert_eq!(
        json(&alice, &["webhook", "ls", "alice"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    alice.fails(&["webhook", "rm", "alice", &id], 3);
    // An unknown event type is the caller's mistake.
    alice.fails(&["webhook", "add", "alice", &url, "--event", "nope"], 2);
}
