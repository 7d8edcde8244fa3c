//! What a push changes (issue 22, item 8): the parent's files that DIR lacks
//! are kept unless `--delete GLOB` or `--sync` says otherwise, the push says
//! what it kept, replaced and removed, and an unchanged push commits nothing.

mod support;

use support::{Client, Server, make_model, read_tree};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn last_line(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines().last().unwrap_or("").trim().to_string()
}

#[test]
fn a_partial_push_keeps_the_parents_files_and_an_unchanged_one_commits_nothing() {
    let server = Server::start();
    let alice = Client::new(&server);
    let src = alice.path("src");
    make_model(&src, 8, 1000);
    let first = alice.ok(&["push", src.to_str().unwrap(), "alice/m"]);

    // A folder holding only an edited README: the weights stay.
    let readme = alice.path("readme-only");
    std::fs::create_dir_all(&readme).unwrap();
    let card = "---\nlicense: apache-2.0\n---\n# Better words\n";
    std::fs::write(readme.join("README.md"), card).unwrap();
    let out = alice.run(&["push", readme.to_str().unwrap(), "alice/m"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("replaced 1: README.md"), "{err}");
    assert!(err.contains("kept 4 from the parent"), "{err}");
    assert!(err.contains("model-00001-of-00003.safetensors"), "{err}");
    let second = last_line(&out);
    assert_ne!(second, first);
    alice.ok(&["pull", "alice/m", "-o", "after-readme"]);
    let mut expected = read_tree(&src);
    expected.insert("README.md".into(), card.as_bytes().to_vec());
    assert_eq!(read_tree(&alice.path("after-readme")), expected);

    // The same again: nothing to commit, exit 0, the current revision printed.
    let out = alice.run(&["push", readme.to_str().unwrap(), "alice/m"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing to commit"),
        "{}",
        stderr(&out)
    );
    assert_eq!(last_line(&out), second);
    let log = String::from_utf8(alice.run(&["log", "alice/m"]).stdout).unwrap();
    assert_eq!(log.lines().count(), 2, "no new revision: {log}");
    // With --json, the current revision's RevisionInfo.
    let out = alice.run(&["push", readme.to_str().unwrap(), "alice/m", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], second.as_str());

    // --delete GLOB removes the parent's files that match and DIR lacks.
    let out = alice.run(&[
        "push",
        readme.to_str().unwrap(),
        "alice/m",
        "--delete",
        "*.json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("removed 1: config.json"),
        "{}",
        stderr(&out)
    );
    alice.ok(&["pull", "alice/m", "-o", "after-delete"]);
    let got: Vec<String> = read_tree(&alice.path("after-delete")).into_keys().collect();
    assert_eq!(got.len(), 4);
    assert!(!got.contains(&"config.json".to_string()));

    // --sync makes the revision exactly DIR.
    let out = alice.run(&["push", readme.to_str().unwrap(), "alice/m", "--sync"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("removed 3"), "{}", stderr(&out));
    alice.ok(&["pull", "alice/m", "-o", "after-sync"]);
    let got: Vec<String> = read_tree(&alice.path("after-sync")).into_keys().collect();
    assert_eq!(got, ["README.md"]);

    // --sync and --delete together are a usage error.
    alice.fails(
        &[
            "push",
            readme.to_str().unwrap(),
            "alice/m",
            "--sync",
            "--delete",
            "*",
        ],
        2,
    );
}
