//! The scale-out deployment end to end, with real processes: one PostgreSQL
//! database, one S3 bucket (`moto_server`), two `granary-server serve
//! --no-worker` replicas A and B (B answers downloads with presigned
//! redirects), two `granary-server worker` processes, the real `granary` CLI
//! and, when its virtualenv exists, huggingface_hub.
//!
//! Needs `cargo build --workspace --bins` first, PostgreSQL on 127.0.0.1:5432
//! (`GRANARY_TEST_POSTGRES`), `moto_server` (`pip install 'moto[server]'`), and for
//! the Hub client `tests/hf/setup.sh` (`GRANARY_TEST_HF_PYTHON` to point elsewhere).

#[path = "s3/mod.rs"]
mod moto;
#[path = "pg_database/mod.rs"]
mod pg_database;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use granary_core::Sha256;
use granary_server::storage::{BlobLayout, Key, Storage};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

const BUCKET: &str = "granary-scaleout";
const PART: usize = 1024 * 1024;
const SECRET: &str = "a-session-secret-every-replica-shares";

/// A binary built beside the test executable's directory (`target/debug/NAME`).
fn built(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first with `cargo build --workspace --bins`",
        path.display()
    );
    path
}

/// A replica: its process and URL.
struct Server {
    url: String,
    _child: Child,
}

/// Everything the test started; killed when dropped.
struct Cluster {
    moto: moto::Moto,
    storage_url: String,
    dir: tempfile::TempDir,
    servers: Vec<Server>,
    workers: Vec<Child>,
    http: reqwest::Client,
    /// A client that never follows redirects.
    raw: reqwest::Client,
    /// A token of the server administrator `root`, for the counters of `GET /api/v1/stats`.
    admin_token: String,
    /// Last: dropped after the processes above are killed.
    database: pg_database::TestDatabase,
}

impl Cluster {
    async fn start(workers: usize) -> Self {
        let moto = moto::Moto::start(BUCKET).await;
        let mut c = Cluster {
            moto,
            database: pg_database::TestDatabase::create("granary_scaleout").await,
            storage_url: format!("s3://{BUCKET}/registry"),
            dir: tempfile::tempdir().unwrap(),
            servers: Vec::new(),
            workers: Vec::new(),
            http: reqwest::Client::new(),
            raw: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            admin_token: String::new(),
        };
        // Migrations run once, before the replicas race to apply them.
        c.admin(&["user", "create", "alice"]).await;
        let out = c.admin(&["user", "create", "root", "--admin"]).await;
        c.admin_token = out.lines().last().unwrap().trim().to_string();
        let a = c.serve("a", false).await;
        let b = c.serve("b", true).await;
        c.servers = vec![a, b];
        for i in 0..workers {
            let child = c
                .command("worker", &format!("worker-{i}"))
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            c.workers.push(child);
        }
        c
    }

    fn a(&self) -> &str {
        &self.servers[0].url
    }

    fn b(&self) -> &str {
        &self.servers[1].url
    }

