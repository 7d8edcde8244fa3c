//! The limits on requests, connections and uploads (flags and `GRANARY_*`
//! variables): defaults written once, here.

use std::time::Duration;

/// The configurable limits (flags and `GRANARY_*` variables); 0 turns a limit off
/// where noted.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitsConfig {
    /// The longest a request with a small body may take to be answered, in seconds (0: no limit).
    #[arg(long, env = "GRANARY_REQUEST_TIMEOUT_SECS", default_value_t = 120)]
    pub request_timeout_secs: u64,

    /// How long a connection may send no header bytes, or a request body no bytes, in seconds
    /// (0: no limit).
    #[arg(long, env = "GRANARY_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,

    /// The least bytes per second a request body must average over each window of the idle timeout
    /// spent waiting for it; a slower body is answered `408` (0: no limit).
    #[arg(long, env = "GRANARY_MIN_BODY_RATE", default_value_t = 1024)]
    pub min_body_rate: u64,

    /// The most connections open at once; more are closed at once (0: no limit).
    #[arg(long, env = "GRANARY_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// The most connections open at once from one client address (trusted proxies excepted); more are
    /// closed at once (0: no limit).
    #[arg(long, env = "GRANARY_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub max_connections_per_ip: usize,

    /// Requests allowed per API token per minute (0: no limit).
    #[arg(long, env = "GRANARY_TOKEN_RATE_PER_MINUTE", default_value_t = 6000)]
    pub token_rate_per_minute: u32,

    /// Requests without a token allowed per client address per minute (0: no limit).
    #[arg(
        long,
        env = "GRANARY_ANONYMOUS_RATE_PER_MINUTE",
        default_value_t = 3000
    )]
    pub anonymous_rate_per_minute: u32,

    /// Bytes of distinct blobs the models of one owner may reference (0: no quota).
    #[arg(long, env = "GRANARY_OWNER_QUOTA_BYTES", default_value_t = 0)]
    pub owner_quota_bytes: u64,

    /// The largest JSON request body accepted, in bytes.
    #[arg(long, env = "GRANARY_MAX_JSON_BODY", default_value_t = 32 * 1024 * 1024)]
    pub max_json_body: usize,

    /// The largest safetensors JSON header accepted, in bytes (the format's own cap is 100 MB).
    #[arg(long, env = "GRANARY_MAX_SAFETENSORS_HEADER", default_value_t = 16 * 1024 * 1024)]
    pub max_safetensors_header: u64,

    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed: a comma-separated
    /// list of IP addresses and CIDR networks (default: none; the client is the socket peer).
    #[arg(long, env = "GRANARY_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: crate::client::proxies::TrustedProxies,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            request_timeout_secs: 120,
            idle_timeout_secs: 60,
            min_body_rate: 1024,
            max_connections: 4096,
            max_connections_per_ip: 256,
            token_rate_per_minute: 6000,
            anonymous_rate_per_minute: 3000,
            owner_quota_bytes: 0,
            max_json_body: 32 * 1024 * 1024,
            max_safetensors_header: 16 * 1024 * 1024,
            trusted_proxies: Default::default(),
        }
    }
}

impl LimitsConfig {
    fn secs(n: u64) -> Option<Duration> {
        (n > 0).then(|| Duration::from_secs(n))
    }

    pub fn request_timeout(&self) -> Option<Duration> {
        Self::secs(self.request_timeout_secs)
    }

    pub fn idle_timeout(&self) -> Option<Duration> {
        Self::secs(self.idle_timeout_secs)
    }
}

/// Bounds on uploads in progress, per user (flags and `GRANARY_*` variables). The
/// storage quota itself is `--owner-quota-bytes` (`LimitsConfig`).
#[derive(Debug, Clone, clap::Args)]
pub struct UploadLimits {
    /// Upload sessions one user may have open at once.
    #[arg(long, env = "GRANARY_MAX_OPEN_UPLOADS", default_value_t = 256)]
    pub max_open_uploads: u64,

    /// Bytes one user's open upload sessions may declare in all.
    #[arg(long, env = "GRANARY_MAX_STAGED_BYTES", default_value_t = 1024 * 1024 * 1024 * 1024)]
    pub max_staged_bytes: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            max_open_uploads: 256,
            max_staged_bytes: 1024 * 1024 * 1024 * 1024,
        }
    }
}
