//! Server configuration: flags and `GRANARY_*` environment variables, with
//! the embedded default (SQLite + local files under `./granary-data`).

use std::net::SocketAddr;
use std::path::PathBuf;

mod limits;

pub use limits::{LimitsConfig, UploadLimits};

/// Where the registry keeps its state and how it behaves.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Directory for the embedded database and object store.
    #[arg(long, env = "GRANARY_DATA_DIR", default_value = "./granary-data")]
    pub data_dir: PathBuf,

    /// `sqlite://PATH` or `postgres://...`; default `<data-dir>/granary.db`.
    #[arg(long, env = "GRANARY_DATABASE_URL")]
    pub database_url: Option<String>,

    /// `file:///PATH`, `memory://` or `s3://bucket/prefix`; default `<data-dir>/objects`.
    #[arg(long, env = "GRANARY_STORAGE_URL")]
    pub storage_url: Option<String>,

    /// Size of the parts a blob is uploaded and stored in, in bytes.
    #[arg(long, env = "GRANARY_UPLOAD_PART_SIZE", default_value_t = 64 * 1024 * 1024)]
    pub upload_part_size: u64,

    /// The largest file accepted, in bytes.
    #[arg(long, env = "GRANARY_MAX_FILE_SIZE", default_value_t = 512 * 1024 * 1024 * 1024)]
    pub max_file_size: u64,

    /// The most files one revision may hold.
    #[arg(long, env = "GRANARY_MAX_FILES", default_value_t = 10_000)]
    pub max_files: usize,

    /// On the Hub surface, files up to this size are `regular` (sent inline in commits), larger
    /// ones `lfs` (docs/HF.md).
    #[arg(long, env = "GRANARY_HF_INLINE_MAX", default_value_t = 50 * 1024 * 1024)]
    pub hf_inline_max: u64,

    /// How long a Xet CAS token (`xet-read-token`, `xet-write-token`) is valid, in seconds; the
    /// clients ask for a new one a minute before it expires.
    #[arg(long, env = "GRANARY_XET_TOKEN_SECS", default_value_t = 3600)]
    pub xet_token_secs: u64,

    #[command(flatten)]
    pub verification: VerificationConfig,

    #[command(flatten)]
    pub web: WebConfig,

    #[command(flatten)]
    pub accounts: AccountsConfig,

    #[command(flatten)]
    pub limits: LimitsConfig,

    #[command(flatten)]
    pub uploads: UploadLimits,

    #[command(flatten)]
    pub s3: S3Config,

    #[command(flatten)]
    pub webhooks: WebhooksConfig,

    #[command(flatten)]
    pub signing: SigningConfig,
}

/// The key that signs every revision (docs/SIGNING.md).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SigningConfig {
    /// An ECDSA P-256 private key (PEM, PKCS#8 or SEC1) to sign revisions with; every replica
    /// of a scaled-out registry must sign alike. Default: derived from the session secret when
    /// one is set, else `<data-dir>/signing-key.pem`, created at first start.
    #[arg(long = "signing-key", env = "GRANARY_SIGNING_KEY")]
    pub key: Option<PathBuf>,

    /// Make the given key the registry's current key when another one is current (rotation):
    /// the old one is kept as retired, and its signatures stay verifiable. Without this, a
    /// server whose key differs from the registry's refuses to start.
    #[arg(long = "rotate-signing-key", env = "GRANARY_ROTATE_SIGNING_KEY")]
    pub rotate: bool,
}

/// How webhook deliveries are checked, sent and retried (docs/SECURITY.md, docs/API.md).
#[derive(Debug, Clone, clap::Args)]
pub struct WebhooksConfig {
    /// Let webhooks reach loopback, private, link-local and other internal addresses
    /// (refused by default: a webhook must not be a way into the registry's network).
    #[arg(
        long = "webhooks-allow-private",
        env = "GRANARY_WEBHOOKS_ALLOW_PRIVATE"
    )]
    pub allow_private: bool,

    /// The wait before the first retry of a failed delivery, in milliseconds; doubled per failure.
    #[arg(
        long = "webhook-retry-base-ms",
        env = "GRANARY_WEBHOOK_RETRY_BASE_MS",
        default_value_t = 30_000
    )]
    pub retry_base_ms: u64,

    /// How many attempts a delivery gets before it is marked `failed`.
    #[arg(
        long = "webhook-max-attempts",
        env = "GRANARY_WEBHOOK_MAX_ATTEMPTS",
        default_value_t = 8
    )]
    pub max_attempts: i64,

    /// The longest one delivery may take, in seconds.
    #[arg(
        long = "webhook-timeout-secs",
        env = "GRANARY_WEBHOOK_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub timeout_secs: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            retry_base_ms: 30_000,
            max_attempts: 8,
            timeout_secs: 10,
        }
    }
}

