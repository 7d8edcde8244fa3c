//! Command-line conventions (issue 22, item 12): a quiet exit when stdout's
//! reader goes away, the endpoint checked up front, errors naming where the
//! token came from, and the global flags listed apart from a command's own.

mod support;

use std::process::Stdio;

use support::{Client, Server, make_model};

#[test]
fn a_closed_stdout_ends_quietly_and_bad_endpoints_and_tokens_are_named() {
    let server = Server::start();
    let alice = Client::new(&server);
    let src = alice.path("src");
    make_model(&src, 6, 1000);
    alice.ok(&["push", src.to_str().unwrap(), "alice/c"]);

    // `granary log --json | head`: the reader is gone before the first write.
    for args in [
        &["log", "alice/c", "--json"][..],
        &["ls"][..],
        &["info", "alice/c"][..],
    ] {
        let mut child = alice
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }

    // The endpoint is checked before anything is sent, and the message names the flag.
    for bad in ["ftp://example.com", "not a url", "http://"] {
        let err = alice.fails(&["ls", "--endpoint", bad], 2);
        assert!(
            err.contains("--endpoint / GRANARY_ENDPOINT"),
            "{bad}: {err}"
        );
    }

    // A refused token: the error says where it came from.
    let mut wrong = Client::new(&server);
    wrong.token = Some("gr_wrong".into());
    let err = wrong.fails(&["whoami"], 4);
    assert!(err.contains("token from GRANARY_TOKEN"), "{err}");
    let mut flagged = Client::new(&server);
    flagged.token = None;
    let err = flagged.fails(&["whoami", "--token", "gr_wrong"], 4);
    assert!(err.contains("token from --token"), "{err}");

    // Global flags are listed under their own heading.
    let help = String::from_utf8(alice.run(&["push", "--help"]).stdout).unwrap();
    let (own, global) = help
        .split_once("Global options:")
        .expect("a global heading");
    assert!(
        own.contains("--sync") && !own.contains("--endpoint"),
        "{help}"
    );
    assert!(
        global.contains("--endpoint") && global.contains("--quiet"),
        "{help}"
    );
}

#[test]
fn ls_has_a_header_a_limit_and_a_sort() {
    let server = Server::start();
    let alice = Client::new(&server);
    for (name, params) in [
        ("alice/small", 1000),
        ("alice/big", 20_000),
        ("alice/mid", 5000),
    ] {
        let src = alice.path(name);
        make_model(&src, params as u64, params);
        alice.ok(&["push", src.to_str().unwrap(), name]);
    }
    let lines = |args: &[&str]| -> Vec<String> {
        let out = alice.run(args);
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    };
    let all = lines(&["ls"]);
    assert!(
        all[0].starts_with("MODEL") && all[0].contains("LICENSE"),
        "{all:?}"
    );
    let names: Vec<&str> = all[1..]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(names, ["alice/big", "alice/mid", "alice/small"]);
    let top = lines(&["ls", "--sort", "size", "--limit", "2"]);
    assert_eq!(top.len(), 3, "{top:?}");
    assert!(
        top[1].starts_with("alice/big") && top[2].starts_with("alice/mid"),
        "{top:?}"
    );
    alice.fails(&["ls", "--sort", "colour"], 2);
}

#[test]
fn completions_are_printed_for_each_shell() {
    let server = Server::start();
    let mut c = Client::new(&server);
    // No registry is needed, even a bad endpoint is not consulted.
    c.env.push(("GRANARY_ENDPOINT".into(), "not a url".into()));
    for (shell, mark) in [
        ("bash", "complete -F _granary"),
        ("zsh", "#compdef granary"),
        ("fish", "complete -c granary"),
    ] {
        let out = c.run(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(
            script.contains(mark),
            "{shell}: {}",
            &script[..200.min(script.len())]
        );
        assert!(
            script.contains("push") && script.contains("branch"),
            "{shell}"
        );
    }
    c.fails(&["completions", "tcsh"], 2);
}

#[test]
fn info_shows_runs_as_lines_and_the_raw_report_only_as_json() {
    let server = Server::start();
    let alice = Client::new(&server);
    let src = alice.path("src");
    make_model(&src, 7, 1000);
    alice.ok(&["push", src.to_str().unwrap(), "alice/i"]);
    let human = String::from_utf8(alice.run(&["info", "alice/i"]).stdout).unwrap();
    assert!(
        human.contains("verification (the full reports: --json)"),
        "{human}"
    );
    assert!(
        !human.contains('{') && !human.contains("\"status\""),
        "{human}"
    );
    let out = alice.run(&["info", "alice/i", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["revision"]["verification"].is_array(), "{v}");
}

/// Pulled files are not hard links a root user could edit into every copy
/// (issue 22, item 11): root gets copies unless `--link` asks for links.
#[cfg(unix)]
#[test]
fn pulled_files_are_copies_for_root_and_links_on_request() {
    use std::os::unix::fs::MetadataExt;
    let server = Server::start();
    let alice = Client::new(&server);
    let src = alice.path("src");
    make_model(&src, 9, 1000);
    alice.ok(&["push", src.to_str().unwrap(), "alice/l"]);
    alice.ok(&["pull", "alice/l", "-o", "plain"]);
    alice.ok(&["pull", "alice/l", "-o", "linked", "--link"]);
    let file = |dir: &str| alice.path(dir).join("config.json");
    let linked = std::fs::metadata(file("linked")).unwrap();
    assert!(linked.nlink() >= 2, "--link links to the cache");
    let plain = std::fs::metadata(file("plain")).unwrap();
    if support::running_as_root() {
        assert_ne!(plain.ino(), linked.ino(), "root's default pull copies");
        // Root edits its copy; the cache and the other pull are untouched.
        std::fs::write(file("plain"), "edited").unwrap();
        assert_eq!(
            std::fs::read(file("linked")).unwrap(),
            std::fs::read(src.join("config.json")).unwrap()
        );
        alice.ok(&["cache", "verify"]);
    } else {
        assert_eq!(plain.ino(), linked.ino(), "other users link by default");
    }
}

#[test]
fn every_help_has_examples() {
    let server = Server::start();
    let c = Client::new(&server);
    for path in [
        &[][..],
        &["push"][..],
        &["pull"][..],
        &["tag", "rm"][..],
        &["branch", "create"][..],
        &["cache", "rm"][..],
        &["webhook", "deliveries"][..],
        &["completions"][..],
    ] {
        let mut args = path.to_vec();
        args.push("--help");
        let out = c.run(&args);
        assert!(out.status.success(), "{args:?}");
        let help = String::from_utf8(out.stdout).unwrap();
        let examples = help.split_once("Examples:\n").map(|(_, e)| e);
        let first = examples.and_then(|e| e.lines().next()).unwrap_or("");
        assert!(first.starts_with("  granary"), "{args:?}: {help}");
    }
}
