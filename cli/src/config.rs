//! Where things live on this machine (the credentials file and the blob cache)
//! and how the endpoint and token of a command are chosen.
//!
//! `credentials.json` (mode 0600, in `GRANARY_CONFIG_DIR` or the user's config
//! dir + `/granary`) holds the endpoint of the last `granary login` and one
//! token per endpoint, so a token is only ever sent to the server it came from.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::cli::{DEFAULT_ENDPOINT, Global};

/// The directory of `credentials.json`.
pub fn config_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("GRANARY_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::config_dir()
        .map(|d| d.join("granary"))
        .context("cannot tell where your config directory is: set GRANARY_CONFIG_DIR")
}

/// The root of the content-addressed blob cache.
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("GRANARY_CACHE").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::cache_dir()
        .map(|d| d.join("granary"))
        .context("cannot tell where your cache directory is: set GRANARY_CACHE")
}

/// The stored logins.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// The endpoint of the last login; used when no `--endpoint` is given.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Token per endpoint.
    #[serde(default)]
    pub tokens: BTreeMap<String, String>,
}

impl Credentials {
    fn path(dir: &Path) -> PathBuf {
        dir.join("credentials.json")
    }

    /// Reads the file; a missing file is an empty set of logins.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = Self::path(dir);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is not valid JSON: fix or delete it, then `granary login`",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes the file with mode 0600 (atomically: a temp file renamed into place).
    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        let path = Self::path(dir);
        write_private(dir, &path, &serde_json::to_vec_pretty(self)?)?;
        Ok(path)
    }
}

/// Writes `bytes` to `path` in `dir` with mode 0600, atomically (a temp file
/// renamed into place), creating `dir` (0700) if needed.
pub fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    {
        create_private_dir(dir)?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let tmp = dir.join(format!(".{name}.tmp"));
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut file = opts
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// Endpoints are compared and stored without a trailing `/`.
pub fn normalize_endpoint(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

/// The endpoint and token a command uses, and where the source of each was.
#[derive(Debug, Clone)]
pub struct Session {
    pub endpoint: String,
    pub token: Option<String>,
    /// Where the token came from, for error messages: `--token`, `GRANARY_TOKEN`
    /// or the login stored in `credentials.json`.
    pub token_source: Option<String>,
}

/// Precedence: `--endpoint`/`GRANARY_ENDPOINT`, the last login's, the default.
/// Token: `--token`/`GRANARY_TOKEN`, then the one stored for that endpoint.
pub fn resolve(global: &Global, creds: &Credentials) -> Session {
    let endpoint = global
        .endpoint
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(normalize_endpoint)
        .or_else(|| creds.endpoint.clone())
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
    let given = global.token.clone().filter(|t| !t.trim().is_empty());
    let (token, token_source) = match given {
        Some(t) => {
            let from_env = std::env::var("GRANARY_TOKEN").is_ok_and(|e| e == t);
            let source = if from_env { "GRANARY_TOKEN" } else { "--token" };
            (Some(t), Some(source.to_string()))
        }
        None => match creds.tokens.get(&endpoint) {
            Some(t) => (
                Some(t.clone()),
                Some(format!("the login stored for {endpoint} (`granary login`)")),
            ),
            None => (None, None),
        },
    };
    Session {
        endpoint,
        token,
        token_source,
    }
}

/// Refuses an endpoint that is not an http(s) URL of a host, naming where it came from.
pub fn check_endpoint(endpoint: &str, from_flag: bool) -> Result<(), crate::error::Failure> {
    let source = if from_flag {
        "--endpoint / GRANARY_ENDPOINT"
    } else {
        "the endpoint stored by `granary login`"
    };
    let why = match reqwest::Url::parse(endpoint) {
        Err(e) => Some(e.to_string()),
        Ok(u) if !matches!(u.scheme(), "http" | "https") => {
            Some(format!("the scheme `{}` is not http or https", u.scheme()))
        }
        Ok(u) if u.host_str().is_none_or(str::is_empty) => Some("it names no host".into()),
        Ok(u) if u.query().is_some() || u.fragment().is_some() => {
            Some("it has a query or fragment".into())
        }
        Ok(_) => None,
    };
    match why {
        None => Ok(()),
        Some(why) => Err(crate::error::Failure::new(
            crate::error::Kind::Invalid,
            format!(
                "{source} `{endpoint}` is not a registry URL ({why}): expected e.g. http://127.0.0.1:8080"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(endpoint: Option<&str>, token: Option<&str>) -> Global {
        Global {
            endpoint: endpoint.map(String::from),
            token: token.map(String::from),
            json: false,
            quiet: false,
        }
    }

    #[test]
    fn flags_win_then_stored_login_then_default() {
        let mut creds = Credentials::default();
        assert_eq!(
            resolve(&global(None, None), &creds).endpoint,
            DEFAULT_ENDPOINT
        );
        creds.endpoint = Some("http://reg:1".into());
        creds.tokens.insert("http://reg:1".into(), "stored".into());
        let s = resolve(&global(None, None), &creds);
        assert_eq!(
            (s.endpoint.as_str(), s.token.as_deref()),
            ("http://reg:1", Some("stored"))
        );
        let s = resolve(&global(Some("http://reg:1/"), Some("flag")), &creds);
        assert_eq!(s.token.as_deref(), Some("flag"));
        // A stored token is never sent to another endpoint.
        let s = resolve(&global(Some("http://other:2"), None), &creds);
        assert_eq!(s.token, None);
    }

    #[test]
    fn saved_credentials_are_private_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut creds = Credentials::default();
        creds.tokens.insert("http://x".into(), "t".into());
        let path = creds.save(&dir.path().join("sub")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let back = Credentials::load(&dir.path().join("sub")).unwrap();
        assert_eq!(back.tokens["http://x"], "t");
    }
}
