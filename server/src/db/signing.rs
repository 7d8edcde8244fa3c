//! `signing_keys` and `revision_signatures`: the registry's keys and the
//! signature of every revision (`signing.rs`).

use super::{Db, Tx};

/// A key the registry signs or signed with.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyRow {
    pub id: String,
    pub public_pem: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// Every key, the current one first, then the retired ones, newest first.
pub async fn keys(db: &Db) -> sqlx::Result<Vec<KeyRow>> {
    sqlx::query_as(
        "SELECT id, public_pem, created_at, retired_at FROM signing_keys
         ORDER BY CASE WHEN retired_at IS NULL THEN 0 ELSE 1 END, created_at DESC, id",
    )
    .fetch_all(&db.pool)
    .await
}

/// Makes `id` the current key: recorded if new, and any other current key retired.
pub async fn make_current(db: &Db, id: &str, public_pem: &str, now: i64) -> sqlx::Result<()> {
    let (mut tx, _guard) = db.begin_write().await?;
    sqlx::query("UPDATE signing_keys SET retired_at = $2 WHERE retired_at IS NULL AND id <> $1")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO signing_keys (id, public_pem, created_at, retired_at) VALUES ($1, $2, $3, NULL)
         ON CONFLICT (id) DO UPDATE SET retired_at = NULL",
    )
    .bind(id)
    .bind(public_pem)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Records a revision's signature inside the commit's transaction.
pub async fn insert_in(
    tx: &mut Tx,
    model_id: &str,
    revision_id: &str,
    key_id: &str,
    bundle: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO revision_signatures (model_id, revision_id, key_id, bundle, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (model_id, revision_id) DO NOTHING",
    )
    .bind(model_id)
    .bind(revision_id)
    .bind(key_id)
    .bind(bundle)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A revision's signature bundle (JSON), if it has one.
pub async fn bundle(db: &Db, model_id: &str, revision_id: &str) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT bundle FROM revision_signatures WHERE model_id = $1 AND revision_id = $2",
    )
    .bind(model_id)
    .bind(revision_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(b,)| b))
}

/// Up to `limit` revisions without a signature: `(model id, owner/name, revision id, manifest)`.
pub async fn unsigned(db: &Db, limit: i64) -> sqlx::Result<Vec<(String, String, String, String)>> {
    sqlx::query_as(
        "SELECT r.model_id, m.owner || '/' || m.name, r.id, r.manifest FROM revisions r
         JOIN models m ON m.id = r.model_id
         WHERE NOT EXISTS (SELECT 1 FROM revision_signatures s
                           WHERE s.model_id = r.model_id AND s.revision_id = r.id)
         ORDER BY r.created_at, r.id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

/// `owner/name` of the model `model_id`, as statements name it.
pub async fn model_name(db: &Db, model_id: &str) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT owner || '/' || name FROM models WHERE id = $1")
            .bind(model_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|(n,)| n))
}

/// The log's recorded size, its leaf count and its highest index (-1 when empty).
pub async fn log_shape(db: &Db) -> sqlx::Result<(i64, i64, i64)> {
    let (size,): (i64,) = sqlx::query_as("SELECT size FROM log_state WHERE id = 1")
        .fetch_one(&db.pool)
        .await?;
    let (count, max): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), CAST(COALESCE(MAX(idx), -1) AS BIGINT) FROM log_entries")
            .fetch_one(&db.pool)
            .await?;
    Ok((size, count, max))
}

/// Signatures (up to `limit`) with no log entry: `(owner/name, revision id)`.
pub async fn unlogged(db: &Db, limit: i64) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT m.owner || '/' || m.name, s.revision_id FROM revision_signatures s
         JOIN models m ON m.id = s.model_id
         WHERE NOT EXISTS (SELECT 1 FROM log_entries l
                           WHERE l.model_id = s.model_id AND l.revision_id = s.revision_id)
         ORDER BY s.created_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}
