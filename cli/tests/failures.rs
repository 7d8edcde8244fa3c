//! Failures end with a sentence and a distinct exit code, never a panic.

mod support;

use support::{Client, Server, make_model};

#[test]
fn a_wrong_token_is_refused_with_exit_4() {
    let server = Server::start();
    let mut c = Client::new(&server);
    c.token = Some("gr_not-a-real-token".into());
    let err = c.fails(&["whoami"], 4);
    assert!(err.contains("token"), "{err}");
    let src = c.path("src");
    make_model(&src, 1, 1000);
    c.fails(&["push", src.to_str().unwrap(), "alice/x"], 4);
    c.token = None;
    let err = c.fails(&["push", src.to_str().unwrap(), "alice/x"], 4);
    assert!(err.contains("granary login"), "{err}");
    // Bob may not push to alice's namespace.
    c.token = Some(server.bob_token.clone());
    c.fails(&["push", src.to_str().unwrap(), "alice/x"], 4);
}

#[test]
fn unknown_models_and_revisions_are_exit_3() {
    let server = Server::start();
    let c = Client::new(&server);
    let err = c.fails(&["pull", "alice/missing"], 3);
    assert!(err.contains("alice/missing"), "{err}");
    c.fails(&["info", "alice/missing"], 3);
    let src = c.path("src");
    make_model(&src, 1, 1000);
    c.ok(&["push", src.to_str().unwrap(), "alice/x"]);
    c.fails(&["pull", "alice/x:no-such-branch"], 3);
    c.fails(&["pull", "alice/x@0123456789abcdef"], 3);
    assert!(!c.path("x").exists() || std::fs::read_dir(c.path("x")).unwrap().next().is_none());
}

#[test]
fn a_stale_parent_is_a_conflict_with_exit_5() {
    let server = Server::start();
    let c = Client::new(&server);
    let (one, two) = (c.path("one"), c.path("two"));
    make_model(&one, 1, 1000);
    make_model(&two, 2, 1000);
    let first = c.ok(&["push", one.to_str().unwrap(), "alice/x"]);
    let second = c.ok(&["push", two.to_str().unwrap(), "alice/x"]);
    assert_ne!(first, second);
    // Pushing again on top of `first`, as a machine that pulled before `second` would.
    let err = c.fails(
        &["push", one.to_str().unwrap(), "alice/x", "--parent", &first],
        5,
    );
    assert!(
        err.contains("the branch moved since you pulled: pull and push again"),
        "{err}"
    );
    // The branch did not move.
    let log = String::from_utf8(c.run(&["log", "alice/x"]).stdout).unwrap();
    assert!(log.starts_with(&second[..12]), "{log}");
    // A tag that names another revision is a conflict unless forced.
    c.ok(&["tag", "add", "alice/x", &first, "v1"]);
    let err = c.fails(&["tag", "add", "alice/x", &second, "v1"], 5);
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        c.ok(&["tag", "add", "alice/x", &second, "v1", "--force"]),
        second
    );
}

#[test]
fn bad_input_is_exit_2_and_an_unreachable_server_exit_6() {
    let server = Server::start();
    let c = Client::new(&server);
    c.fails(&["pull", "not-a-model-name"], 2);
    c.fails(&["pull", "alice/x@main"], 2);
    c.fails(&["frobnicate"], 2);
    c.fails(&["push", c.path("nope").to_str().unwrap(), "alice/x"], 2);
    let err = c.fails(&["--endpoint", "http://127.0.0.1:9", "ls"], 6);
    assert!(err.contains("cannot reach"), "{err}");
    let help = String::from_utf8(c.run(&["--help"]).stdout).unwrap();
    assert!(
        help.contains("Exit codes") && help.contains("7  integrity"),
        "{help}"
    );
}

#[test]
fn login_stores_a_private_token_and_logout_forgets_it() {
    let server = Server::start();
    let mut c = Client::new(&server);
    c.token = None;
    c.fails(&["whoami"], 4);
    // A wrong token is not stored.
    let mut login = c.command(&["login"]);
    login
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"gr_wrong\n")
        .unwrap();
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(4));
    assert!(!c.config().join("credentials.json").exists());

    let mut login = c.command(&["login"]);
    login
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = login.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\n", server.token).as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let path = c.config().join("credentials.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(c.ok(&["whoami"]), "alice");
    // The stored endpoint is used when none is given.
    let mut no_endpoint = c.command(&["whoami"]);
    no_endpoint.env_remove("GRANARY_ENDPOINT");
    assert_eq!(
        String::from_utf8(no_endpoint.output().unwrap().stdout)
            .unwrap()
            .trim(),
        "alice"
    );
    // --token wins over the stored one.
    c.fails(&["--token", "gr_wrong", "whoami"], 4);
    c.ok(&["logout"]);
    c.fails(&["whoami"], 4);
}

/// A registry that answers every revision request with a revision holding `path`,
/// and every other request with the file's bytes; counts the file requests.
fn hostile_registry(
    path: &'static str,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let files = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = files.clone();
    std::thread::spawn(move || {
        let bytes = b"[core]\n\tfsmonitor = touch pwned\n";
        let sha = granary_core::Sha256::of(bytes);
        let revision = serde_json::json!({
            "id": "a".repeat(64), "model": "evil/m", "parent": null, "author": "evil", "message": "m",
            "created_at": 0, "license": {"id": "MIT"}, "permissive": true, "total_size": bytes.len(),
            "parameters": {}, "parameter_total": 0,
            "files": [{"path": "README.md", "size": bytes.len(), "sha256": sha}, {"path": path, "size": bytes.len(), "sha256": sha}],
        })
        .to_string();
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap_or_default();
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let body: Vec<u8> = if line.contains("/revisions/") {
                revision.clone().into_bytes()
            } else {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                bytes.to_vec()
            };
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = out.write_all(&body);
        }
    });
    (url, files)
}

#[test]
fn a_pull_never_writes_into_git_or_outside_the_directory() {
    let server = Server::start();
    for path in [
        ".git/config",
        "sub/.GIT/hooks/pre-commit",
        ".git./config",
        "../escape.txt",
        "CON",
        "a:b",
    ] {
        let (url, file_requests) = hostile_registry(path);
        let mut c = Client::new(&server);
        c.env.push(("GRANARY_ENDPOINT".into(), url));
        let err = c.fails(&["pull", "evil/m", "-o", "out"], 2);
        assert!(
            err.contains("refusing to write") && err.contains("nothing was written"),
            "{path}: {err}"
        );
        assert!(
            !c.path("out").exists(),
            "{path}: the output directory was not even created"
        );
        assert!(!c.path("escape.txt").exists());
        assert_eq!(
            file_requests.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "{path}: nothing was downloaded"
        );
    }
}
