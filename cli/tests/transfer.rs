//! Push and pull round trips against a real server: every way of naming a
//! revision, include/exclude, and the guarantees that nothing is sent twice.

mod support;

use support::{Client, Server, make_model, read_tree};

/// Shards of 600k F32 parameters: 2.4 MB each, three upload parts.
const PARAMS: usize = 600_000;

#[test]
fn push_then_pull_is_byte_identical_by_every_kind_of_revision_name() {
    let server = Server::start();
    let alice = Client::new(&server);
    let src = alice.path("src");
    make_model(&src, 1, PARAMS);
    std::fs::create_dir_all(src.join(".git")).unwrap();
    std::fs::write(src.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(src.join("notes.tmp"), "scratch").unwrap();
    std::fs::write(src.join(".granaryignore"), "*.tmp\n").unwrap();

    let rev = alice.ok(&[
        "push",
        src.to_str().unwrap(),
        "alice/tiny",
        "--tag",
        "v1.0",
        "-m",
        "first",
    ]);
    assert_eq!(
        rev.len(),
        64,
        "the last stdout line is the revision id: {rev}"
    );
    let mut expected = read_tree(&src);
    expected.retain(|p, _| !p.starts_with(".git/") && p != "notes.tmp" && p != ".granaryignore");
    assert_eq!(expected.len(), 5);

    // Another machine pulls it, by branch (default dir ./NAME), tag, full id and 12-hex prefix.
    let bob = Client::new(&server);
    assert_eq!(bob.ok(&["pull", "alice/tiny"]), rev);
    assert_eq!(read_tree(&bob.path("tiny")), expected);
    for (spec, dir) in [
        ("alice/tiny:main".to_string(), "by-branch"),
        ("alice/tiny:v1.0".to_string(), "by-tag"),
        (format!("alice/tiny@{rev}"), "by-id"),
        (format!("alice/tiny@{}", &rev[..12]), "by-prefix"),
    ] {
        assert_eq!(bob.ok(&["pull", &spec, "-o", dir]), rev, "{spec}");
        assert_eq!(read_tree(&bob.path(dir)), expected, "{spec}");
    }

    // --json prints the RevisionInfo.
    std::fs::write(src.join("config.json"), "{\"model_type\": \"test\"}\n").unwrap();
    let out = alice.run(&["push", src.to_str().unwrap(), "alice/tiny", "--json"]);
    assert!(out.status.success());
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("push --json is JSON");
    assert_eq!(info["parent"], rev.as_str());
    assert_eq!(info["files"].as_array().unwrap().len(), 5);
    assert_eq!(info["parameter_total"], (3 * PARAMS) as u64);

    // info --json passes the server's JSON through.
    let out = bob.run(&["info", "alice/tiny:v1.0", "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["revision"]["id"], rev.as_str());
    let text = bob.ok(&["info", "alice/tiny"]);
    assert!(!text.is_empty());
    let human = String::from_utf8(bob.run(&["info", "alice/tiny"]).stdout).unwrap();
    assert!(
        human.contains("model-00001-of-00003.safetensors") && human.contains("1.8M"),
        "{human}"
    );

    // ls, search and log see it.
    let ls = String::from_utf8(bob.run(&["ls", "alice"]).stdout).unwrap();
    assert!(ls.contains("alice/tiny"), "{ls}");
    let found = String::from_utf8(bob.run(&["search", "tin", "--json"]).stdout).unwrap();
    assert!(found.contains("alice/tiny"), "{found}");
    let log = String::from_utf8(bob.run(&["log", "alice/tiny"]).stdout).unwrap();
    assert_eq!(log.lines().count(), 2, "{log}");
    assert!(log.lines().last().unwrap().starts_with(&rev[..12]));
}

#[test]
fn include_and_exclude_choose_files() {
    let server = Server::start();
    let alice = Client::new(&server);
    let src = alice.path("src");
    make_model(&src, 2, 10_000);
    alice.ok(&["push", src.to_str().unwrap(), "alice/globs"]);

    alice.ok(&[
        "pull",
        "alice/globs",
        "-o",
        "json-only",
        "--include",
        "*.json",
    ]);
    let got: Vec<String> = read_tree(&alice.path("json-only")).into_keys().collect();
    assert_eq!(got, ["config.json"]);

    alice.ok(&[
        "pull",
        "alice/globs",
        "-o",
        "no-weights",
        "--exclude",
        "*.safetensors",
    ]);
    let got: Vec<String> = read_tree(&alice.path("no-weights")).into_keys().collect();
    assert_eq!(got, ["README.md", "config.json"]);

    alice.ok(&[
        "pull",
        "alice/globs",
        "-o",
        "some",
        "--include",
        "*.safetensors",
        "--exclude",
        "*00002*",
    ]);
    assert_eq!(read_tree(&alice.path("some")).len(), 2);
    alice.fails(
        &["pull", "alice/globs", "-o", "none", "--include", "*.onnx"],
        3,
    );

    let out = alice.run(&[
        "pull",
        "alice/globs",
        "-o",
        "json",
        "--include",
        "*.md",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("pull --json is JSON");
    assert_eq!(v["files"].as_array().unwrap().len(), 1);
    assert_eq!(v["files"][0]["path"], "README.md");
    assert_eq!(
        v["downloaded_bytes"], 0,
        "README.md was cached by the pulls before"
    );
}

#[test]
fn nothing_is_transferred_twice() {
    let server = Server::start();
    let alice = Client::new(&server);
    let src = alice.path("src");
    make_model(&src, 3, PARAMS);
    let total: u64 = read_tree(&src).values().map(|b| b.len() as u64).sum();

    let before = server.stats();
    alice.ok(&["push", src.to_str().unwrap(), "alice/a"]);
    let after_first = server.stats();
    assert_eq!(
        after_first.received - before.received,
        total,
        "the first push sends every byte once"
    );

    // A second push of the same files sends no blob bytes.
    alice.ok(&["push", src.to_str().unwrap(), "alice/a", "-m", "again"]);
    assert_eq!(server.stats().received, after_first.received);

    // A first pull downloads everything; a second (to another dir) nothing.
    let bob = Client::new(&server);
    let s0 = server.stats();
    bob.ok(&["pull", "alice/a", "-o", "one"]);
    let s1 = server.stats();
    assert_eq!(s1.sent - s0.sent, total);
    bob.ok(&["pull", "alice/a", "-o", "two"]);
    assert_eq!(
        server.stats().sent,
        s1.sent,
        "a second pull downloads nothing"
    );
    assert_eq!(read_tree(&bob.path("two")), read_tree(&bob.path("one")));

    // Another model sharing a shard: pushing it sends only the new bytes,
    // pulling it downloads only the new bytes.
    let other = alice.path("other");
    std::fs::create_dir_all(&other).unwrap();
    let shared = "model-00002-of-00003.safetensors";
    std::fs::copy(src.join(shared), other.join(shared)).unwrap();
    std::fs::write(other.join("README.md"), "---\nlicense: mit\n---\nother\n").unwrap();
    let r0 = server.stats().received;
    alice.ok(&["push", other.to_str().unwrap(), "alice/b"]);
    let new_readme = std::fs::metadata(other.join("README.md")).unwrap().len();
    assert_eq!(server.stats().received - r0, new_readme);
    let s2 = server.stats();
    bob.ok(&["pull", "alice/b", "-o", "b"]);
    assert_eq!(
        server.stats().sent - s2.sent,
        new_readme,
        "the shared shard comes from the cache"
    );
    assert_eq!(
        std::fs::read(bob.path("b").join(shared)).unwrap(),
        std::fs::read(src.join(shared)).unwrap()
    );

    // The pulled files are hard links to the cache, except for root (copies).
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(bob.path("b").join(shared)).unwrap();
        if support::running_as_root() {
            assert_eq!(meta.nlink(), 1, "root's pulls copy");
        } else {
            assert!(
                meta.nlink() >= 3,
                "cache + one + two + b link the same inode"
            );
        }
    }
    let ls = String::from_utf8(bob.run(&["cache", "ls", "--json"]).stdout).unwrap();
    let ls: serde_json::Value = serde_json::from_str(&ls).unwrap();
    assert_eq!(ls["blobs"].as_array().unwrap().len(), 6);
    bob.ok(&["cache", "verify"]);
}