    /// `granary-server SUBCOMMAND` with this cluster's database, bucket and secret.
    fn command(&self, sub: &str, name: &str) -> Command {
        let data = self.dir.path().join(name);
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.log"))).unwrap();
        let mut cmd = Command::new(built("granary-server"));
        cmd.arg(sub)
            .arg("--data-dir")
            .arg(&data)
            .args([
                "--database-url",
                &self.database.url,
                "--storage-url",
                &self.storage_url,
            ])
            .envs(self.moto.env())
            .env("GRANARY_SESSION_SECRET", SECRET)
            .env("GRANARY_LOG", "info,sqlx=warn")
            .env("GRANARY_VERIFY_TIMEOUT_SECS", "300")
            .env("GRANARY_VERIFY_MEMORY_BUDGET", "536870912")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true);
        cmd
    }

    async fn serve(&self, name: &str, presign: bool) -> Server {
        let mut cmd = self.command("serve", name);
        cmd.args([
            "--no-worker",
            "--listen",
            "127.0.0.1:0",
            "--upload-part-size",
            &PART.to_string(),
        ]);
        if presign {
            cmd.arg("--presign-downloads");
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the server printed its address in time")
            .unwrap()
            .unwrap_or_default();
        let url = first
            .strip_prefix("granary listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}; see {name}.log"))
            .to_string();
        Server { url, _child: child }
    }

    /// Runs an admin command to completion; its stdout.
    async fn admin(&self, args: &[&str]) -> String {
        let out = self.admin_output(args).await;
        assert!(
            out.status.success(),
            "granary-server {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    async fn admin_output(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new(built("granary-server"));
        cmd.args(args)
            .arg("--data-dir")
            .arg(self.dir.path().join("admin"))
            .args([
                "--database-url",
                &self.database.url,
                "--storage-url",
                &self.storage_url,
            ])
            .envs(self.moto.env())
            .env("GRANARY_LOG", "warn")
            .kill_on_drop(true);
        cmd.output().await.unwrap()
    }

    /// The warnings and errors the replicas logged, for a failure's message (the logs kept
    /// on a panic are lost when the `Cluster` is shared with a task).
    fn problems_logged(&self) -> String {
        let mut out = String::new();
        for name in ["a", "b"] {
            let log = std::fs::read_to_string(self.dir.path().join(format!("{name}.log")))
                .unwrap_or_default();
            for line in log
                .lines()
                .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            {
                out.push_str(&format!("{name}: {line}\n"));
            }
        }
        out
    }

    /// A new token for alice.
    async fn token(&self) -> String {
        let out = self.admin(&["user", "create", "alice"]).await;
        out.lines().last().unwrap().trim().to_string()
    }

    /// Runs the `granary` CLI with a fresh cache; its output.
    async fn granary(&self, args: &[&str]) -> std::process::Output {
        let home = tempfile::tempdir().unwrap();
        Command::new(built("granary"))
            .args(args)
            .env("GRANARY_CACHE", home.path().join("cache"))
            .env("GRANARY_CONFIG_DIR", home.path().join("config"))
            .kill_on_drop(true)
            .output()
            .await
            .unwrap()
    }

    /// Pushes `dir`; the new revision id.
    async fn push(
        &self,
        endpoint: &str,
        token: &str,
        dir: &Path,
        model: &str,
    ) -> Result<String, String> {
        let out = self
            .granary(&[
                "push",
                dir.to_str().unwrap(),
                model,
                "--endpoint",
                endpoint,
                "--token",
                token,
                "-q",
            ])
            .await;
        if out.status.success() {
            Ok(String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Pulls `target` into a new directory; its files.
    async fn pull(&self, endpoint: &str, token: &str, target: &str) -> BTreeMap<String, Vec<u8>> {
        let out_dir = tempfile::tempdir().unwrap();
        let out = self
            .granary(&[
                "pull",
                target,
                "--endpoint",
                endpoint,
                "--token",
                token,
                "-q",
                "-o",
                out_dir.path().to_str().unwrap(),
            ])
            .await;
        assert!(
            out.status.success(),
            "pull {target} from {endpoint} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        files(out_dir.path())
    }

    async fn stats(&self, url: &str) -> Value {
        let res = self
            .http
            .get(format!("{url}/api/v1/stats"))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "stats: {}", res.status());
        res.json().await.unwrap()
    }

    /// The bucket, as the servers see it.
    fn storage(&self) -> Storage {
        Storage::open(&self.storage_url, &self.moto.config()).unwrap()
    }

    async fn pg(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.database.url).await.unwrap()
    }
}

impl Drop for Cluster {
    /// Keeps the processes' logs of a failed test.
    fn drop(&mut self) {
        if std::thread::panicking() {
            let keep = std::env::temp_dir().join(format!(
                "granary-scaleout-{}",
                uuid::Uuid::new_v4().simple()
            ));
            if std::fs::create_dir_all(&keep).is_ok() {
                for entry in std::fs::read_dir(self.dir.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    if entry.path().extension().is_some_and(|e| e == "log") {
                        let _ = std::fs::copy(entry.path(), keep.join(entry.file_name()));
                    }
                }
                eprintln!("the processes' logs are kept in {}", keep.display());
            }
        }
    }
}

/// Every file under `dir`, by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if rel.starts_with(".granary") {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A `tiny_llama` fixture plus `extra` random bytes in `extra.dat` (several upload parts when
/// over a MiB, so it streams through the servers rather than redirecting).
async fn get_json(url: &str) -> Value {
    let res = reqwest::get(url).await.unwrap();
    assert!(res.status().is_success(), "{url}: {}", res.status());
    res.json().await.unwrap()
}

/// Both replicas sign with one key (derived from the shared session secret),
/// and pushes racing through both make one log history (docs/SIGNING.md).
async fn replicas_sign_and_log_as_one(c: &Cluster, token: &str, rev: &str) {
    let keys = get_json(&format!("{}/api/v1/keys", c.a())).await;
    assert_eq!(keys, get_json(&format!("{}/api/v1/keys", c.b())).await);
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1, "{keys}");
    let signature =
        |url: String| async move { reqwest::get(url).await.unwrap().text().await.unwrap() };
    let path = format!("/api/v1/models/alice/tiny/revisions/{rev}/signature");
    assert_eq!(
        signature(format!("{}{path}", c.a())).await,
        signature(format!("{}{path}", c.b())).await
    );
    let before = get_json(&format!("{}/api/v1/log/head", c.a())).await["tree_size"]
        .as_u64()
        .unwrap();
    let fixtures: Vec<tempfile::TempDir> = (0..4).map(|_| fixture(1000)).collect();
    let names: Vec<String> = (0..4).map(|i| format!("alice/race{i}")).collect();
    let pushes = fixtures
        .iter()
        .zip(&names)
        .enumerate()
        .map(|(i, (fx, name))| {
            let endpoint = if i % 2 == 0 { c.a() } else { c.b() };
            c.push(endpoint, token, fx.path(), name)
        });
    for pushed in futures::future::join_all(pushes).await {
        pushed.expect("a racing push");
    }
    let head_a = get_json(&format!("{}/api/v1/log/head", c.a())).await;
    let head_b = get_json(&format!("{}/api/v1/log/head", c.b())).await;
    assert_eq!(
        head_a["tree_size"].as_u64().unwrap(),
        before + 4,
        "{head_a}"
    );
    assert_eq!(
        head_a["root_hash"], head_b["root_hash"],
        "one history on both replicas"
    );
    let mut indices = Vec::new();
    for i in 0..4 {
        let proof: granary_core::api::RevisionLogProof = serde_json::from_value(
            get_json(&format!(
                "{}/api/v1/models/alice/race{i}/revisions/main/log",
                c.b()
            ))
            .await,
        )
        .unwrap();
        proof
            .head
            .verify_inclusion(&proof.leaf, proof.leaf_index, &proof.proof)
            .expect("included");
        indices.push(proof.leaf_index);
    }
    indices.sort();
    assert_eq!(indices, (before..before + 4).collect::<Vec<u64>>());
}

fn fixture(extra: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(built("granary-fixture"))
        .arg("tiny_llama")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(dir.path().join("extra.dat"), random_bytes(extra)).unwrap();
    dir
}

fn random_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|_| rand::random::<u8>()).collect()
}

