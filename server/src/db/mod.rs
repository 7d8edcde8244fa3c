//! All SQL lives under this module: one file per table, each returning plain
//! row structs that routes convert to wire types. The same statements run on
//! SQLite and PostgreSQL through sqlx's `Any` driver (`$1` placeholders,
//! TEXT ids, BIGINT times and flags). Flags are 0/1 in the schema and `bool` in every
//! row struct: [`Flag`] decodes them, [`flag`] encodes them.

pub mod blob_uploaders;
pub mod blobs;
pub mod downloads;
pub mod events;
pub mod gates;
pub mod git_oids;
pub mod invites;
pub mod jobs;
pub mod log;
pub mod maintenance;
pub mod models;
pub mod orgs;
pub mod quota;
pub mod refs;
pub mod revisions;
pub mod sessions;
pub mod signing;
pub mod uploads;
pub mod users;
pub mod web;
pub mod webhooks;
pub mod xet;

use std::sync::Arc;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use tokio::sync::{Mutex, MutexGuard};

/// Which database engine a URL named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database: a pool plus what differs between engines.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// SQLite allows one writer; taking this before a write transaction turns
    /// "database is locked" races into a short wait. Unused on PostgreSQL.
    write_lock: Arc<Mutex<()>>,
    /// Revision rows already read (they never change).
    revisions: Arc<revisions::RevisionCache>,
}

/// A transaction on the pool.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

impl Db {
    /// `FOR UPDATE` (or `FOR SHARE`) on PostgreSQL; nothing on SQLite, whose
    /// writers are serialised anyway.
    pub fn row_lock(&self, mode: &str) -> String {
        match self.backend {
            Backend::Postgres => format!(" FOR {mode}"),
            Backend::Sqlite => String::new(),
        }
    }

    /// Connects and applies the migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("unsupported database URL `{url}`: use sqlite://PATH or postgres://...");
        };
        if backend == Backend::Sqlite
            && let Some(path) = url
                .strip_prefix("sqlite://")
                .and_then(|p| p.split('?').next())
            && !path.is_empty()
            && !path.starts_with(":memory:")
        {
            let path = std::path::Path::new(path);
            if let Some(dir) = path.parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)?;
            }
            make_private(path, url.contains("mode=rwc"))?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            // No round trip to check a pooled connection before each use: a broken one
            // fails its query, which reports the error, and the pool drops it.
            .test_before_acquire(false)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open database `{}`: {e}", redact(url)))?;
        sqlx::migrate!("../migrations").run(&pool).await?;
        Ok(Self {
            pool,
            backend,
            write_lock: Arc::new(Mutex::new(())),
            revisions: Arc::default(),
        })
    }

    /// Begins a write transaction, serialised on SQLite.
    pub async fn begin_write(&self) -> sqlx::Result<(Tx, Option<MutexGuard<'_, ()>>)> {
        let guard = match self.backend {
            Backend::Sqlite => Some(self.write_lock.lock().await),
            Backend::Postgres => None,
        };
        Ok((self.pool.begin().await?, guard))
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> sqlx::Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Takes the SQLite write lock for a single statement outside a transaction.
    pub async fn write_guard(&self) -> Option<MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_lock.lock().await),
            Backend::Postgres => None,
        }
    }
}

/// Creates the SQLite file `0600` (when the URL lets SQLite create it) before SQLite opens
/// it, which gives its `-wal` and `-shm` files the same mode; files an older version made
/// readable by others are tightened.
fn make_private(path: &std::path::Path, create: bool) -> std::io::Result<()> {
    if create {
        match crate::data_dir::create_secret_file(path, b"") {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        crate::data_dir::restrict(std::path::Path::new(&file))?;
    }
    Ok(())
}

/// A flag column (BIGINT 0/1 on both engines) as read. A row struct's `bool` field takes
/// `#[sqlx(try_from = "Flag")]`, so no 0/1 integer leaves this module.
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub(crate) struct Flag(i64);

impl From<Flag> for bool {
    fn from(f: Flag) -> bool {
        f.0 != 0
    }
}

/// A flag as written: 1 for true, 0 for false.
pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// `$first, $first+1, …` for `n` bound parameters, the body of an `IN (…)` list.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A database URL with its password hidden, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// A new random id for a row.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        // No stored text holds a NUL, and SQLite would end the pattern at it (matching
        // everything) while PostgreSQL refuses it: a character nothing holds matches nothing.
        out.push(if c == '\0' { '\u{FFFF}' } else { c });
    }
    out
}
