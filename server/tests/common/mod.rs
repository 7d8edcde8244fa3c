//! The in-process test harness: boots the real router on a random port with
//! a fresh database (SQLite file or a new PostgreSQL database) and a fresh
//! local object store, plus helpers that speak the upload protocol.

#![allow(dead_code)]

#[path = "../pg_database/mod.rs"]
mod pg_database;

use std::sync::Arc;

use granary_core::api::{CommitFile, UploadStatus};
use granary_core::{RepoPath, Sha256};
use granary_server::{App, Config};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each listed test body once per backend: `mod sqlite { fn NAME }` and `mod postgres { fn NAME }`.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::common::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::common::Backend::Postgres).await })*
        }
    };
}

pub struct TestApp {
    pub url: String,
    pub client: Client,
    pub app: Arc<App>,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The PostgreSQL tests' database, dropped after the server is told to stop.
    database: Option<pg_database::TestDatabase>,
    /// A token of the server administrator `granary-admin`, made on first use.
    admin: tokio::sync::OnceCell<String>,
}

impl TestApp {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_data_dir(dir.path());
        config.upload_part_size = 1024 * 1024;
        let database = match backend {
            Backend::Postgres => Some(pg_database::TestDatabase::create("granary_test").await),
            Backend::Sqlite => None,
        };
        if let Some(db) = &database {
            config.database_url = Some(db.url.clone());
        }
        tweak(&mut config);
        let app = Arc::new(App::open(config).await.expect("app opens"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // The server's own `serve`, with its connection limits (header-read and idle timeouts).
        let served = app.clone();
        tokio::spawn(async move {
            granary_server::serve(served, listener, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Self {
            url,
            client: Client::new(),
            app,
            dir,
            shutdown: Some(tx),
            database,
            admin: Default::default(),
        }
    }

    /// Creates a user and returns a write token.
    pub async fn user(&self, name: &str) -> String {
        let now = granary_core::time::now_ms();
        let user = granary_server::db::users::ensure(&self.app.db, name, false, now)
            .await
            .unwrap();
        granary_server::db::users::create_token(&self.app.db, &user.id, "test", "admin", now)
            .await
            .unwrap()
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.url)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.api(path)).send().await.unwrap()
    }

    pub async fn post_json(&self, token: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(self.api(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A token of a server administrator (`granary-admin`, created on first use).
    pub async fn admin_token(&self) -> String {
        let db = &self.app.db;
        let token = self.admin.get_or_init(|| async {
            let now = granary_core::time::now_ms();
            let user = granary_server::db::users::ensure(db, "granary-admin", true, now)
                .await
                .unwrap();
            granary_server::db::users::create_token(db, &user.id, "test-admin", "admin", now)
                .await
                .unwrap()
        });
        token.await.clone()
    }

    /// The transfer counters (`GET /api/v1/stats`, read with the administrator's token).
    pub async fn stats(&self) -> Value {
        let res = self
            .client
            .get(self.api("/stats"))
            .bearer_auth(self.admin_token().await)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    /// Starts (or finds) the upload of `bytes`.
    pub async fn start_upload(&self, token: &str, bytes: &[u8]) -> UploadStatus {
        let res = self
            .post_json(
                token,
                "/uploads",
                &json!({"sha256": Sha256::of(bytes), "size": bytes.len()}),
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{}",
            res.text().await.unwrap()
        );
        res.json().await.unwrap()
    }

    pub async fn put_part(
        &self,
        token: &str,
        status: &UploadStatus,
        bytes: &[u8],
        n: u64,
    ) -> Response {
        let (a, b) = status.part_range(n);
        self.client
            .put(self.api(&format!(
                "/uploads/{}/parts/{n}",
                status.id.as_ref().unwrap()
            )))
            .bearer_auth(token)
            .body(bytes[a as usize..b as usize].to_vec())
            .send()
            .await
            .unwrap()
    }

    pub async fn complete(&self, token: &str, status: &UploadStatus) -> Response {
        self.client
            .post(self.api(&format!(
                "/uploads/{}/complete",
                status.id.as_ref().unwrap()
            )))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Uploads a whole blob unless the server has it.
    pub async fn upload(&self, token: &str, bytes: &[u8]) {
        let status = self.start_upload(token, bytes).await;
        if status.stored {
            return;
        }
        for n in status.missing_parts() {
            let res = self.put_part(token, &status, bytes, n).await;
            assert_eq!(
                res.status(),
                StatusCode::OK,
                "{}",
                res.text().await.unwrap()
            );
        }
        let res = self.complete(token, &status).await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{}",
            res.text().await.unwrap()
        );
    }

    /// Uploads every file and commits them; returns the raw response.
    pub async fn push(
        &self,
        token: &str,
        model: &str,
        files: &[(&str, Vec<u8>)],
        parent: Option<&str>,
        extra: Value,
    ) -> Response {
        for (_, bytes) in files {
            self.upload(token, bytes).await;
        }
        let mut body = json!({
            "parent": parent,
            "message": "test push",
            "files": files.iter().map(|(p, b)| commit_file(p, b)).collect::<Vec<_>>(),
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.post_json(token, &format!("/models/{model}/commits"), &body)
            .await
    }

    /// `push`, asserting success; returns the revision id.
    pub async fn push_ok(
        &self,
        token: &str,
        model: &str,
        files: &[(&str, Vec<u8>)],
        parent: Option<&str>,
    ) -> String {
        let res = self.push(token, model, files, parent, json!({})).await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "{}",
            res.text().await.unwrap()
        );
        let v: Value = res.json().await.unwrap();
        v["id"].as_str().unwrap().to_string()
    }

    /// `PATCH /api/v1/models/{model}/settings` with `body`.
    pub async fn settings(&self, token: &str, model: &str, body: &Value) -> Response {
        self.client
            .patch(self.api(&format!("/models/{model}/settings")))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A Hub NDJSON commit of `lines` (the header first) to `main`.
    pub async fn hub_commit(&self, token: &str, model: &str, lines: &[Value]) -> Response {
        let body: String = lines.iter().map(|l| l.to_string() + "\n").collect();
        self.client
            .post(format!("{}/api/models/{model}/commit/main", self.url))
            .bearer_auth(token)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// A Git LFS upload batch for one object of `size` bytes with digest `oid`; answers the
    /// batch's first object.
    pub async fn lfs_batch_one(
        &self,
        token: &str,
        model: &str,
        oid: &Sha256,
        size: usize,
    ) -> Value {
        let batch = json!({"operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
            "objects": [{"oid": oid.hex(), "size": size}]});
        let res = self
            .client
            .post(format!("{}/{model}.git/info/lfs/objects/batch", self.url))
            .bearer_auth(token)
            .json(&batch)
            .send()
            .await
            .unwrap();
        let v: Value = res.json().await.unwrap();
        v["objects"][0].clone()
    }

    /// Runs `fsck --deep` on the registry's data; panics with the report unless clean.
    pub async fn assert_fsck_clean(&self) {
        let opts = granary_server::maintenance::fsck::FsckOptions {
            repair: false,
            deep: true,
            grace_ms: 0,
        };
        let report = granary_server::maintenance::fsck::check(&self.app, opts)
            .await
            .unwrap();
        assert!(report.is_clean(), "fsck --deep: {:?}", report.problems);
    }

    pub async fn download(&self, model: &str, rev: &str, path: &str) -> Response {
        self.get(&format!("/models/{model}/files/{rev}/{path}"))
            .await
    }

    /// Every object key in the store, sorted.
    pub async fn object_keys(&self) -> Vec<String> {
        use futures::TryStreamExt;
        let mut keys: Vec<String> = self
            .app
            .storage
            .inner()
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        keys.sort();
        keys
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn commit_file(path: &str, bytes: &[u8]) -> CommitFile {
    CommitFile {
        path: RepoPath::parse(path).unwrap(),
        size: bytes.len() as u64,
        sha256: Sha256::of(bytes),
    }
}

/// Deterministic pseudo-random f32 values in [-1, 1).
pub fn f32_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut out = Vec::with_capacity(n * 4);
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0;
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// A safetensors shard of about `mib` MiB.
pub fn shard(mib: usize, seed: u64) -> Vec<u8> {
    let n = mib * 1024 * 1024 / 4 / 2;
    granary_core::safetensors_header::build(&[
        (
            &format!("layer{seed}.weight"),
            "F32",
            vec![(n / 256) as u64, 256],
            f32_bytes(n, seed),
        ),
        (
            &format!("layer{seed}.bias"),
            "F32",
            vec![n as u64],
            f32_bytes(n, seed + 100),
        ),
    ])
}

pub const README: &str = "---\nlicense: apache-2.0\ntags:\n  - test\npipeline_tag: text-generation\n---\n# Tiny\n\nA generated test model.\n";

/// A generated model: 3 safetensors shards of ~2 MiB, config.json and a README with a license.
pub fn model_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("model-00001-of-00003.safetensors", shard(2, 1)),
        ("model-00002-of-00003.safetensors", shard(2, 2)),
        ("model-00003-of-00003.safetensors", shard(2, 3)),
        (
            "config.json",
            br#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 256}"#.to_vec(),
        ),
        ("README.md", README.as_bytes().to_vec()),
    ]
}

/// A zip archive of stored members, as Python's `zipfile` writes one (CRCs left
/// zero: the registry's checks read names and bytes, not CRCs).
pub fn stored_zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, data) in members {
        let (offset, size, name_len) = (
            out.len() as u32,
            (data.len() as u32).to_le_bytes(),
            (name.len() as u16).to_le_bytes(),
        );
        out.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x00\x00");
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&size);
        out.extend_from_slice(&size);
        out.extend_from_slice(&name_len);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x00\x00");
        central.extend_from_slice(&[0; 8]);
        central.extend_from_slice(&size);
        central.extend_from_slice(&size);
        central.extend_from_slice(&name_len);
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, count) = (out.len() as u32, (members.len() as u16).to_le_bytes());
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
    out.extend_from_slice(&count);
    out.extend_from_slice(&count);
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

/// Asserts a client error with the JSON error shape; returns the body.
pub async fn client_error(res: reqwest::Response, status: StatusCode) -> Value {
    let got = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert!(
        v["error"].as_str().is_some_and(|e| !e.is_empty()),
        "no error sentence: {text}"
    );
    assert!(v["code"].as_str().is_some(), "no code: {text}");
    v
}

/// Checks that `bundle` (a DSSE envelope in a Sigstore bundle) is signed by the
/// PEM public key and names it by its hint (docs/SIGNING.md).
#[allow(dead_code)]
pub fn verify_bundle(bundle: &granary_core::signing::Bundle, pem: &str) {
    use p256::ecdsa::signature::Verifier as _;
    use p256::pkcs8::DecodePublicKey as _;
    let key = p256::ecdsa::VerifyingKey::from_public_key_pem(pem).unwrap();
    let (signed, der) = bundle.signed_parts().unwrap();
    let sig = p256::ecdsa::Signature::from_der(&der).unwrap();
    key.verify(&signed, &sig).expect("the signature verifies");
    assert_eq!(
        bundle.verification_material.public_key.hint,
        granary_core::signing::key_id(pem)
    );
}

/// The registry's current public key (PEM), from `GET /api/v1/keys`.
#[allow(dead_code)]
pub async fn current_key(t: &TestApp) -> String {
    let v: Value = t.get("/keys").await.json().await.unwrap();
    assert_eq!(v["keys"][0]["status"], "current");
    v["keys"][0]["public_key_pem"].as_str().unwrap().to_string()
}