fn same_files(got: &BTreeMap<String, Vec<u8>>, want: &BTreeMap<String, Vec<u8>>, what: &str) {
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(got), names(want), "{what}: file lists differ");
    for (path, bytes) in want {
        assert!(got[path] == *bytes, "{what}: {path} differs");
    }
}

/// The Hub client's interpreter, if `tests/hf/setup.sh` made it.
fn hf_python() -> Option<PathBuf> {
    let p = PathBuf::from(
        std::env::var("GRANARY_TEST_HF_PYTHON")
            .unwrap_or_else(|_| "/tmp/granary-hf-venv-2.4.0/bin/python".into()),
    );
    p.exists().then_some(p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_behave_as_one_registry() {
    let c = Cluster::start(2).await;
    let token = c.token().await;

    // Push through A, pull through B (presigned) and A (streamed): byte-identical.
    let fx = fixture(PART * 5 / 2);
    let want = files(fx.path());
    let rev = c
        .push(c.a(), &token, fx.path(), "alice/tiny")
        .await
        .expect("push through A");
    assert_eq!(rev.len(), 64, "{rev}");
    let before = c.stats(c.b()).await["file_redirects"].as_u64().unwrap();
    same_files(
        &c.pull(c.b(), &token, "alice/tiny").await,
        &want,
        "pull through B",
    );
    let redirects = c.stats(c.b()).await["file_redirects"].as_u64().unwrap() - before;
    assert!(
        redirects >= 4,
        "B redirected the four one-part files ({redirects} redirects)"
    );
    same_files(
        &c.pull(c.a(), &token, &format!("alice/tiny@{rev}")).await,
        &want,
        "pull through A",
    );
    assert_eq!(c.stats(c.a()).await["file_redirects"], 0, "A streams");

    presigned_answers(&c, &token, &rev).await;
    hub_client_pulls_through_redirects(&c, &want).await;
    upload_begun_on_a_completes_on_b(&c, &token).await;
    each_revision_verified_once(&c).await;
    replicas_sign_and_log_as_one(&c, &token, &rev).await;

    // fsck: clean; then a blob object deleted behind the registry's back is found.
    let out = c.admin(&["fsck"]).await;
    assert!(out.contains(" 0 problems"), "{out}");
    let config_sha = Sha256::of(&want["config.json"]);
    let layout = BlobLayout {
        sha256: config_sha,
        size: want["config.json"].len() as u64,
        part_size: PART as u64,
        part_count: 1,
    };
    c.storage()
        .inner()
        .delete(&Key::BlobPart(&layout, 0).path())
        .await
        .unwrap();
    let out = c.admin_output(&["fsck"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "fsck must fail:\n{text}");
    assert!(
        text.contains(&config_sha.hex()) && text.contains("missing"),
        "{text}"
    );
    // --repair forgets the blob so that pushing the file again heals the revision.
    let out = c.admin_output(&["fsck", "--repair"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success()
            && text.contains("repaired: blob")
            && text.contains("push the file again"),
        "{text}"
    );
    c.push(c.b(), &token, fx.path(), "alice/tiny")
        .await
        .expect("push again through B");
    let out = c.admin(&["fsck"]).await;
    assert!(out.contains(" 0 problems"), "{out}");
    same_files(
        &c.pull(c.b(), &token, &format!("alice/tiny@{rev}")).await,
        &want,
        "the first revision, healed",
    );
}

/// B's answers: a 302 to the bucket with the metadata, HEAD and hf-hub served locally.
async fn presigned_answers(c: &Cluster, token: &str, rev: &str) {
    let file = format!("{}/api/v1/models/alice/tiny/files/main/config.json", c.b());
    let res = c.raw.get(&file).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&c.moto.endpoint) && location.contains("X-Amz-Signature"),
        "{location}"
    );
    assert!(res.headers()["etag"].to_str().unwrap().starts_with('"'));
    assert!(res.headers().contains_key("x-linked-size"));
    // The store answers the signed URL, Range included.
    let got = c
        .http
        .get(&location)
        .header("range", "bytes=0-0")
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::PARTIAL_CONTENT);
    // HEAD stays local.
    let head = c.raw.head(&file).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.headers().contains_key("content-length"));
    // The Rust hf-hub crate would send its token to the bucket: it gets the bytes from B.
    let resolve = format!("{}/alice/tiny/resolve/main/config.json", c.b());
    let res = c
        .raw
        .get(&resolve)
        .header("user-agent", "unknown/None; hf-hub/0.5.0; rust/unknown")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Other Hub clients are redirected with the metadata on the 302.
    let res = c
        .raw
        .get(&resolve)
        .header("user-agent", "huggingface_hub/2.4.0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    for h in [
        "x-repo-commit",
        "x-linked-etag",
        "x-linked-size",
        "location",
    ] {
        assert!(res.headers().contains_key(h), "the 302 lacks {h}");
    }
    assert_eq!(res.headers()["x-repo-commit"].to_str().unwrap(), &rev[..40]);
    // A file stored in several parts streams through B.
    let big = format!("{}/api/v1/models/alice/tiny/files/main/extra.dat", c.b());
    assert_eq!(
        c.raw.get(&big).send().await.unwrap().status(),
        StatusCode::OK
    );
}

