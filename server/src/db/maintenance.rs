//! The queries of garbage collection and `fsck`: expired upload sessions,
//! unreferenced blobs (deleted one at a time under a row lock, after a
//! fresh check that nothing references them), and the consistency scans.

use granary_core::Sha256;
use sqlx::FromRow;

use super::{Db, Tx};
use crate::storage::BlobLayout;

/// An upload session that has seen no part for a while.
#[derive(Debug, Clone, FromRow)]
pub struct StaleSession {
    pub id: String,
    pub sha256: String,
    pub size: i64,
}

/// Sessions not updated since `cutoff` (ms).
pub async fn stale_sessions(db: &Db, cutoff: i64) -> sqlx::Result<Vec<StaleSession>> {
    sqlx::query_as(
        "SELECT id, sha256, size FROM upload_sessions WHERE updated_at < $1 ORDER BY updated_at",
    )
    .bind(cutoff)
    .fetch_all(&db.pool)
    .await
}

/// Deletes a session (and its part rows) only if it is still stale; true when it was.
/// Parts first, then the session, the order `uploads::delete` takes its locks in, so
/// the two never deadlock; a session touched meanwhile rolls the deletion back.
pub async fn delete_stale_session(db: &Db, id: &str, cutoff: i64) -> sqlx::Result<bool> {
    let (mut tx, _guard) = db.begin_write().await?;
    sqlx::query(
        "DELETE FROM upload_parts WHERE upload_id = $1
           AND EXISTS (SELECT 1 FROM upload_sessions s WHERE s.id = $1 AND s.updated_at < $2)",
    )
    .bind(id)
    .bind(cutoff)
    .execute(&mut *tx)
    .await?;
    let deleted = sqlx::query("DELETE FROM upload_sessions WHERE id = $1 AND updated_at < $2")
        .bind(id)
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
    if deleted.rows_affected() == 0 {
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// Whether an upload session with this id exists.
pub async fn session_exists(db: &Db, id: &str) -> sqlx::Result<bool> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM upload_sessions WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.is_some())
}

use super::blobs::BlobRow;

/// Blobs created before `cutoff` (ms) that no revision file names: candidates
/// for collection, to be re-checked one by one by [`lock_unreferenced_blob`].
pub async fn unreferenced_blobs(db: &Db, cutoff: i64) -> sqlx::Result<Vec<BlobLayout>> {
    let rows: Vec<BlobRow> = sqlx::query_as(
        "SELECT b.sha256, b.size, b.part_size, b.part_count FROM blobs b
         WHERE b.created_at < $1
           AND NOT EXISTS (SELECT 1 FROM revision_files f WHERE f.sha256 = b.sha256)
         ORDER BY b.created_at",
    )
    .bind(cutoff)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().filter_map(BlobRow::layout).collect())
}

/// Inside `tx`: locks the blob's row and checks again, with a fresh view, that it is
/// older than `cutoff` and unreferenced; if so deletes its row (and its cached git
/// id) and answers its layout. The caller deletes the objects, then commits: until
/// then a commit naming the blob waits on the lock and, after, finds it gone; an
/// upload of the same bytes waits to insert the row, so it never places objects
/// that are about to be deleted.
pub async fn lock_unreferenced_blob(
    db: &Db,
    tx: &mut Tx,
    sha256: &Sha256,
    cutoff: i64,
) -> sqlx::Result<Option<BlobLayout>> {
    let row: Option<BlobRow> = sqlx::query_as(&format!(
        "SELECT sha256, size, part_size, part_count FROM blobs WHERE sha256 = $1 AND created_at < $2{}",
        db.row_lock("UPDATE")
    ))
    .bind(sha256.hex())
    .bind(cutoff)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(layout) = row.and_then(BlobRow::layout) else {
        return Ok(None);
    };
    // A new statement: on PostgreSQL (read committed) it sees every revision
    // committed before the lock above was granted.
    let referenced: Option<(String,)> =
        sqlx::query_as("SELECT revision_id FROM revision_files WHERE sha256 = $1 LIMIT 1")
            .bind(sha256.hex())
            .fetch_optional(&mut **tx)
            .await?;
    if referenced.is_some() {
        return Ok(None);
    }
    sqlx::query("DELETE FROM blobs WHERE sha256 = $1")
        .bind(sha256.hex())
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM hf_git_oids WHERE sha256 = $1")
        .bind(sha256.hex())
        .execute(&mut **tx)
        .await?;
    super::blob_uploaders::forget_blob(tx, sha256).await?;
    Ok(Some(layout))
}

