//! `granary-server user list | passwd` (issue 22, item 13), run as the real
//! binary on a data directory: the users listed, a password set from stdin, and
//! the refusals (an unknown user, a weak password), each saying which database
//! it opened.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn server(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_granary-server"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("GRANARY_DATABASE_URL")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("granary-server runs");
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

#[test]
fn users_are_listed_and_passwords_set_from_stdin() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    for args in [
        &["user", "create", "alice", "--admin"][..],
        &["user", "create", "bob"][..],
    ] {
        let out = server(dir, args, "");
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    let out = server(dir, &["user", "list"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "alice (admin)\nbob\n");
    let db = dir.join("granary.db");
    assert!(
        text(&out.stderr).contains(&format!("database: sqlite://{}", db.display())),
        "{}",
        text(&out.stderr)
    );
    let out = server(dir, &["user", "list", "--json"], "");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["name"], "alice");
    assert_eq!(v[0]["admin"], true);
    assert_eq!(v[1]["admin"], false);

    let out = server(
        dir,
        &["user", "passwd", "bob"],
        "a long enough passphrase\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("password set for `bob`"));

    // Refusals: a user that does not exist, a password too weak.
    let out = server(
        dir,
        &["user", "passwd", "nobody"],
        "a long enough passphrase\n",
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no user `nobody`"),
        "{}",
        text(&out.stderr)
    );
    let out = server(dir, &["user", "passwd", "bob"], "short\n");
    assert!(!out.status.success());
    assert!(!text(&out.stdout).contains("password set"));
}

#[test]
fn admin_commands_list_only_their_own_flags() {
    let data = tempfile::tempdir().unwrap();
    for args in [
        &["user", "create", "--help"][..],
        &["user", "list", "--help"][..],
        &["user", "passwd", "--help"][..],
        &["gc", "--help"][..],
        &["fsck", "--help"][..],
    ] {
        let out = server(data.path(), args, "");
        let help = text(&out.stdout);
        assert!(
            help.contains("--data-dir") && help.contains("--database-url"),
            "{args:?}: {help}"
        );
        for serve_only in [
            "--max-connections",
            "--signup",
            "--xet-token-secs",
            "--verifier",
        ] {
            assert!(
                !help.contains(serve_only),
                "{args:?} lists {serve_only}: {help}"
            );
        }
    }
    let help = text(&server(data.path(), &["serve", "--help"], "").stdout);
    assert!(
        help.contains("--max-connections") && help.contains("--signup"),
        "{help}"
    );
    // Hidden settings are still accepted.
    let out = server(data.path(), &["user", "list", "--max-connections", "5"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
}
