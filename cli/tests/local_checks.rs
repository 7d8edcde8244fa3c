//! Checks before uploading (issue 22, item 9): a push the server would refuse
//! for its content or its license fails on the client, before a byte is sent.

mod support;

use std::time::{Duration, Instant};

use support::{Client, Rng, Server, make_model};

/// A model with 20 MB of other weights beside the file under test.
fn model_with(c: &Client, dir: &str, name: &str, body: &[u8]) -> String {
    let src = c.path(dir);
    make_model(&src, 4, 1000);
    std::fs::write(src.join("big.bin"), Rng::new(9).bytes(20 << 20)).unwrap();
    std::fs::write(src.join(name), body).unwrap();
    src.to_str().unwrap().to_string()
}

/// Runs a push that must be refused with exit 2 before any byte is uploaded.
fn refused_before_upload(server: &Server, c: &Client, args: &[&str], says: &str) {
    let before = server.stats().received;
    let started = Instant::now();
    let err = c.fails(args, 2);
    assert!(err.contains(says), "{args:?}: {err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        server.stats().received,
        before,
        "{args:?}: no byte is uploaded for a push the checks refuse"
    );
}

#[test]
fn content_checks_run_before_the_first_byte_is_sent() {
    let server = Server::start();
    let alice = Client::new(&server);

    let pickle = b"cposix\nsystem\np0\n(Vecho pwned\np1\ntp2\nRp3\n.";
    let dir = model_with(&alice, "pickle", "pytorch_model.bin", pickle);
    refused_before_upload(
        &server,
        &alice,
        &["push", &dir, "alice/p"],
        "`pytorch_model.bin` is a pickle",
    );

    // A safetensors header that declares more bytes than the file has.
    let mut lying = support::shard(&mut Rng::new(3), 100);
    lying.truncate(lying.len() - 8);
    let dir = model_with(&alice, "lying", "extra.safetensors", &lying);
    refused_before_upload(
        &server,
        &alice,
        &["push", &dir, "alice/s"],
        "`extra.safetensors` is not a valid safetensors file",
    );

    // A GGUF header that declares more tensors than the file can hold.
    let mut gguf = b"GGUF".to_vec();
    gguf.extend(3u32.to_le_bytes());
    gguf.extend((1u64 << 40).to_le_bytes());
    gguf.extend(0u64.to_le_bytes());
    let dir = model_with(&alice, "gguf", "model.gguf", &gguf);
    refused_before_upload(
        &server,
        &alice,
        &["push", &dir, "alice/g"],
        "`model.gguf` is not a valid GGUF file",
    );
    // One whose header fits goes through the CLI's checks and the server's.
    gguf[8..16].copy_from_slice(&0u64.to_le_bytes());
    std::fs::write(std::path::Path::new(&dir).join("model.gguf"), &gguf).unwrap();
    alice.ok(&["push", &dir, "alice/g"]);

    // Nothing was created on the server.
    alice.fails(&["info", "alice/p"], 3);
    alice.fails(&["info", "alice/s"], 3);
}

#[test]
fn license_checks_run_before_the_first_byte_is_sent() {
    let server = Server::start();
    let alice = Client::new(&server);
    let dir = model_with(&alice, "m", "notes.txt", b"plain text");
    let src = std::path::PathBuf::from(&dir);

    refused_before_upload(
        &server,
        &alice,
        &["push", &dir, "alice/m", "--license", "not-a-license-9"],
        "unknown license `not-a-license-9`",
    );
    refused_before_upload(
        &server,
        &alice,
        &[
            "push",
            &dir,
            "alice/m",
            "--license",
            "other",
            "--license-name",
            "Mine",
        ],
        "needs its text in a LICENSE file",
    );
    std::fs::write(src.join("README.md"), "# no front matter\n").unwrap();
    refused_before_upload(&server, &alice, &["push", &dir, "alice/m"], "no license");
    std::fs::write(src.join("README.md"), "---\nlicense: [mit\n---\n").unwrap();
    refused_before_upload(
        &server,
        &alice,
        &["push", &dir, "alice/m"],
        "not valid YAML",
    );

    // With the license fixed, the same files go through.
    std::fs::write(src.join("README.md"), "---\nlicense: mit\n---\n").unwrap();
    alice.ok(&["push", &dir, "alice/m"]);
    // A later push of a folder without README.md keeps the parent's card: allowed.
    let lone = alice.path("lone");
    std::fs::create_dir_all(&lone).unwrap();
    std::fs::write(lone.join("extra.txt"), "more").unwrap();
    alice.ok(&["push", lone.to_str().unwrap(), "alice/m"]);
}