/// Every blob row, for `fsck`.
pub async fn all_blobs(db: &Db) -> sqlx::Result<Vec<BlobLayout>> {
    let rows: Vec<BlobRow> =
        sqlx::query_as("SELECT sha256, size, part_size, part_count FROM blobs ORDER BY sha256")
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.into_iter().filter_map(BlobRow::layout).collect())
}

/// How many revision files name this blob.
pub async fn blob_references(db: &Db, sha256: &Sha256) -> sqlx::Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM revision_files WHERE sha256 = $1")
        .bind(sha256.hex())
        .fetch_one(&db.pool)
        .await?;
    Ok(n)
}

/// Deletes a blob row whatever references it (`fsck --repair` of a blob whose bytes
/// are gone, so that the next push uploads it again).
pub async fn forget_blob(db: &Db, sha256: &Sha256) -> sqlx::Result<()> {
    let (mut tx, _guard) = db.begin_write().await?;
    sqlx::query("DELETE FROM blobs WHERE sha256 = $1")
        .bind(sha256.hex())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM hf_git_oids WHERE sha256 = $1")
        .bind(sha256.hex())
        .execute(&mut *tx)
        .await?;
    super::blob_uploaders::forget_blob(&mut tx, sha256).await?;
    tx.commit().await
}

/// A revision file whose blob row is missing or has another size.
#[derive(Debug, Clone, FromRow)]
pub struct DanglingFile {
    pub owner: String,
    pub name: String,
    pub revision_id: String,
    pub path: String,
    pub sha256: String,
    pub size: i64,
    pub blob_size: Option<i64>,
}

pub async fn dangling_files(db: &Db) -> sqlx::Result<Vec<DanglingFile>> {
    sqlx::query_as(
        "SELECT m.owner, m.name, f.revision_id, f.path, f.sha256, f.size, b.size AS blob_size
         FROM revision_files f
         JOIN models m ON m.id = f.model_id
         LEFT JOIN blobs b ON b.sha256 = f.sha256
         WHERE b.sha256 IS NULL OR b.size <> f.size
         ORDER BY m.owner, m.name, f.revision_id, f.path",
    )
    .fetch_all(&db.pool)
    .await
}

/// A ref naming a revision the model does not have.
#[derive(Debug, Clone, FromRow)]
pub struct DanglingRef {
    pub owner: String,
    pub name: String,
    pub kind: String,
    pub ref_name: String,
    pub revision_id: String,
}

pub async fn dangling_refs(db: &Db) -> sqlx::Result<Vec<DanglingRef>> {
    sqlx::query_as(
        "SELECT m.owner, m.name, r.kind, r.name AS ref_name, r.revision_id
         FROM refs r
         JOIN models m ON m.id = r.model_id
         WHERE NOT EXISTS (SELECT 1 FROM revisions v WHERE v.model_id = r.model_id AND v.id = r.revision_id)
         ORDER BY m.owner, m.name, r.kind, r.name",
    )
    .fetch_all(&db.pool)
    .await
}

/// A revision's id and manifest bytes, with its model's name.
#[derive(Debug, Clone, FromRow)]
pub struct RevisionManifest {
    pub owner: String,
    pub name: String,
    pub id: String,
    pub manifest: String,
}

/// Revisions in pages of `limit`, after `(model_id, id)`.
pub async fn revision_manifests(
    db: &Db,
    after: Option<(&str, &str)>,
    limit: i64,
) -> sqlx::Result<Vec<(String, RevisionManifest)>> {
    #[derive(FromRow)]
    struct Row {
        model_id: String,
        owner: String,
        name: String,
        id: String,
        manifest: String,
    }
    let (model, id) = after.unwrap_or(("", ""));
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT v.model_id, m.owner, m.name, v.id, v.manifest
         FROM revisions v JOIN models m ON m.id = v.model_id
         WHERE v.model_id > $1 OR (v.model_id = $1 AND v.id > $2)
         ORDER BY v.model_id, v.id LIMIT $3",
    )
    .bind(model)
    .bind(id)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.model_id,
                RevisionManifest {
                    owner: r.owner,
                    name: r.name,
                    id: r.id,
                    manifest: r.manifest,
                },
            )
        })
        .collect())
}
