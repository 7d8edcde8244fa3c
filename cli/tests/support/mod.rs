//! The end-to-end harness: a real `granary-server` on a random port with its
//! own temporary data dir, and the real `granary` binary run against it with
//! its own cache and config dirs. The server is killed when dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use granary_core::safetensors_header;

/// Upload part size the test servers use, so a few-MB file has several parts.
pub const PART_SIZE: u64 = 1 << 20;

fn server_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    for dir in exe.ancestors().skip(1) {
        let candidate = dir.join("granary-server");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "granary-server not found next to {}: build it first: cargo build --workspace",
        exe.display()
    );
}

/// A running server and the tokens of its users.
pub struct Server {
    child: Child,
    pub url: String,
    pub data: tempfile::TempDir,
    /// A token of `alice`.
    pub token: String,
    /// A token of `bob`, another user.
    pub bob_token: String,
    /// A token of `root`, a server administrator (the counters of `GET /api/v1/stats` are theirs).
    pub admin_token: String,
}

impl Server {
    pub fn start() -> Self {
        Self::start_with_env(&[])
    }

    /// A server with extra `GRANARY_*` settings.
    pub fn start_with_env(env: &[(&str, &str)]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let token = create_user(data.path(), "alice");
        let bob_token = create_user(data.path(), "bob");
        let admin_token = create_user_with(data.path(), "root", &["--admin"]);
        let log = std::fs::File::create(data.path().join("server.log")).unwrap();
        let mut child = Command::new(server_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .env("GRANARY_UPLOAD_PART_SIZE", PART_SIZE.to_string())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("granary-server starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(|l| l.ok()).unwrap_or_default();
        let url = first
            .strip_prefix("granary listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from granary-server: {first:?}"))
            .trim()
            .to_string();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            url,
            data,
            token,
            bob_token,
            admin_token,
        }
    }

    /// `GET /api/v1/stats`, as the administrator.
    pub fn stats(&self) -> Stats {
        let body = http_get_as(&self.url, "/api/v1/stats", Some(&self.admin_token));
        let v: serde_json::Value = serde_json::from_str(&body).expect("stats are JSON");
        Stats {
            received: v["blob_bytes_received"].as_u64().unwrap(),
            sent: v["file_bytes_sent"].as_u64().unwrap(),
            requests: v["file_requests"].as_u64().unwrap(),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("server.log")).unwrap_or_default()
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
    let out = Command::new(server_bin())
        .args(["user", "create", name])
        .args(flags)
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("granary-server user create runs");
    assert!(
        out.status.success(),
        "user create failed: {}",
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

/// The server's transfer counters.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub received: u64,
    pub sent: u64,
    pub requests: u64,
}

/// A plain HTTP/1.1 GET (the tests need no HTTP client of their own).
pub fn http_get(base: &str, path: &str) -> String {
    http_get_as(base, path, None)
}

/// A plain HTTP/1.1 GET, with a bearer token when given.
pub fn http_get_as(base: &str, path: &str, token: Option<&str>) -> String {
    let host = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(host).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((len, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        return out;
    }
    body.to_string()
}

/// One user's machine: its own cache and config dirs.
pub struct Client<'a> {
    pub server: &'a Server,
    pub home: tempfile::TempDir,
    pub token: Option<String>,
    pub env: Vec<(String, String)>,
}

impl<'a> Client<'a> {
    pub fn new(server: &'a Server) -> Self {
        Self {
            server,
            home: tempfile::tempdir().unwrap(),
            token: Some(server.token.clone()),
            env: Vec::new(),
        }
    }

    pub fn cache(&self) -> PathBuf {
        self.home.path().join("cache")
    }

    pub fn config(&self) -> PathBuf {
        self.home.path().join("config")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.home.path().join(rel)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_granary"));
        cmd.args(args)
            .current_dir(self.home.path())
            .env("GRANARY_ENDPOINT", &self.server.url)
            .env("GRANARY_CACHE", self.cache())
            .env("GRANARY_CONFIG_DIR", self.config())
            .env_remove("GRANARY_TOKEN");
        if let Some(t) = &self.token {
            cmd.env("GRANARY_TOKEN", t);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `granary ARGS`; answers the output whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("granary runs")
    }

    /// Runs `granary ARGS`, asserts success, answers stdout's last line.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "granary {args:?} failed with {:?}\nstdout: {}\nstderr: {}\nserver log tail: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            tail(&self.server.log())
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap_or("")
            .trim()
            .to_string()
    }

    /// Runs `granary ARGS`, asserts the exit code, answers stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(
            out.status.code(),
            Some(code),
            "granary {args:?}: stderr: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "a panic: {stderr}");
        stderr
    }
}

fn tail(s: &str) -> &str {
    &s[s.len().saturating_sub(2000)..]
}

/// A small deterministic PRNG (xorshift64*), so fixtures need no crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Finite f32 values in [-1, 1), little-endian.
    pub fn f32_bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|_| {
                (((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0).to_le_bytes()
            })
            .collect()
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n.div_ceil(8))
            .flat_map(|_| self.next_u64().to_le_bytes())
            .take(n)
            .collect()
    }
}

/// A safetensors shard of `params` random F32 values in two tensors.
pub fn shard(rng: &mut Rng, params: usize) -> Vec<u8> {
    let a = params / 2;
    let b = params - a;
    safetensors_header::build(&[
        ("layer.weight", "F32", vec![a as u64], rng.f32_bytes(a)),
        ("layer.bias", "F32", vec![b as u64], rng.f32_bytes(b)),
    ])
}

/// Writes a generated model: 3 safetensors shards of `shard_params` F32 values
/// each (about 4 bytes × that), config.json and a README.md with front matter.
pub fn make_model(dir: &Path, seed: u64, shard_params: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = Rng::new(seed);
    for i in 1..=3 {
        std::fs::write(
            dir.join(format!("model-0000{i}-of-00003.safetensors")),
            shard(&mut rng, shard_params),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("config.json"),
        format!("{{\"model_type\": \"test\", \"seed\": {seed}}}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("README.md"),
        "---\nlicense: apache-2.0\ntags: [test]\n---\n# A test model\n",
    )
    .unwrap();
}

/// Every file under `dir`, relative path → bytes.
pub fn read_tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// Polls `cond` every 10 ms for up to `secs` seconds.
pub fn wait_until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

/// Whether the tests run as root (whose pulls copy rather than hard-link).
pub fn running_as_root() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    }
    #[cfg(not(unix))]
    false
}
