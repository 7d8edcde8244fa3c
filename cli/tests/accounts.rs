//! Accounts from the command line against a real server: tokens and their
//! scopes, private and gated models, repository settings and deletion, and
//! organisations whose members push under the organisation's name.

mod support;

use support::{Client, Server, make_model, read_tree};

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

#[test]
fn tokens_are_created_scoped_listed_and_revoked() {
    let server = Server::start();
    let alice = Client::new(&server);
    let src = alice.path("src");
    make_model(&src, 1, 1000);

    let read = alice.ok(&[
        "token",
        "create",
        "--scope",
        "read",
        "--name",
        "ci-read",
        "--expires-days",
        "30",
    ]);
    assert!(
        !read.is_empty() && !read.contains(' '),
        "the token alone on the last line: {read}"
    );
    let mut reader = Client::new(&server);
    reader.token = Some(read.clone());
    assert_eq!(reader.ok(&["whoami"]), "alice");
    // A read token cannot push, nor mint a stronger token.
    let err = reader.fails(&["push", src.to_str().unwrap(), "alice/x"], 4);
    assert!(err.contains("read"), "{err}");
    reader.fails(&["token", "create", "--scope", "write"], 4);

    // A token limited to another namespace cannot push to alice's.
    let limited = alice.ok(&["token", "create", "--owner", "bob"]);
    let mut elsewhere = Client::new(&server);
    elsewhere.token = Some(limited);
    elsewhere.fails(&["push", src.to_str().unwrap(), "alice/x"], 4);

    let table = String::from_utf8(alice.run(&["token", "ls"]).stdout).unwrap();
    let line = table
        .lines()
        .find(|l| l.contains("ci-read"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains(" read ") && line.ends_with("live"), "{line}");
    let tokens = json(&alice, &["token", "ls"]);
    let row = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci-read")
        .unwrap()
        .clone();
    assert!(row["expires_at"].as_i64().is_some(), "{row}");
    assert!(
        !tokens.to_string().contains(&read),
        "token ls never shows a secret"
    );

    let id = row["id"].as_str().unwrap();
    alice.ok(&["token", "revoke", id]);
    let err = reader.fails(&["whoami"], 4);
    assert!(err.contains("revoked"), "{err}");
    let table = String::from_utf8(alice.run(&["token", "ls"]).stdout).unwrap();
    assert!(
        table
            .lines()
            .any(|l| l.contains("ci-read") && l.ends_with("revoked")),
        "{table}"
    );
    alice.fails(&["token", "revoke", id], 3);
    alice.fails(&["token", "create", "--scope", "root"], 2);
}

#[test]
fn a_private_model_is_invisible_to_others_until_made_public() {
    let server = Server::start();
    let alice = Client::new(&server);
    let src = alice.path("src");
    make_model(&src, 2, 1000);
    let rev = alice.ok(&["push", src.to_str().unwrap(), "alice/secret", "--private"]);
    assert_eq!(alice.ok(&["pull", "alice/secret", "-o", "mine"]), rev);

    let mut bob = Client::new(&server);
    bob.token = Some(server.bob_token.clone());
    bob.fails(&["pull", "alice/secret"], 3);
    bob.fails(&["info", "alice/secret"], 3);
    let mut anonymous = Client::new(&server);
    anonymous.token = None;
    anonymous.fails(&["pull", "alice/secret"], 3);
    // Bob can neither see nor change it.
    bob.fails(&["repo", "settings", "alice/secret", "--public"], 3);

    let settings = json(&alice, &["repo", "settings", "alice/secret", "--public"]);
    assert_eq!(
        (settings["private"].as_bool(), settings["gated"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(bob.ok(&["pull", "alice/secret"]), rev);
    assert_eq!(
        read_tree(&bob.path("secret")),
        read_tree(&alice.path("mine"))
    );
    // Another push keeps its visibility: --private only counts on the first.
    std::fs::write(src.join("NOTES.md"), "more\n").unwrap();
    alice.ok(&[
        "push",
        src.to_str().unwrap(),
        "alice/secret",
        "--private",
        "-m",
        "again",
    ]);
    bob.ok(&["info", "alice/secret"]);
    // Bob may not make alice's model private again.
    bob.fails(&["repo", "settings", "alice/secret", "--private"], 4);
    alice.fails(
        &["repo", "settings", "alice/secret", "--private", "--public"],
        2,
    );
}

#[test]
fn a_gated_pull_is_refused_until_the_license_is_accepted() {
    let server = Server::start();
    let alice = Client::new(&server);
    assert_eq!(
        alice.ok(&["repo", "create", "alice/gated", "--gated"]),
        "alice/gated"
    );
    alice.fails(&["repo", "create", "alice/gated"], 5);
    let src = alice.path("src");
    make_model(&src, 3, 1000);
    let rev = alice.ok(&["push", src.to_str().unwrap(), "alice/gated"]);
    // The owner downloads without accepting anything.
    alice.ok(&["pull", "alice/gated"]);

    let mut bob = Client::new(&server);
    bob.token = Some(server.bob_token.clone());
    bob.ok(&["info", "alice/gated"]);
    let err = bob.fails(&["pull", "alice/gated"], 4);
    assert!(
        err.contains("granary license accept alice/gated"),
        "the error says where to accept: {err}"
    );
    assert!(!err.contains("this token may not"), "{err}");
    let mut anonymous = Client::new(&server);
    anonymous.token = None;
    anonymous.fails(&["license", "accept", "alice/gated"], 4);

    bob.ok(&["license", "accept", "alice/gated"]);
    assert_eq!(bob.ok(&["pull", "alice/gated"]), rev);
    assert_eq!(
        read_tree(&bob.path("gated")),
        read_tree(&alice.path("gated"))
    );

    let settings = json(
        &alice,
        &["repo", "settings", "alice/gated", "--ungated", "--private"],
    );
    assert_eq!(
        (settings["private"].as_bool(), settings["gated"].as_bool()),
        (Some(true), Some(false))
    );
}

#[test]
fn delete_asks_for_yes_and_only_the_owner_may() {
    let server = Server::start();
    let alice = Client::new(&server);
    let src = alice.path("src");
    make_model(&src, 4, 1000);
    alice.ok(&["push", src.to_str().unwrap(), "alice/doomed"]);

    // Not on a terminal: no prompt, a refusal.
    let err = alice.fails(&["repo", "delete", "alice/doomed"], 2);
    assert!(err.contains("--yes"), "{err}");
    let mut bob = Client::new(&server);
    bob.token = Some(server.bob_token.clone());
    bob.fails(&["repo", "delete", "alice/doomed", "--yes"], 4);
    alice.ok(&["info", "alice/doomed"]);

    alice.ok(&["repo", "delete", "alice/doomed", "--yes"]);
    alice.fails(&["info", "alice/doomed"], 3);
    alice.fails(&["repo", "delete", "alice/doomed", "--yes"], 3);
    // The name is free again.
    alice.ok(&["repo", "create", "alice/doomed", "--private"]);
}

#[test]
fn org_members_with_write_push_under_the_org() {
    let server = Server::start();
    let alice = Client::new(&server);
    assert_eq!(alice.ok(&["org", "create", "acme"]), "acme");
    alice.fails(&["org", "create", "acme"], 5);
    alice.fails(&["org", "create", "bob"], 5);

    let mut bob = Client::new(&server);
    bob.token = Some(server.bob_token.clone());
    let src = bob.path("src");
    make_model(&src, 5, 1000);
    bob.fails(&["push", src.to_str().unwrap(), "acme/model"], 4);
    bob.fails(&["org", "add-member", "acme", "bob", "--role", "write"], 4);

    alice.ok(&["org", "add-member", "acme", "bob", "--role", "read"]);
    bob.fails(&["push", src.to_str().unwrap(), "acme/model"], 4);
    alice.ok(&["org", "add-member", "acme", "bob", "--role", "write"]);
    let rev = bob.ok(&["push", src.to_str().unwrap(), "acme/model", "--private"]);
    assert_eq!(alice.ok(&["pull", "acme/model"]), rev);
    // Write is not admin: bob may not manage members or settings.
    bob.fails(&["org", "add-member", "acme", "bob", "--role", "admin"], 4);
    bob.fails(&["repo", "settings", "acme/model", "--public"], 4);

    let members = json(&bob, &["org", "members", "acme"]);
    let roles: Vec<(String, String)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("alice".to_string(), "admin".to_string()),
            ("bob".to_string(), "write".to_string())
        ]
    );
    let table = String::from_utf8(alice.run(&["org", "members", "acme"]).stdout).unwrap();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("bob") && l.ends_with("write")),
        "{table}"
    );

    alice.ok(&["org", "remove-member", "acme", "bob"]);
    // The model is private: to bob it is now as if it did not exist. A push is refused
    // for the namespace, the same way as to a model that does not exist.
    let private = bob.fails(
        &["push", src.to_str().unwrap(), "acme/model", "-m", "again"],
        4,
    );
    let missing = bob.fails(
        &["push", src.to_str().unwrap(), "acme/other", "-m", "again"],
        4,
    );
    let error = |stderr: &str, name: &str| {
        stderr
            .lines()
            .filter(|l| l.starts_with("error"))
            .collect::<Vec<_>>()
            .join("\n")
            .replace(name, "X")
    };
    assert_eq!(error(&private, "acme/model"), error(&missing, "acme/other"));
    bob.fails(&["pull", "acme/model", "-o", "gone"], 3);
    alice.fails(&["org", "remove-member", "acme", "bob"], 3);
    alice.fails(
        &["org", "add-member", "acme", "nobody", "--role", "read"],
        3,
    );
}