/// huggingface_hub's snapshot_download through B, following the presigned redirects.
async fn hub_client_pulls_through_redirects(c: &Cluster, want: &BTreeMap<String, Vec<u8>>) {
    let Some(python) = hf_python() else {
        eprintln!(
            "SKIPPED the huggingface_hub part: run tests/hf/setup.sh (or set GRANARY_TEST_HF_PYTHON)"
        );
        assert!(
            std::env::var_os("GRANARY_TEST_REQUIRE_HF").is_none(),
            "huggingface_hub is required"
        );
        return;
    };
    let before = c.stats(c.b()).await["file_redirects"].as_u64().unwrap();
    let home = tempfile::tempdir().unwrap();
    let script = "import sys\nfrom huggingface_hub import snapshot_download\nprint(snapshot_download(repo_id='alice/tiny'))\n";
    let out = Command::new(python)
        .args(["-c", script])
        .env("HF_ENDPOINT", c.b())
        .env("HF_HOME", home.path())
        .env("HF_HUB_DISABLE_XET", "1")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        .env_remove("HF_TOKEN")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "snapshot_download failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snapshot = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    same_files(
        &files(Path::new(&snapshot)),
        want,
        "huggingface_hub through B",
    );
    let redirects = c.stats(c.b()).await["file_redirects"].as_u64().unwrap() - before;
    assert!(
        redirects >= 4,
        "huggingface_hub followed B's redirects ({redirects})"
    );
}

