//! `granary-server` copied alone into an empty directory, run from there with a
//! bare environment, serves every web page from the templates and static files
//! built into it; `--templates-dir` and `--static-dir` make it read them from
//! disk instead.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use granary_core::Sha256;
use granary_core::api::UploadStatus;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

/// A `granary-server serve` started from its own directory; killed when dropped.
struct Standalone {
    url: String,
    log: PathBuf,
    _child: Child,
}

/// Copies the built binary into `dir`, which holds nothing else.
fn copy_binary(dir: &Path) -> PathBuf {
    std::fs::create_dir(dir).unwrap();
    let bin = dir.join("granary-server");
    std::fs::copy(env!("CARGO_BIN_EXE_granary-server"), &bin).unwrap();
    bin
}

/// `bin ARGS` run in `dir` with nothing in its environment but `PATH`: no
/// `GRANARY_*` variable of the caller's reaches it.
fn command(bin: &Path, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// A write token of a new user `name`, made by `granary-server user create` in `dir`
/// (its default data directory, `./granary-data`).
async fn create_user(bin: &Path, dir: &Path, name: &str) -> String {
    let out = command(bin, dir, &["user", "create", name])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "user create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().last().unwrap().trim().to_string()
}

impl Standalone {
    /// `granary-server serve` in `dir` on a free port, with `extra` flags; its log goes to `log`.
    async fn start(bin: &Path, dir: &Path, log: PathBuf, extra: &[&str]) -> Self {
        let mut args = vec!["serve", "--no-worker", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut child = command(bin, dir, &args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the server printed its address in time")
            .unwrap()
            .unwrap_or_default();
        let url = first
            .strip_prefix("granary listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "unexpected first line {first:?}; log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })
            .to_string();
        Self {
            url,
            log,
            _child: child,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET path`, asserting `status`; the response's content type and body.
    async fn page(&self, http: &Client, path: &str, status: StatusCode) -> (String, String) {
        let res = http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let got = res.status();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = res.text().await.unwrap();
        assert_eq!(
            got,
            status,
            "GET {path}: {body}\nserver log:\n{}",
            self.log()
        );
        (content_type, body)
    }
}

/// Uploads `bytes` through the native upload protocol unless the server has them.
async fn upload(http: &Client, api: &str, token: &str, bytes: &[u8]) {
    let res = http
        .post(format!("{api}/uploads"))
        .bearer_auth(token)
        .json(&json!({"sha256": Sha256::of(bytes), "size": bytes.len()}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let status: UploadStatus = res.json().await.unwrap();
    if status.stored {
        return;
    }
    let id = status.id.clone().unwrap();
    for n in status.missing_parts() {
        let (a, b) = status.part_range(n);
        let res = http
            .put(format!("{api}/uploads/{id}/parts/{n}"))
            .bearer_auth(token)
            .body(bytes[a as usize..b as usize].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{}",
            res.text().await.unwrap()
        );
    }
    let res = http
        .post(format!("{api}/uploads/{id}/complete"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
}

/// Pushes a small model (card, config, one safetensors file) as `model` through the API.
async fn push_model(http: &Client, base: &str, token: &str, model: &str) {
    let api = format!("{base}/api/v1");
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("README.md", common::README.as_bytes().to_vec()),
        (
            "config.json",
            br#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 256}"#.to_vec(),
        ),
        ("model.safetensors", common::shard(1, 7)),
    ];
    for (_, bytes) in &files {
        upload(http, &api, token, bytes).await;
    }
    let body = json!({
        "parent": null,
        "message": "first push",
        "files": files.iter().map(|(p, b)| common::commit_file(p, b)).collect::<Vec<_>>(),
    });
    let res = http
        .post(format!("{api}/models/{model}/commits"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let _: Value = res.json().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_copied_alone_serves_every_page() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("alone");
    let bin = copy_binary(&dir);
    let token = create_user(&bin, &dir, "alice").await;
    let server = Standalone::start(&bin, &dir, tmp.path().join("server.log"), &[]).await;
    let http = Client::new();
    push_model(&http, &server.url, &token, "alice/tiny").await;

    // Every page renders from the built-in templates and names the built-in stylesheet's version.
    let pages: [(&str, &str); 10] = [
        ("/", "Granary"),
        ("/models", "alice/tiny"),
        ("/models?q=tiny&sort=name", "alice/tiny"),
        ("/alice", "tiny"),
        ("/alice/tiny", "A generated test model."),
        ("/alice/tiny/tree/main", "model.safetensors"),
        (
            "/alice/tiny/tensors/main/model.safetensors",
            "layer7.weight",
        ),
        ("/alice/tiny/commits/main", "first push"),
        ("/alice/tiny/benchmarks", "tiny"),
        ("/login", "Sign in"),
    ];
    let (_, css) = server
        .page(&http, "/static/granary.css", StatusCode::OK)
        .await;
    let res = http
        .get(format!("{}/static/granary.css", server.url))
        .send()
        .await
        .unwrap();
    let etag = res.headers()["etag"].to_str().unwrap().trim_matches('"');
    let version = format!("granary.css?v={etag}");
    for (path, text) in pages {
        let (content_type, body) = server.page(&http, path, StatusCode::OK).await;
        assert!(
            content_type.starts_with("text/html"),
            "{path}: {content_type}"
        );
        assert!(body.contains("</html>"), "{path} is a whole page:\n{body}");
        assert!(body.contains(text), "{path} shows {text:?}:\n{body}");
        assert!(
            body.contains(&version),
            "{path} links the stylesheet as {version}:\n{body}"
        );
    }
    // The styled error page is a template too.
    let (_, body) = server
        .page(&http, "/alice/no-such-model", StatusCode::NOT_FOUND)
        .await;
    assert!(
        body.contains("</html>") && body.contains(&version),
        "{body}"
    );

    // The stylesheet: its type, its caching, and the bytes of static/granary.css.
    let source_css = include_str!("../../static/granary.css");
    assert_eq!(css, source_css);
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(res.headers()["cache-control"], "public, max-age=86400");
    let again = http
        .get(format!("{}/static/granary.css", server.url))
        .header("if-none-match", format!("\"{etag}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    server
        .page(&http, "/static/no-such-file.css", StatusCode::NOT_FOUND)
        .await;

    // Nothing was read from a templates directory, and the directory still holds only the
    // binary and the data directory it made.
    let log = server.log();
    assert!(
        log.contains("web templates loaded")
            && log.contains("templates built in, static files built in"),
        "{log}"
    );
    let mut entries: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["granary-data", "granary-server"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_flags_read_templates_and_static_files_from_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("alone");
    let bin = copy_binary(&dir);

    // A copy of the source tree's templates with a marker in the layout, and a stylesheet of our own.
    let templates = tmp.path().join("my-templates");
    std::fs::create_dir(&templates).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let mut text = std::fs::read_to_string(&path).unwrap();
        if path.file_name().unwrap() == "base.html" {
            text = text.replace("</footer>", "<p>templates from disk</p></footer>");
        }
        std::fs::write(templates.join(path.file_name().unwrap()), text).unwrap();
    }
    let statics = tmp.path().join("my-static");
    std::fs::create_dir(&statics).unwrap();
    let css = "/* from disk */\nbody { margin: 0; }\n";
    std::fs::write(statics.join("granary.css"), css).unwrap();

    let server = Standalone::start(
        &bin,
        &dir,
        tmp.path().join("server.log"),
        &[
            "--templates-dir",
            templates.to_str().unwrap(),
            "--static-dir",
            statics.to_str().unwrap(),
        ],
    )
    .await;
    let http = Client::new();
    let (_, home) = server.page(&http, "/", StatusCode::OK).await;
    assert!(home.contains("templates from disk"), "{home}");
    let (_, served) = server
        .page(&http, "/static/granary.css", StatusCode::OK)
        .await;
    assert_eq!(served, css);
    let version = &Sha256::of(css.as_bytes()).hex()[..16];
    assert!(home.contains(&format!("granary.css?v={version}")), "{home}");

    // A directory flag naming nothing readable: the pages answer 500, the API still works.
    drop(server);
    let broken = Standalone::start(
        &bin,
        &dir,
        tmp.path().join("broken.log"),
        &[
            "--templates-dir",
            tmp.path().join("missing").to_str().unwrap(),
        ],
    )
    .await;
    broken
        .page(&http, "/", StatusCode::INTERNAL_SERVER_ERROR)
        .await;
    let res = http
        .get(format!("{}/api/v1/models", broken.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        broken.log().contains("cannot read --templates-dir"),
        "{}",
        broken.log()
    );
}
