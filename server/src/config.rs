//! Server configuration: flags and `GRANARY_*` environment variables, with
//! the embedded default (SQLite + local files under `./granary-data`).

use std::net::SocketAddr;
use std::path::PathBuf;

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
}

/// What `serve` adds to [`Config`].
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "GRANARY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
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
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!("sqlite://{}?mode=rwc", self.data_dir.join("granary.db").display())
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
