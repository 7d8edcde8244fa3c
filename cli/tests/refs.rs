//! Tags and branches from the command line (issue 22, item 12): `tag add | ls
//! | rm` and `branch create | ls | rm`, and who may write refs (model writers
//! only; the default branch is never deleted).

mod support;

use support::{Client, Server, make_model};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn tags_and_branches_are_listed_created_and_removed_by_writers_only() {
    let server = Server::start();
    let alice = Client::new(&server);
    let src = alice.path("src");
    make_model(&src, 5, 1000);
    let rev = alice.ok(&["push", src.to_str().unwrap(), "alice/r"]);

    // Tags: add, ls (a header row, then one line each), rm.
    assert_eq!(alice.ok(&["tag", "add", "alice/r", "main", "v1"]), rev);
    let ls = stdout(&alice.run(&["tag", "ls", "alice/r"]));
    let lines: Vec<&str> = ls.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{ls}");
    assert!(
        lines[1].starts_with("v1") && lines[1].contains(&rev),
        "{ls}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&alice.run(&["tag", "ls", "alice/r", "--json"]).stdout).unwrap();
    assert_eq!(json[0]["name"], "v1");

    // Branches: create (from main by default, or --from), ls, rm.
    assert_eq!(alice.ok(&["branch", "create", "alice/r", "dev"]), rev);
    assert_eq!(
        alice.ok(&["branch", "create", "alice/r", "fix/1", "--from", "v1"]),
        rev
    );
    let ls = stdout(&alice.run(&["branch", "ls", "alice/r"]));
    for name in ["main", "dev", "fix/1"] {
        assert!(ls.lines().any(|l| l.starts_with(name)), "{name}: {ls}");
    }
    // A push to the new branch moves only it.
    std::fs::write(src.join("extra.txt"), "x").unwrap();
    let on_dev = alice.ok(&["push", src.to_str().unwrap(), "alice/r", "-b", "dev"]);
    assert_ne!(on_dev, rev);
    assert_eq!(alice.ok(&["pull", "alice/r:main", "-o", "m"]), rev);

    // Refusals: a branch that exists (5), the default branch (2), another's model (4),
    // a ref that is not there (3).
    alice.fails(&["branch", "create", "alice/r", "dev"], 5);
    let err = alice.fails(&["branch", "rm", "alice/r", "main"], 2);
    assert!(err.contains("default branch"), "{err}");
    let mut bob = Client::new(&server);
    bob.token = Some(server.bob_token.clone());
    bob.fails(&["branch", "create", "alice/r", "bobs"], 4);
    bob.fails(&["branch", "rm", "alice/r", "dev"], 4);
    bob.fails(&["tag", "rm", "alice/r", "v1"], 4);
    bob.fails(&["tag", "add", "alice/r", "main", "bobs"], 4);
    alice.fails(&["branch", "rm", "alice/r", "nope"], 3);
    alice.fails(&["tag", "rm", "alice/r", "nope"], 3);
    alice.fails(&["branch", "create", "alice/r", "x", "--from", "nope"], 3);

    alice.ok(&["branch", "rm", "alice/r", "dev"]);
    alice.ok(&["tag", "rm", "alice/r", "v1"]);
    let ls = stdout(&alice.run(&["branch", "ls", "alice/r"]));
    assert!(!ls.lines().any(|l| l.starts_with("dev ")), "{ls}");
    let tags = alice.run(&["tag", "ls", "alice/r"]);
    assert!(stdout(&tags).is_empty());
    // The revision of the removed branch is still there.
    alice.ok(&["pull", &format!("alice/r@{on_dev}"), "-o", "d"]);
}