/// An upload begun on A is the same session on B, which receives the rest and completes it.
async fn upload_begun_on_a_completes_on_b(c: &Cluster, token: &str) {
    let bytes = random_bytes(PART * 7 / 2);
    let sha = Sha256::of(&bytes);
    let start = |url: String| {
        let body = json!({"sha256": sha, "size": bytes.len()});
        let req = c
            .http
            .post(format!("{url}/api/v1/uploads"))
            .bearer_auth(token)
            .json(&body);
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            res.json::<Value>().await.unwrap()
        }
    };
    let put = |url: &str, id: &str, n: usize| {
        let body = bytes[n * PART..((n + 1) * PART).min(bytes.len())].to_vec();
        c.http
            .put(format!("{url}/api/v1/uploads/{id}/parts/{n}"))
            .bearer_auth(token)
            .body(body)
            .send()
    };
    let on_a = start(c.a().to_string()).await;
    assert_eq!(on_a["part_count"], 4);
    let id = on_a["id"].as_str().unwrap().to_string();
    for n in [0, 1] {
        assert_eq!(put(c.a(), &id, n).await.unwrap().status(), StatusCode::OK);
    }
    let on_b = start(c.b().to_string()).await;
    assert_eq!(on_b["id"], on_a["id"], "the same session on B");
    assert_eq!(on_b["received"], json!([0, 1]));
    for n in [2, 3] {
        assert_eq!(put(c.b(), &id, n).await.unwrap().status(), StatusCode::OK);
    }
    let done = c
        .http
        .post(format!("{}/api/v1/uploads/{id}/complete", c.b()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        done.status(),
        StatusCode::OK,
        "{}",
        done.text().await.unwrap()
    );
    let commit = json!({
        "branch": "main", "parent": null, "message": "resumed on another replica", "license": "apache-2.0",
        "files": [{"path": "data.dat", "size": bytes.len(), "sha256": sha}],
    });
    let res = c
        .http
        .post(format!("{}/api/v1/models/alice/resumed/commits", c.b()))
        .bearer_auth(token)
        .json(&commit)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let pulled = c.pull(c.a(), token, "alice/resumed").await;
    assert!(
        pulled["data.dat"] == bytes,
        "the resumed blob pulls byte-identical through A"
    );
}

