//! `revisions` and `revision_files`: immutable snapshots of a model.

use std::sync::{Arc, Mutex};

use hashlink::LruCache;
use sqlx::FromRow;

use super::{Db, Flag, Tx, flag};

#[derive(Debug, Clone, FromRow)]
pub struct RevisionRow {
    pub id: String,
    pub parent_id: Option<String>,
    pub author: String,
    pub message: String,
    pub created_at: i64,
    pub license_id: String,
    pub license_name: Option<String>,
    #[sqlx(try_from = "Flag")]
    pub permissive: bool,
    pub total_size: i64,
    pub parameter_total: i64,
    pub file_count: i64,
    pub card: String,
    pub manifest: String,
}

const COLUMNS: &str = "id, parent_id, author, message, created_at, license_id, license_name, \
    permissive, total_size, parameter_total, file_count, card, manifest";

/// A revision's row and its files, as one insert.
pub struct NewRevision<'a> {
    pub model_id: &'a str,
    pub row: RevisionRow,
    /// `(path, size, sha256)` of each file.
    pub files: Vec<(String, u64, String)>,
}

/// Inserts the revision; false when an identical revision already existed.
pub async fn insert(tx: &mut Tx, rev: &NewRevision<'_>) -> sqlx::Result<bool> {
    let r = &rev.row;
    let inserted = sqlx::query(
        "INSERT INTO revisions (model_id, id, parent_id, author, message, created_at, license_id,
           license_name, permissive, total_size, parameter_total, file_count, card, manifest)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (model_id, id) DO NOTHING",
    )
    .bind(rev.model_id)
    .bind(&r.id)
    .bind(&r.parent_id)
    .bind(&r.author)
    .bind(&r.message)
    .bind(r.created_at)
    .bind(&r.license_id)
    .bind(&r.license_name)
    .bind(flag(r.permissive))
    .bind(r.total_size)
    .bind(r.parameter_total)
    .bind(r.file_count)
    .bind(&r.card)
    .bind(&r.manifest)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    for (path, size, sha256) in &rev.files {
        sqlx::query(
            "INSERT INTO revision_files (model_id, revision_id, path, size, sha256)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (model_id, revision_id, path) DO NOTHING",
        )
        .bind(rev.model_id)
        .bind(&r.id)
        .bind(path)
        .bind(*size as i64)
        .bind(sha256)
        .execute(&mut **tx)
        .await?;
    }
    Ok(true)
}

/// A revision of a model, from the cache when it was read before.
/// Inside `tx`: whether `model_id` has a revision `id`.
pub async fn exists_in(tx: &mut Tx, model_id: &str, id: &str) -> sqlx::Result<bool> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM revisions WHERE model_id = $1 AND id = $2")
            .bind(model_id)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.is_some())
}

pub async fn find(db: &Db, model_id: &str, id: &str) -> sqlx::Result<Option<Arc<RevisionRow>>> {
    let key = (model_id.to_string(), id.to_string());
    if let Some(row) = db.revisions.get(&key) {
        return Ok(Some(row));
    }
    let row: Option<RevisionRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM revisions WHERE model_id = $1 AND id = $2"
    ))
    .bind(model_id)
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|row| db.revisions.insert(key, row)))
}

/// The revision rows read most recently, up to [`RevisionCache::BUDGET`] bytes of
/// manifests and cards. A revision never changes once written, and a model's id is
/// never reused, so an entry can only go stale by being unreachable; it is then
/// evicted like any other.
#[derive(Debug, Default)]
pub struct RevisionCache(Mutex<CachedRevisions>);

/// The cached rows by `(model id, revision id)`, and the bytes they cost.
#[derive(Debug)]
struct CachedRevisions {
    lru: LruCache<(String, String), Arc<RevisionRow>>,
    used: usize,
}

impl Default for CachedRevisions {
    fn default() -> Self {
        Self {
            lru: LruCache::new_unbounded(),
            used: 0,
        }
    }
}

impl RevisionCache {
    /// Bytes of manifests and cards kept at most.
    const BUDGET: usize = 8 << 20;

    fn cost(row: &RevisionRow) -> usize {
        row.manifest.len() + row.card.len() + 256
    }

    fn get(&self, key: &(String, String)) -> Option<Arc<RevisionRow>> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .lru
            .get(key)
            .cloned()
    }

    fn insert(&self, key: (String, String), row: RevisionRow) -> Arc<RevisionRow> {
        let row = Arc::new(row);
        let cost = Self::cost(&row);
        if cost > Self::BUDGET / 4 {
            return row;
        }
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let CachedRevisions { lru, used } = &mut *guard;
        if let Some(old) = lru.insert(key, row.clone()) {
            *used -= Self::cost(&old);
        }
        *used += cost;
        while *used > Self::BUDGET {
            match lru.remove_lru() {
                Some((_, old)) => *used -= Self::cost(&old),
                None => break,
            }
        }
        row
    }
}

/// Up to two revision ids starting with `prefix` (two means ambiguous).
pub async fn ids_with_prefix(db: &Db, model_id: &str, prefix: &str) -> sqlx::Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM revisions WHERE model_id = $1 AND id LIKE $2 ORDER BY id LIMIT 2",
    )
    .bind(model_id)
    .bind(format!("{}%", super::like_escape(prefix)))
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// A file of a revision: `(size, sha256)`.
pub async fn find_file(
    db: &Db,
    model_id: &str,
    revision_id: &str,
    path: &str,
) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query_as(
        "SELECT size, sha256 FROM revision_files WHERE model_id = $1 AND revision_id = $2 AND path = $3",
    )
    .bind(model_id)
    .bind(revision_id)
    .bind(path)
    .fetch_optional(&db.pool)
    .await
}

/// The paths of a revision's files, in byte order (the same on every database).
pub async fn file_paths(db: &Db, model_id: &str, revision_id: &str) -> sqlx::Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT path FROM revision_files WHERE model_id = $1 AND revision_id = $2")
            .bind(model_id)
            .bind(revision_id)
            .fetch_all(&db.pool)
            .await?;
    let mut paths: Vec<String> = rows.into_iter().map(|(p,)| p).collect();
    paths.sort();
    Ok(paths)
}
