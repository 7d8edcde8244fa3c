//! Interrupted transfers resume; damaged bytes are never used.

mod support;

use std::process::Stdio;

use support::{Client, PART_SIZE, Rng, Server, read_tree, wait_until};

const BIG: usize = 8 << 20;

fn big_model(c: &Client, seed: u64) -> std::path::PathBuf {
    let dir = c.path("src");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("big.dat"), Rng::new(seed).bytes(BIG)).unwrap();
    std::fs::write(
        dir.join("README.md"),
        "---\nlicense: apache-2.0\n---\nbig\n",
    )
    .unwrap();
    dir
}

#[test]
fn a_killed_push_resumes_and_sends_only_the_rest() {
    let server = Server::start();
    let mut c = Client::new(&server);
    let src = big_model(&c, 7);
    c.env
        .push(("GRANARY_TEST_UPLOAD_DELAY_MS".into(), "500".into()));
    let before = server.stats().received;
    let mut child = c
        .command(&["push", src.to_str().unwrap(), "alice/big", "-j", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The server counts bytes as they stream in but records a part only once
    // all of it arrived: wait for the first two parts (a blob's parts go one
    // after another), then kill during the throttle that follows the second.
    assert!(
        wait_until(30, || server.stats().received - before >= 2 * PART_SIZE),
        "the push never started sending"
    );
    std::thread::sleep(std::time::Duration::from_millis(150));
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = server.stats().received;
    assert!(
        at_kill - before < BIG as u64,
        "the push was killed too late to test resuming"
    );

    c.env.clear();
    let rev = c.ok(&["push", src.to_str().unwrap(), "alice/big"]);
    let resent = server.stats().received - at_kill;
    assert!(
        resent > 0 && resent < BIG as u64,
        "the rerun sent {resent} bytes of a {BIG}-byte file"
    );

    let other = Client::new(&server);
    assert_eq!(other.ok(&["pull", "alice/big", "-o", "out"]), rev);
    assert_eq!(read_tree(&other.path("out")), read_tree(&src));
}

#[test]
fn a_killed_pull_resumes_and_fetches_only_the_rest() {
    let server = Server::start();
    let mut c = Client::new(&server);
    let src = big_model(&c, 8);
    let rev = c.ok(&["push", src.to_str().unwrap(), "alice/big"]);
    c.env
        .push(("GRANARY_CHUNK_SIZE".into(), (1 << 20).to_string()));
    c.env
        .push(("GRANARY_TEST_DOWNLOAD_DELAY_MS".into(), "300".into()));
    let before = server.stats().sent;
    let mut child = c
        .command(&["pull", "alice/big", "-o", "out", "-j", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_until(30, || server.stats().sent - before >= 2 << 20),
        "the pull never started"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = server.stats().sent;
    assert!(
        at_kill - before < BIG as u64,
        "the pull was killed too late to test resuming"
    );
    assert!(
        !c.path("out/big.dat").exists(),
        "an unverified file was placed"
    );
    let partial: Vec<_> = std::fs::read_dir(c.cache().join("partial"))
        .unwrap()
        .collect();
    assert!(!partial.is_empty(), "the partial download was kept");

    c.env.truncate(1); // same chunk size, no throttle
    assert_eq!(c.ok(&["pull", "alice/big", "-o", "out"]), rev);
    let fetched = server.stats().sent - at_kill;
    assert!(
        fetched < BIG as u64,
        "the resumed pull fetched {fetched} bytes of a {BIG}-byte file"
    );
    assert_eq!(read_tree(&c.path("out")), read_tree(&src));
    assert!(
        std::fs::read_dir(c.cache().join("partial"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn a_damaged_cache_entry_is_detected_and_fetched_again() {
    let server = Server::start();
    let c = Client::new(&server);
    let src = big_model(&c, 9);
    c.ok(&["push", src.to_str().unwrap(), "alice/big"]);
    c.ok(&["pull", "alice/big", "-o", "first"]);
    let sha = granary_core::Sha256::of(&std::fs::read(src.join("big.dat")).unwrap()).hex();
    let blob = c.cache().join("blobs/sha256").join(&sha[..2]).join(&sha);
    assert!(blob.is_file());

    // Flip one byte in place: same size, different bytes.
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[1000] ^= 0xff;
    let mut perms = std::fs::metadata(&blob).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&blob, perms).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&blob, &bytes).unwrap();

    let before = server.stats().sent;
    c.ok(&["pull", "alice/big", "-o", "second"]);
    assert_eq!(
        server.stats().sent - before,
        BIG as u64,
        "the damaged blob is fetched again"
    );
    assert_eq!(
        std::fs::read(c.path("second/big.dat")).unwrap(),
        std::fs::read(src.join("big.dat")).unwrap()
    );

    // `cache verify` finds a damaged blob (truncated this time) and exits 7.
    let blob = c.cache().join("blobs/sha256").join(&sha[..2]).join(&sha);
    let mut perms = std::fs::metadata(&blob).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&blob, perms).unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[5] ^= 1;
    std::fs::write(&blob, &bytes).unwrap();
    let err = c.fails(&["cache", "verify"], 7);
    assert!(err.contains(&sha), "{err}");
    assert!(!blob.exists());
    c.ok(&["cache", "verify"]);
    c.ok(&["cache", "prune", "--all"]);
    assert!(!c.cache().exists());
}
