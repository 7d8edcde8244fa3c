//! The soak load driver of `bench/soak/run.sh` (issue 10):
//! `soak URL TOKENS_FILE SECONDS PULLERS PUSHERS`.
//!
//! Seeds a few models, then for SECONDS keeps PULLERS anonymous clients
//! pulling whole revisions (every file's SHA-256 checked against the
//! revision, every manifest hashed to its revision id) and PUSHERS clients
//! (one token each from TOKENS_FILE, all of one user) pushing new revisions: to their own
//! model, and now and then to one shared branch where a `409` conflict is the
//! expected answer to a lost compare-and-swap. Loopback only, bounded in time;
//! prints one JSON line and exits 1 on any unexpected error or corrupt byte.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use granary_core::{Sha256, Sha256Hasher};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

#[derive(Default)]
struct Counters {
    pulls: AtomicU64,
    files: AtomicU64,
    bytes_down: AtomicU64,
    pushes: AtomicU64,
    bytes_up: AtomicU64,
    conflicts: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    corrupt: AtomicU64,
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

fn noise(n: usize, mut x: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn safetensors(mib: usize, seed: u64) -> Vec<u8> {
    let n = mib * 1024 * 1024 / 4;
    granary_core::safetensors_header::build(&[(
        "w",
        "F32",
        vec![n as u64],
        noise(n * 4, seed).iter().map(|b| b & 0x3f).collect(),
    )])
}

struct Driver {
    url: String,
    client: Client,
    c: Arc<Counters>,
}

impl Driver {
    fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.url)
    }

    fn unexpected(&self, what: &str, detail: String) {
        add(&self.c.errors, 1);
        eprintln!("unexpected: {what}: {detail}");
    }

    async fn upload(&self, token: &str, bytes: &[u8]) -> Result<(), String> {
        let sha = Sha256::of(bytes);
        add(&self.c.requests, 1);
        let res = self
            .client
            .post(self.api("/uploads"))
            .bearer_auth(token)
            .json(&json!({"sha256": sha, "size": bytes.len()}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status: granary_core::api::UploadStatus = ok_json(res).await?;
        if status.stored {
            return Ok(());
        }
        let id = status.id.clone().ok_or("no upload id")?;
        for n in status.missing_parts() {
            let (a, b) = status.part_range(n);
            add(&self.c.requests, 1);
            let res = self
                .client
                .put(self.api(&format!("/uploads/{id}/parts/{n}")))
                .bearer_auth(token)
                .body(bytes[a as usize..b as usize].to_vec())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            add(&self.c.bytes_up, b - a);
            ok_json::<Value>(res).await?;
        }
        add(&self.c.requests, 1);
        let res = self
            .client
            .post(self.api(&format!("/uploads/{id}/complete")))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        ok_json::<Value>(res).await.map(|_| ())
    }

    /// Uploads and commits; `Ok(None)` is a 409 conflict.
    async fn push(
        &self,
        token: &str,
        model: &str,
        files: &[(String, Vec<u8>)],
        parent: Option<&str>,
    ) -> Result<Option<String>, String> {
        for (_, bytes) in files {
            self.upload(token, bytes).await?;
        }
        let body = json!({"parent": parent, "message": "soak", "license": "mit",
            "files": files.iter().map(|(p, b)| json!({"path": p, "size": b.len(), "sha256": Sha256::of(b)})).collect::<Vec<_>>()});
        add(&self.c.requests, 1);
        let res = self
            .client
            .post(self.api(&format!("/models/{model}/commits")))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if res.status() == StatusCode::CONFLICT {
            return Ok(None);
        }
        let v: Value = ok_json(res).await?;
        Ok(v["id"].as_str().map(str::to_string))
    }

    async fn head(&self, model: &str) -> Result<Option<String>, String> {
        add(&self.c.requests, 1);
        let res = self
            .client
            .get(self.api(&format!("/models/{model}/refs")))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if res.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let v: Value = ok_json(res).await?;
        Ok(v["branches"]
            .as_array()
            .and_then(|b| b.iter().find(|r| r["name"] == "main"))
            .and_then(|r| r["revision"].as_str())
            .map(str::to_string))
    }

    /// Pulls a whole revision of `model`, checking every byte.
    async fn pull(&self, model: &str) -> Result<(), String> {
        add(&self.c.requests, 1);
        let res = self
            .client
            .get(self.api(&format!("/models/{model}/revisions/main")))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let rev: Value = ok_json(res).await?;
        let id = rev["id"].as_str().ok_or("no revision id")?.to_string();
        add(&self.c.requests, 1);
        let manifest = self
            .client
            .get(self.api(&format!("/models/{model}/manifest/{id}")))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let manifest = manifest.bytes().await.map_err(|e| e.to_string())?;
        if Sha256::of(&manifest).hex() != id {
            add(&self.c.corrupt, 1);
            return Err(format!("{model}: the manifest does not hash to {id}"));
        }
        for f in rev["files"].as_array().ok_or("no files")? {
            let path = f["path"].as_str().ok_or("no path")?;
            let want = f["sha256"].as_str().ok_or("no sha256")?;
            add(&self.c.requests, 1);
            let res = self
                .client
                .get(self.api(&format!("/models/{model}/files/{id}/{path}")))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !res.status().is_success() {
                return Err(format!("GET {path}: {}", res.status()));
            }
            let mut hasher = Sha256Hasher::new();
            let mut body = res.bytes_stream();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| e.to_string())?;
                hasher.update(&chunk);
            }
            add(&self.c.bytes_down, hasher.len());
            if hasher.finish().hex() != want {
                add(&self.c.corrupt, 1);
                return Err(format!("{model}/{path}: corrupt download"));
            }
            add(&self.c.files, 1);
        }
        add(&self.c.pulls, 1);
        Ok(())
    }
}

