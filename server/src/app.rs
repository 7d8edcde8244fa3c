//! The application state every handler sees: database, storage, config and
//! the transfer counters.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::Config;
use crate::db::Db;
use crate::storage::Storage;

/// Everything a request may need, built once at start.
#[derive(Debug)]
pub struct App {
    pub config: Config,
    pub db: Db,
    pub storage: Storage,
    pub stats: Stats,
    /// Woken when a job is queued, so an in-process worker starts at once.
    pub jobs_queued: tokio::sync::Notify,
    pub session_keys: crate::session::SessionKeys,
    pub rate_limiter: crate::ratelimit::RateLimiter,
    /// Digests of uploads whose parts arrived in order, so completing them need not re-read.
    pub upload_digests: crate::ingest::digests::RunningDigests,
    /// The key every revision is signed with (docs/SIGNING.md).
    pub signing_key: crate::signing::RegistryKey,
    /// This process's copy of the transparency log's tree.
    pub log: crate::transparency::TransparencyLog,
    /// Downloads counted and not yet written (`downloads/counter.rs`).
    pub downloads: crate::downloads::counter::DownloadCounter,
}

/// This process's transfer counters (`GET /api/v1/stats`).
#[derive(Debug, Default)]
pub struct Stats {
    pub blob_bytes_received: AtomicU64,
    pub file_bytes_sent: AtomicU64,
    pub file_requests: AtomicU64,
    /// File requests answered with a redirect to a presigned object-store URL.
    pub file_redirects: AtomicU64,
    /// Bytes of xorbs and shards received over Xet.
    pub xet_bytes_received: AtomicU64,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The axum state: a cheap handle on the [`App`].
#[derive(Clone, Debug)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl App {
    /// Opens the database (applying migrations) and the store that `config` names.
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        crate::data_dir::create_private_dir(&config.data_dir)?;
        for name in crate::data_dir::SECRET_FILES {
            crate::data_dir::restrict(&config.data_dir.join(name))?;
        }
        let db = Db::connect(&config.database_url()).await?;
        let storage = Storage::open(&config.storage_url(), &config.s3)?;
        let session_keys = crate::session::SessionKeys::load(
            config.accounts.session_secret.as_deref(),
            &config.data_dir,
        )?;
        let signing_key = crate::signing::RegistryKey::load(&config)?;
        Ok(Self {
            signing_key,
            log: Default::default(),
            config,
            db,
            storage,
            stats: Stats::default(),
            jobs_queued: tokio::sync::Notify::new(),
            session_keys,
            rate_limiter: Default::default(),
            upload_digests: Default::default(),
            downloads: Default::default(),
        })
    }
}