/// Who may sign up, how sessions are signed, which licenses may be published.
#[derive(Debug, Clone, clap::Args)]
pub struct AccountsConfig {
    /// `open` (anyone may sign up), `invite` (with an invite code) or `closed`.
    #[arg(long, env = "GRANARY_SIGNUP", default_value = "closed")]
    pub signup: String,

    /// Secret that signs web sessions; default: generated once and kept in `<data-dir>/session.key`.
    /// Every replica of a scaled-out registry needs the same one.
    #[arg(long, env = "GRANARY_SESSION_SECRET", hide_env_values = true)]
    pub session_secret: Option<String>,

    /// How long a web session lasts, in minutes.
    #[arg(long, env = "GRANARY_SESSION_MINUTES", default_value_t = 60)]
    pub session_minutes: i64,

    /// Which licenses may be published: `any`, `permissive`, `osi-permissive`, or a comma-separated
    /// allow-list of SPDX ids (`Apache-2.0,MIT`).
    #[arg(long, env = "GRANARY_LICENSE_POLICY", default_value = "any")]
    pub license_policy: String,

    /// Sign-in and token requests allowed per minute, per IP address and per account.
    #[arg(long, env = "GRANARY_AUTH_RATE_PER_MINUTE", default_value_t = 20)]
    pub auth_rate_per_minute: u32,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            signup: "closed".into(),
            session_secret: None,
            session_minutes: 60,
            license_policy: "any".into(),
            auth_rate_per_minute: 20,
        }
    }
}

/// Where the web pages' templates and static files come from, and how the pages name this server.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WebConfig {
    /// Read the web pages' tera templates from this directory instead of the copies built into
    /// the binary (for working on them without rebuilding).
    #[arg(long, env = "GRANARY_TEMPLATES_DIR")]
    pub templates_dir: Option<PathBuf>,

    /// Read the web pages' CSS and other static files from this directory instead of the copies
    /// built into the binary.
    #[arg(long, env = "GRANARY_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,

    /// This server's public URL, shown in pull commands; default: taken from each request's `Host`.
    #[arg(long, env = "GRANARY_PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// How this process verifies revisions (when it runs a worker).
#[derive(Debug, Clone, clap::Args)]
pub struct VerificationConfig {
    /// The verifier program; default `granary-verify` beside this executable.
    #[arg(long, env = "GRANARY_VERIFIER")]
    pub verifier: Option<PathBuf>,

    /// Revisions whose tensors need more bytes than this are refused, not loaded.
    #[arg(long, env = "GRANARY_VERIFY_MEMORY_BUDGET", default_value_t = 8 * 1024 * 1024 * 1024)]
    pub verify_memory_budget: u64,

    /// The longest one verification may take, in seconds.
    #[arg(long, env = "GRANARY_VERIFY_TIMEOUT_SECS", default_value_t = 900)]
    pub verify_timeout_secs: u64,

    /// How long a claimed job stays with its worker without a heartbeat, in seconds.
    #[arg(long, env = "GRANARY_JOB_LEASE_SECS", default_value_t = 60)]
    pub job_lease_secs: u64,

    /// How many times an infrastructure error is retried before the job ends as `error`.
    #[arg(long, env = "GRANARY_JOB_MAX_ATTEMPTS", default_value_t = 5)]
    pub job_max_attempts: i64,
}

impl Default for VerificationConfig {
    fn default() -> Self {
        Self {
            verifier: None,
            verify_memory_budget: 8 * 1024 * 1024 * 1024,
            verify_timeout_secs: 900,
            job_lease_secs: 60,
            job_max_attempts: 5,
        }
    }
}