/// Two workers on one database: every revision verified, each exactly once.
async fn each_revision_verified_once(c: &Cluster) {
    let pool = c.pg().await;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (pending,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM verification_jobs WHERE state <> 'done'")
                .fetch_one(&pool)
                .await
                .unwrap();
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} verification jobs still pending; see worker-*.log"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let runs: Vec<(String, i64)> = sqlx::query_as(
        "SELECT v.id, (SELECT COUNT(*) FROM verification_runs r WHERE r.model_id = v.model_id AND r.revision_id = v.id)
         FROM revisions v",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    for (rev, n) in &runs {
        assert_eq!(*n, 1, "revision {rev} has {n} verification runs");
    }
    let workers: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT worker FROM verification_runs")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(!workers.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_racing_pushes_loses_nothing() {
    let c = Arc::new(Cluster::start(0).await);
    let token = c.token().await;

    // An upload completed but never committed: garbage the first collection takes.
    let orphan = random_bytes(1000);
    let body = json!({"sha256": Sha256::of(&orphan), "size": orphan.len()});
    let started: Value = c
        .http
        .post(format!("{}/api/v1/uploads", c.a()))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = started["id"].as_str().unwrap();
    c.http
        .put(format!("{}/api/v1/uploads/{id}/parts/0", c.a()))
        .bearer_auth(&token)
        .body(orphan.clone())
        .send()
        .await
        .unwrap();
    let done = c
        .http
        .post(format!("{}/api/v1/uploads/{id}/complete", c.a()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);

    // Collect with no grace at all, over and over, while pushing. Each collection holds
    // `turn` while it runs. A push's first try races the collector: it lands, or the collector
    // takes a blob it uploaded and the commit is refused ("upload it again"). A refused push
    // is tried again holding `turn`, so no collection runs during that try and it must land:
    // every push gets through in at most two tries however slow the machine (a retry budget
    // against a timer was not enough once, on a loaded CI machine). The second try resumes the
    // first one's upload sessions while the replicas may still be finishing its requests: that
    // must work too (a completion runs to the end without its client; a session found gone is
    // asked for again).
    let stop = Arc::new(AtomicBool::new(false));
    let turn = Arc::new(tokio::sync::Mutex::new(()));
    let collector = {
        let (c, stop, turn) = (c.clone(), stop.clone(), turn.clone());
        tokio::spawn(async move {
            let (mut runs, mut blobs, mut sessions) = (0u64, 0u64, 0u64);
            // At least two collections, whatever the pushes' speed: the first takes the orphan.
            while runs < 2 || !stop.load(Ordering::Relaxed) {
                let out = {
                    let _turn = turn.lock().await;
                    c.admin(&["gc", "--grace-minutes", "0", "--json"]).await
                };
                let report: Value = serde_json::from_str(&out).unwrap();
                runs += 1;
                blobs += report["blobs"].as_u64().unwrap();
                sessions += report["upload_sessions"].as_u64().unwrap();
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            (runs, blobs, sessions)
        })
    };
    let mut pushed = Vec::new();
    let mut raced = 0;
    for i in 0..10 {
        let fx = fixture(if i % 3 == 0 { PART * 3 / 2 } else { 200_000 });
        let model = format!("alice/race-{}", i % 2);
        let endpoint = if i % 2 == 0 { c.a() } else { c.b() };
        let rev = match c.push(endpoint, &token, fx.path(), &model).await {
            Ok(rev) => rev,
            Err(e) => {
                raced += 1;
                eprintln!(
                    "push {i} lost the race with the collector: {}",
                    e.lines().last().unwrap_or("")
                );
                let _turn = turn.lock().await;
                c.push(endpoint, &token, fx.path(), &model)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "push {i} failed again with no collection running:\n{e}\n{}",
                            c.problems_logged()
                        )
                    })
            }
        };
        pushed.push((model, rev, fx));
    }
    stop.store(true, Ordering::Relaxed);
    let (runs, blobs, sessions) = collector.await.unwrap();
    eprintln!(
        "{runs} collections removed {blobs} blobs and {sessions} upload sessions; \
         {raced} of 10 pushes lost their first try to the collector"
    );
    assert!(
        blobs >= 1,
        "the collector took the orphan ({runs} runs, {blobs} blobs)"
    );
    c.admin(&["gc", "--grace-minutes", "0"]).await;

    // Everything committed is whole.
    for (model, rev, fx) in &pushed {
        let via = if rev.as_bytes()[0] % 2 == 0 {
            c.a()
        } else {
            c.b()
        };
        same_files(
            &c.pull(via, &token, &format!("{model}@{rev}")).await,
            &files(fx.path()),
            &format!("{model}@{rev}"),
        );
    }
    let out = c.admin(&["fsck", "--deep"]).await;
    assert!(out.contains(" 0 problems"), "{out}");
}