async fn ok_json<T: serde::de::DeserializeOwned>(res: reqwest::Response) -> Result<T, String> {
    let status = res.status();
    if !status.is_success() {
        return Err(format!(
            "{status}: {}",
            res.text().await.unwrap_or_default()
        ));
    }
    res.json().await.map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: soak URL TOKENS_FILE SECONDS PULLERS PUSHERS");
        std::process::exit(2);
    }
    let url = args[1].trim_end_matches('/').to_string();
    let tokens: Vec<String> = std::fs::read_to_string(&args[2])
        .unwrap()
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let seconds: u64 = args[3].parse().unwrap();
    let pullers: usize = args[4].parse().unwrap();
    let pushers: usize = args[5].parse().unwrap();
    assert!(tokens.len() >= pushers, "need a token per pusher");
    let c = Arc::new(Counters::default());
    let client = Client::builder()
        .pool_max_idle_per_host(pullers + pushers)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let d = Arc::new(Driver {
        url,
        client,
        c: c.clone(),
    });

    // Seed: four models the pullers read, owned by the first pusher's user.
    let owner = d
        .client
        .get(d.api("/whoami"))
        .bearer_auth(&tokens[0])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let mut models = Vec::new();
    for m in 0..4u64 {
        let model = format!("{owner}/seed-{m}");
        let files = vec![
            ("model.safetensors".to_string(), safetensors(4, m + 1)),
            (
                "extra/tokenizer.bin.txt".to_string(),
                noise(300_000, m + 100),
            ),
            (
                "README.md".to_string(),
                format!("---\nlicense: mit\n---\n# seed {m}\n").into_bytes(),
            ),
        ];
        let parent = d.head(&model).await.unwrap();
        d.push(&tokens[0], &model, &files, parent.as_deref())
            .await
            .unwrap();
        models.push(model);
    }
    let shared = format!("{owner}/shared");

    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for p in 0..pullers {
        let (d, models) = (d.clone(), models.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = p;
            while Instant::now() < deadline {
                if let Err(e) = d.pull(&models[i % models.len()]).await {
                    d.unexpected("pull", e);
                }
                i += 1;
            }
        }));
    }
    for (p, token) in tokens.iter().take(pushers).enumerate() {
        let (d, token, shared, owner) = (d.clone(), token.clone(), shared.clone(), owner.clone());
        tasks.push(tokio::spawn(async move {
            let me = d
                .client
                .get(d.api("/whoami"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string();
            let own = format!("{me}/pushed-{p}");
            let mut head: Option<String> = d.head(&own).await.unwrap_or(None);
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let files = vec![
                    (
                        "weights.safetensors".to_string(),
                        safetensors(1, 1000 * p as u64 + n),
                    ),
                    (
                        "README.md".to_string(),
                        format!("---\nlicense: mit\n---\npush {p}/{n}\n").into_bytes(),
                    ),
                ];
                match d.push(&token, &own, &files, head.as_deref()).await {
                    Ok(Some(id)) => {
                        head = Some(id);
                        add(&d.c.pushes, 1);
                    }
                    Ok(None) => d.unexpected(
                        "push",
                        format!("{own}: conflict on a branch only this client moves"),
                    ),
                    Err(e) => d.unexpected("push", e),
                }
                // Every third round, race the others on the shared branch.
                if n.is_multiple_of(3) && me == owner {
                    let parent = d.head(&shared).await.unwrap_or(None);
                    let files = vec![(
                        "README.md".to_string(),
                        format!("---\nlicense: mit\n---\nshared {p}/{n}\n").into_bytes(),
                    )];
                    match d.push(&token, &shared, &files, parent.as_deref()).await {
                        Ok(Some(_)) => add(&d.c.pushes, 1),
                        Ok(None) => add(&d.c.conflicts, 1),
                        Err(e) => d.unexpected("shared push", e),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let out = json!({
        "seconds": (secs * 10.0).round() / 10.0,
        "pullers": pullers,
        "pushers": pushers,
        "pulls": get(&c.pulls),
        "files_checked": get(&c.files),
        "mib_down": get(&c.bytes_down) / (1 << 20),
        "download_mib_per_s": ((get(&c.bytes_down) as f64 / (1u64 << 20) as f64 / secs) * 10.0).round() / 10.0,
        "pushes": get(&c.pushes),
        "mib_up": get(&c.bytes_up) / (1 << 20),
        "shared_branch_conflicts": get(&c.conflicts),
        "requests": get(&c.requests),
        "requests_per_s": (get(&c.requests) as f64 / secs).round(),
        "unexpected_errors": get(&c.errors),
        "corrupt": get(&c.corrupt),
    });
    println!("{out}");
    if get(&c.errors) > 0 || get(&c.corrupt) > 0 {
        std::process::exit(1);
    }
}