impl VerificationConfig {
    /// The verifier program to run.
    pub fn verifier_path(&self) -> PathBuf {
        self.verifier.clone().unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(|d| d.join("granary-verify")))
                .unwrap_or_else(|| PathBuf::from("granary-verify"))
        })
    }
}

/// What `serve` adds to [`Config`].
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "GRANARY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Leave verification to separate `granary-server worker` processes.
    #[arg(long, env = "GRANARY_NO_WORKER")]
    pub no_worker: bool,

    /// Collect garbage (expired uploads, unreferenced blobs) this often, in minutes; 0: never.
    #[arg(long, env = "GRANARY_GC_INTERVAL_MINUTES", default_value_t = 60)]
    pub gc_interval_minutes: u64,

    /// How old an upload or unreferenced blob must be before the periodic collection removes it.
    #[arg(long, env = "GRANARY_GC_GRACE_MINUTES", default_value_t = 24 * 60)]
    pub gc_grace_minutes: u64,
}

impl Config {
    /// A configuration for tests: everything under `data_dir`.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database_url: None,
            storage_url: None,
            upload_part_size: 64 * 1024 * 1024,
            max_file_size: 512 * 1024 * 1024 * 1024,
            max_files: 10_000,
            hf_inline_max: 50 * 1024 * 1024,
            xet_token_secs: 3600,
            verification: VerificationConfig::default(),
            web: WebConfig::default(),
            accounts: AccountsConfig::default(),
            limits: LimitsConfig::default(),
            uploads: UploadLimits::default(),
            s3: S3Config::default(),
            webhooks: WebhooksConfig::default(),
            signing: SigningConfig::default(),
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("granary.db").display()
            )
        })
    }

    pub fn storage_url(&self) -> String {
        self.storage_url.clone().unwrap_or_else(|| {
            let dir = std::path::absolute(self.data_dir.join("objects"))
                .unwrap_or_else(|_| self.data_dir.join("objects"));
            format!("file://{}", dir.display())
        })
    }
}

/// The S3 backend (`s3://bucket/prefix` storage URLs) and presigned downloads.
/// Anything not given here comes from the standard `AWS_*` variables
/// (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_ALLOW_HTTP`, ...), which object_store reads itself.
#[derive(Debug, Clone, clap::Args)]
pub struct S3Config {
    /// The S3 endpoint, for MinIO and other S3-compatible stores (`http://minio:9000`).
    #[arg(long, env = "GRANARY_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// The bucket's region.
    #[arg(long, env = "GRANARY_S3_REGION")]
    pub s3_region: Option<String>,

    /// Access key id.
    #[arg(long, env = "GRANARY_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,

    /// Secret access key.
    #[arg(long, env = "GRANARY_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,

    /// Address the bucket as `https://BUCKET.endpoint/` instead of `https://endpoint/BUCKET/` (path style,
    /// the default).
    #[arg(long, env = "GRANARY_S3_VIRTUAL_HOSTED")]
    pub s3_virtual_hosted: bool,

    /// Allow a plain-HTTP endpoint (implied when `--s3-endpoint` starts with `http://`).
    #[arg(long, env = "GRANARY_S3_ALLOW_HTTP")]
    pub s3_allow_http: bool,

    /// The endpoint written into presigned URLs, when clients reach the store by another address than
    /// the servers do (`http://localhost:9000` outside a compose network); default: `--s3-endpoint`.
    #[arg(long, env = "GRANARY_S3_PRESIGN_ENDPOINT")]
    pub s3_presign_endpoint: Option<String>,

    /// Answer file downloads with a redirect to a presigned object-store URL, so the bytes bypass
    /// the servers (S3 only; blobs stored in one part; never for `hf-hub` clients).
    #[arg(long, env = "GRANARY_PRESIGN_DOWNLOADS")]
    pub presign_downloads: bool,

    /// How long a presigned download URL stays valid, in seconds.
    #[arg(long, env = "GRANARY_PRESIGN_TTL_SECS", default_value_t = 300)]
    pub presign_ttl_secs: u64,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_virtual_hosted: false,
            s3_allow_http: false,
            s3_presign_endpoint: None,
            presign_downloads: false,
            presign_ttl_secs: 300,
        }
    }
}
