//! The cache by model (issue 22, item 11): `cache ls` grouped by model and
//! revision, `cache rm OWNER/NAME[:REF]` keeping blobs other pulls need, and
//! `cache verify` naming the pulled files whose blobs are damaged.

mod support;

use support::{Client, Server, make_model};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn the_cache_is_listed_removed_and_verified_by_model() {
    let server = Server::start();
    let alice = Client::new(&server);
    for (name, seed) in [("alice/a", 11), ("alice/b", 12)] {
        let src = alice.path(name);
        make_model(&src, seed, 1000);
        alice.ok(&["push", src.to_str().unwrap(), name]);
    }
    let bob = Client::new(&server);
    let rev_a = bob.ok(&["pull", "alice/a", "-o", "a"]);
    let rev_b = bob.ok(&["pull", "alice/b", "-o", "b"]);

    let ls = stdout(&bob.run(&["cache", "ls"]));
    let lines: Vec<&str> = ls.lines().collect();
    assert!(
        lines[0].starts_with("MODEL") && lines[0].contains("LAST USED"),
        "{ls}"
    );
    assert!(
        lines[1].starts_with("alice/a") && lines[1].contains(&rev_a[..12]),
        "{ls}"
    );
    assert!(
        lines[2].starts_with("alice/b") && lines[2].contains("main"),
        "{ls}"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&bob.run(&["cache", "ls", "--json"]).stdout).unwrap();
    assert_eq!(v["models"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["models"][1]["revision"], rev_b.as_str());

    // rm removes alice/a's blobs, but not README.md's, which alice/b shares.
    bob.fails(&["cache", "rm", "alice/nothing"], 3);
    bob.fails(&["cache", "rm", "alice/a:v9"], 3);
    bob.ok(&["cache", "rm", "alice/a:main"]);
    let ls = stdout(&bob.run(&["cache", "ls"]));
    assert!(!ls.contains("alice/a"), "{ls}");
    let before = server.stats().sent;
    bob.ok(&["pull", "alice/b", "-o", "b2"]);
    assert_eq!(server.stats().sent, before, "alice/b is whole in the cache");
    let readme = std::fs::read(bob.path("a").join("README.md")).unwrap();
    let before = server.stats().sent;
    bob.ok(&["pull", "alice/a", "-o", "a2"]);
    let config = std::fs::metadata(bob.path("a").join("config.json"))
        .unwrap()
        .len();
    assert!(
        server.stats().sent - before > config,
        "alice/a's own blobs were removed and come again"
    );
    assert_eq!(
        std::fs::read(bob.path("a2").join("README.md")).unwrap(),
        readme
    );

    // A damaged blob: verify names the pulled files it backs.
    let body = std::fs::read(bob.path("b").join("config.json")).unwrap();
    let hex = granary_core::Sha256::of(&body).hex();
    let blob = bob.cache().join("blobs/sha256").join(&hex[..2]).join(&hex);
    let mut perms = std::fs::metadata(&blob).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&blob, perms).unwrap();
    std::fs::write(&blob, b"{\"damaged\": true}\n").unwrap();
    let err = bob.fails(&["cache", "verify"], 7);
    assert!(
        err.contains(&format!("damaged: config.json of alice/b@{}", &rev_b[..12])),
        "{err}"
    );
}
