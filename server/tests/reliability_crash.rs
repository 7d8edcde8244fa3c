//! Crash safety: a real `granary-server serve` process is killed with SIGKILL
//! during an upload, during commits and during a verification, then started
//! again on the same data directory. After each restart: no half-made
//! revision (every revision's manifest hashes to its id, its file rows match
//! the manifest and all its blobs exist), refs and model heads consistent,
//! every stored blob's bytes still match its digest, `granary-server fsck
//! --deep` clean; the real CLI's push resumes and its pull is byte-identical;
//! the verification job is taken again after its lease and finishes; a webhook
//! delivery in flight at the kill is sent after the restart.
//!
//! Needs the binaries: `cargo build --workspace --bins` (scripts/test does).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use granary_core::Sha256;
use granary_core::manifest::Manifest;
use serde_json::{Value, json};

const PART: u64 = 1 << 20;

fn built(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    for dir in exe.ancestors().skip(1) {
        let c = dir.join(name);
        if c.is_file() {
            return c;
        }
    }
    panic!(
        "{name} not found next to {}: cargo build --workspace --bins",
        exe.display()
    );
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(data: &Path, verifier: &Path) -> Self {
        Self::start_with_env(data, verifier, &[])
    }

    fn start_with_env(data: &Path, verifier: &Path, env: &[(&str, &str)]) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join("server.log"))
            .unwrap();
        let mut child = Command::new(built("granary-server"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .env("GRANARY_UPLOAD_PART_SIZE", PART.to_string())
            .env("GRANARY_VERIFIER", verifier)
            .env("GRANARY_JOB_LEASE_SECS", "2")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(|l| l.ok()).unwrap_or_default();
        let url = first
            .strip_prefix("granary listening on ")
            .unwrap_or_else(|| panic!("{first:?}"))
            .trim()
            .to_string();
        std::thread::spawn(move || for _ in lines {});
        Self { child, url }
    }

    /// SIGKILL: no destructor, no graceful shutdown, no flush.
    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn create_user(data: &Path, name: &str) -> String {
    create_user_with(data, name, &[])
}

fn create_user_with(data: &Path, name: &str, flags: &[&str]) -> String {
    let out = Command::new(built("granary-server"))
        .args(["user", "create", name])
        .args(flags)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string()
}

fn script(path: &Path, body: &str) -> PathBuf {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

/// The real CLI, with its own config and cache.
fn cli(home: &Path, url: &str, token: &str) -> Command {
    let mut c = Command::new(built("granary"));
    c.arg("--endpoint").arg(url).arg("--token").arg(token);
    c.env("GRANARY_CONFIG_DIR", home.join("config"))
        .env("GRANARY_CACHE", home.join("cache"));
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

async fn open_db(data: &Path) -> granary_server::db::Db {
    granary_server::db::Db::connect(&format!(
        "sqlite://{}?mode=rw",
        data.join("granary.db").display()
    ))
    .await
    .unwrap()
}

/// The object files of a blob, read in order from the local store.
fn blob_bytes(objects: &Path, sha: &str, size: u64, part_size: u64, parts: u64) -> Option<Vec<u8>> {
    let dir = objects.join("blobs/sha256").join(&sha[..2]);
    if parts == 1 {
        return std::fs::read(dir.join(sha)).ok();
    }
    let mut out = Vec::with_capacity(size as usize);
    for n in 0..parts {
        out.extend(std::fs::read(dir.join(format!("{sha}.parts/{part_size}/{n}"))).ok()?);
    }
    Some(out)
}

/// Every invariant a crash must not break; returns the number of revisions checked.
async fn check_invariants(data: &Path) -> usize {
    let db = open_db(data).await;
    let objects = data.join("objects");
    // Every blob row's bytes exist and hash to its digest.
    let blobs: Vec<(String, i64, i64, i64)> =
        sqlx::query_as("SELECT sha256, size, part_size, part_count FROM blobs")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    for (sha, size, part_size, parts) in &blobs {
        let bytes = blob_bytes(
            &objects,
            sha,
            *size as u64,
            *part_size as u64,
            *parts as u64,
        )
        .unwrap_or_else(|| panic!("blob {sha} has a row but its objects are missing"));
        assert_eq!(bytes.len() as i64, *size, "blob {sha} has the wrong size");
        assert_eq!(Sha256::of(&bytes).hex(), *sha, "blob {sha} is corrupt");
    }
    let stored: std::collections::HashMap<&str, i64> =
        blobs.iter().map(|(s, z, _, _)| (s.as_str(), *z)).collect();
    // Every revision is whole.
    let revisions: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT model_id, id, manifest, file_count FROM revisions")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    for (model, id, manifest, file_count) in &revisions {
        assert_eq!(
            Sha256::of(manifest.as_bytes()).hex(),
            *id,
            "revision {id}: manifest does not hash to its id"
        );
        let m: Manifest = serde_json::from_str(manifest).unwrap();
        assert_eq!(m.files.len() as i64, *file_count);
        let rows: Vec<(String, i64, String)> =
            sqlx::query_as("SELECT path, size, sha256 FROM revision_files WHERE model_id = $1 AND revision_id = $2 ORDER BY path")
                .bind(model)
                .bind(id)
                .fetch_all(&db.pool)
                .await
                .unwrap();
        assert_eq!(
            rows.len(),
            m.files.len(),
            "revision {id}: file rows differ from the manifest"
        );
        for f in &m.files {
            assert_eq!(
                stored.get(f.sha256.hex().as_str()),
                Some(&(f.size as i64)),
                "revision {id}: blob of {} missing",
                f.path
            );
        }
        if let Some(parent) = &m.parent {
            let found: Option<(String,)> =
                sqlx::query_as("SELECT id FROM revisions WHERE model_id = $1 AND id = $2")
                    .bind(model)
                    .bind(parent.hex())
                    .fetch_optional(&db.pool)
                    .await
                    .unwrap();
            assert!(found.is_some(), "revision {id}: parent missing");
        }
        let jobs: (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM verification_jobs WHERE model_id = $1 AND revision_id = $2",
        )
        .bind(model)
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert!(jobs.0 >= 1, "revision {id} has no verification job");
    }
    // Refs name revisions of their model; a model's head is its default branch.
    let refs: Vec<(String, String, String)> =
        sqlx::query_as("SELECT model_id, name, revision_id FROM refs")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    for (model, name, rev) in &refs {
        assert!(
            revisions
                .iter()
                .any(|(m, id, _, _)| m == model && id == rev),
            "ref {name} names a missing revision"
        );
    }
    let heads: Vec<(String, Option<String>, String)> =
        sqlx::query_as("SELECT id, head_revision, default_branch FROM models")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    for (model, head, branch) in &heads {
        let branch_at = refs
            .iter()
            .find(|(m, n, _)| m == model && n == branch)
            .map(|r| r.2.clone());
        assert_eq!(
            head, &branch_at,
            "model {model}: head and default branch disagree"
        );
    }
    db.pool.close().await;
    // fsck agrees.
    let out = Command::new(built("granary-server"))
        .args(["fsck", "--deep", "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fsck: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    revisions.len()
}

fn write_model(dir: &Path, seed: u64, mib: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let n = mib * 1024 * 1024 / 4;
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let data: Vec<u8> = (0..n)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (((x >> 40) as f32) / (1u64 << 24) as f32).to_le_bytes()
        })
        .collect();
    let st = granary_core::safetensors_header::build(&[("w", "F32", vec![n as u64], data)]);
    std::fs::write(dir.join("model.safetensors"), st).unwrap();
    std::fs::write(
        dir.join("README.md"),
        "---\nlicense: mit\n---\n# crash test\n",
    )
    .unwrap();
    std::fs::write(dir.join("config.json"), format!("{{\"seed\": {seed}}}")).unwrap();
}

/// The server's `blob_bytes_received` counter, read with an administrator's token (0 while it is down).
async fn blob_bytes_received(url: &str, admin: &str) -> u64 {
    match reqwest::Client::new()
        .get(format!("{url}/api/v1/stats"))
        .bearer_auth(admin)
        .send()
        .await
    {
        Ok(r) => r
            .json::<Value>()
            .await
            .map(|v| v["blob_bytes_received"].as_u64().unwrap_or(0))
            .unwrap_or(0),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_upload_commit_and_verification() {
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path();
    let work = tempfile::tempdir().unwrap();
    let token = create_user(data, "alice");
    let admin = create_user_with(data, "root", &["--admin"]);
    let slow = script(
        &data.join("slow-verifier.sh"),
        &format!("echo $$ > {}/verifier.pid\nexec sleep 300", data.display()),
    );
    let fast = script(
        &data.join("fast-verifier.sh"),
        r#"echo '{"status":"passed","device":"cpu: crash test","architecture":"generic"}'"#,
    );

    // 1. Killed during an upload: the CLI pushes 8 one-MiB parts, slowly.
    let model = work.path().join("model");
    write_model(&model, 1, 8);
    let server = Server::start(data, &slow);
    let mut push = cli(work.path(), &server.url, &token)
        .args(["push", "-j", "1"])
        .arg(&model)
        .arg("alice/big")
        .env("GRANARY_TEST_UPLOAD_DELAY_MS", "150")
        .spawn()
        .unwrap();
    let start = Instant::now();
    while blob_bytes_received(&server.url, &admin).await < 3 * PART {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the push never got going"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill9();
    let _ = push.kill();
    let _ = push.wait();
    assert_eq!(check_invariants(data).await, 0);

    // The push, run again, resumes: the parts received before the crash are not sent again.
    let server = Server::start(data, &slow);
    let out = cli(work.path(), &server.url, &token)
        .arg("push")
        .arg(&model)
        .arg("alice/big")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let size = std::fs::metadata(model.join("model.safetensors"))
        .unwrap()
        .len();
    let resent = blob_bytes_received(&server.url, &admin).await;
    assert!(
        resent < size,
        "the resumed push sent {resent} of {size} bytes again"
    );
    let first_rev = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();

    // 2. Killed during a verification: the slow verifier holds the job.
    let db = open_db(data).await;
    let start = Instant::now();
    loop {
        let running: Option<(String,)> =
            sqlx::query_as("SELECT id FROM verification_jobs WHERE state = 'running'")
                .fetch_optional(&db.pool)
                .await
                .unwrap();
        if running.is_some() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the worker never took the job"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill9();
    if let Ok(pid) = std::fs::read_to_string(data.join("verifier.pid")) {
        // The verifier child outlives a SIGKILLed server: end it (it is ours).
        let _ = Command::new("kill").arg("-9").arg(pid.trim()).status();
    }
    assert_eq!(check_invariants(data).await, 1);

    // 3. Killed during commits: a client commits as fast as it can; the server dies mid-way, three times.
    let mut heads = 0usize;
    for round in 0..3u64 {
        let server = Server::start(data, &fast);
        let url = server.url.clone();
        let token2 = token.clone();
        let committer = tokio::spawn(async move {
            let client = reqwest::Client::new();
            let readme = b"---\nlicense: mit\n---\n".to_vec();
            let mut landed = 0;
            for i in 0.. {
                let content = format!("round {round} commit {i}").into_bytes();
                let mut files = vec![];
                for bytes in [&readme, &content] {
                    let sha = Sha256::of(bytes);
                    let Ok(r) = client
                        .post(format!("{url}/api/v1/uploads"))
                        .bearer_auth(&token2)
                        .json(&json!({"sha256": sha, "size": bytes.len()}))
                        .send()
                        .await
                    else {
                        return landed;
                    };
                    let Ok(st) = r.json::<granary_core::api::UploadStatus>().await else {
                        return landed;
                    };
                    if !st.stored {
                        let id = st.id.unwrap();
                        if client
                            .put(format!("{url}/api/v1/uploads/{id}/parts/0"))
                            .bearer_auth(&token2)
                            .body(bytes.clone())
                            .send()
                            .await
                            .is_err()
                            || client
                                .post(format!("{url}/api/v1/uploads/{id}/complete"))
                                .bearer_auth(&token2)
                                .send()
                                .await
                                .is_err()
                        {
                            return landed;
                        }
                    }
                    files.push((bytes.clone(), sha));
                }
                let Ok(refs) = client
                    .get(format!("{url}/api/v1/models/alice/busy/refs"))
                    .send()
                    .await
                else {
                    return landed;
                };
                let parent = refs
                    .json::<Value>()
                    .await
                    .ok()
                    .and_then(|v| v["branches"][0]["revision"].as_str().map(str::to_string));
                let body = json!({"parent": parent, "message": format!("{round}/{i}"), "files": [
                    {"path": "README.md", "size": files[0].0.len(), "sha256": files[0].1},
                    {"path": format!("f{i}.txt"), "size": files[1].0.len(), "sha256": files[1].1},
                ]});
                match client
                    .post(format!("{url}/api/v1/models/alice/busy/commits"))
                    .bearer_auth(&token2)
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == reqwest::StatusCode::CREATED => landed += 1,
                    Ok(r) => assert!(!r.status().is_server_error(), "{}", r.text().await.unwrap()),
                    Err(_) => return landed,
                }
            }
            landed
        });
        tokio::time::sleep(Duration::from_millis(700 + 400 * round)).await;
        server.kill9();
        heads += committer.await.unwrap();
        check_invariants(data).await;
    }
    assert!(heads > 0, "no commit landed before the kills");

    // After it all: the verification job killed in step 2 is taken again after its lease and finishes,
    // pulls are byte-identical, and pushes still land.
    let server = Server::start(data, &fast);
    let db = open_db(data).await;
    let start = Instant::now();
    loop {
        let open: (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM verification_jobs WHERE revision_id = $1 AND state <> 'done'",
        )
        .bind(&first_rev)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if open.0 == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the killed verification was never finished"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, attempts): (String, i64) = sqlx::query_as(
        "SELECT r.status, j.attempts FROM verification_runs r JOIN verification_jobs j ON j.id = r.job_id WHERE r.revision_id = $1",
    )
    .bind(&first_rev)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(status, "passed");
    assert!(attempts >= 2, "the job was run {attempts} times");
    let out_dir = work.path().join("pulled");
    let out = cli(work.path(), &server.url, &token)
        .args(["pull", "alice/big", "-o"])
        .arg(&out_dir)
        .env("GRANARY_CACHE", work.path().join("fresh-cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["model.safetensors", "README.md", "config.json"] {
        assert_eq!(
            std::fs::read(out_dir.join(f)).unwrap(),
            std::fs::read(model.join(f)).unwrap(),
            "{f} differs"
        );
    }
    let model2 = work.path().join("model2");
    write_model(&model2, 2, 2);
    let out = cli(work.path(), &server.url, &token)
        .arg("push")
        .arg(&model2)
        .arg("alice/big")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(server);
    check_invariants(data).await;
}

/// The `X-Granary-Delivery` of every request a receiver got, and whether it answered.
type Deliveries = std::sync::Arc<std::sync::Mutex<Vec<(String, bool)>>>;

/// A webhook receiver on loopback whose first request never gets an answer; later ones
/// get `200`.
fn hanging_receiver() -> (String, Deliveries) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Deliveries = Default::default();
    let kept = got.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let kept = kept.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut length, mut delivery) = (0usize, String::new());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if let Some(v) = lower.strip_prefix("x-granary-delivery:") {
                        delivery = v.trim().to_string();
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let answer = n > 0;
                kept.lock().unwrap().push((delivery, answer));
                if answer {
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                } else {
                    // Hold the connection open, unanswered, until the sender is gone.
                    let _ = reader.read_to_end(&mut Vec::new());
                }
            });
        }
    });
    (url, got)
}

