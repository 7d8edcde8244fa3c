//! `upload_sessions` and `upload_parts`: blobs on their way in. Sessions live
//! in the database so any server replica can continue one.

use granary_core::Sha256;
use sqlx::FromRow;

use super::{Db, new_id};

#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub sha256: String,
    pub size: i64,
    pub part_size: i64,
    pub part_count: i64,
}

const COLUMNS: &str = "id, user_id, sha256, size, part_size, part_count";

/// The user's session for this blob, created if absent.
pub async fn find_or_create(
    db: &Db,
    user_id: &str,
    sha256: &Sha256,
    size: u64,
    part_size: u64,
    part_count: u64,
    now: i64,
) -> sqlx::Result<SessionRow> {
    {
        let _guard = db.write_guard().await;
        sqlx::query(
            "INSERT INTO upload_sessions (id, user_id, sha256, size, part_size, part_count, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (user_id, sha256) DO NOTHING",
        )
        .bind(new_id())
        .bind(user_id)
        .bind(sha256.hex())
        .bind(size as i64)
        .bind(part_size as i64)
        .bind(part_count as i64)
        .bind(now)
        .execute(&db.pool)
        .await?;
    }
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM upload_sessions WHERE user_id = $1 AND sha256 = $2"
    ))
    .bind(user_id)
    .bind(sha256.hex())
    .fetch_one(&db.pool)
    .await
}

pub async fn find(db: &Db, id: &str) -> sqlx::Result<Option<SessionRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM upload_sessions WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

/// Part numbers received so far, ascending.
pub async fn received_parts(db: &Db, id: &str) -> sqlx::Result<Vec<u64>> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT part_number FROM upload_parts WHERE upload_id = $1 ORDER BY part_number",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(n,)| n as u64).collect())
}

/// Records that part `n` is wholly stored.
pub async fn record_part(db: &Db, id: &str, n: u64, size: u64, now: i64) -> sqlx::Result<()> {
    let _guard = db.write_guard().await;
    sqlx::query(
        "INSERT INTO upload_parts (upload_id, part_number, size) VALUES ($1, $2, $3)
         ON CONFLICT (upload_id, part_number) DO NOTHING",
    )
    .bind(id)
    .bind(n as i64)
    .bind(size as i64)
    .execute(&db.pool)
    .await?;
    sqlx::query("UPDATE upload_sessions SET updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Forgets a session and its parts (the caller deletes the staged bytes).
pub async fn delete(db: &Db, id: &str) -> sqlx::Result<()> {
    let (mut tx, _guard) = db.begin_write().await?;
    sqlx::query("DELETE FROM upload_parts WHERE upload_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM upload_sessions WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