fn wait_until(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn kill_9_with_a_webhook_delivery_in_flight() {
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let token = create_user(data.path(), "alice");
    let verifier = script(&data.path().join("verifier.sh"), "exit 1");
    // A delivery's lease is three timeouts: 6 s after the kill it is sent again.
    let env = [
        ("GRANARY_WEBHOOKS_ALLOW_PRIVATE", "true"),
        ("GRANARY_WEBHOOK_TIMEOUT_SECS", "2"),
        ("GRANARY_WEBHOOK_RETRY_BASE_MS", "100"),
    ];
    let server = Server::start_with_env(data.path(), &verifier, &env);
    let (url, got) = hanging_receiver();
    let out = cli(home.path(), &server.url, &token)
        .args([
            "webhook",
            "add",
            "alice",
            &url,
            "--event",
            "revision.published",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hook: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = hook["id"].as_str().unwrap().to_string();
    let src = home.path().join("src");
    write_model(&src, 7, 1);
    let out = cli(home.path(), &server.url, &token)
        .arg("push")
        .arg(&src)
        .arg("alice/hooked")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The delivery is on the wire, unanswered, when the process dies.
    wait_until("the first attempt", 30, || !got.lock().unwrap().is_empty());
    let in_flight = got.lock().unwrap()[0].0.clone();
    assert!(!in_flight.is_empty());
    server.kill9();

    let server = Server::start_with_env(data.path(), &verifier, &env);
    wait_until("the delivery after the restart", 60, || {
        got.lock()
            .unwrap()
            .iter()
            .any(|(d, answered)| *d == in_flight && *answered)
    });
    // The dead attempt left no record (its lease ran out); the one that worked did.
    let list = || -> Value {
        let out = cli(home.path(), &server.url, &token)
            .args(["webhook", "deliveries", "alice", &id, "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    wait_until("the delivery recorded", 30, || {
        list()[0]["state"] == "delivered"
    });
    let d = list();
    assert_eq!(d.as_array().unwrap().len(), 1);
    assert_eq!(d[0]["event_id"], in_flight.as_str());
    assert_eq!(d[0]["attempts"][0]["status"], 200);
}
