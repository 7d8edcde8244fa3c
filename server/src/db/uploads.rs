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

/// The user's session for this blob, if one is open.
pub async fn find_for(db: &Db, user_id: &str, sha256: &Sha256) -> sqlx::Result<Option<SessionRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM upload_sessions WHERE user_id = $1 AND sha256 = $2"
    ))
    .bind(user_id)
    .bind(sha256.hex())
    .fetch_optional(&db.pool)
    .await
}

pub async fn find(db: &Db, id: &str) -> sqlx::Result<Option<SessionRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM upload_sessions WHERE id = $1"
    ))
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

/// Whether part `n` of the session was received.
pub async fn has_part(db: &Db, id: &str, n: u64) -> sqlx::Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT part_number FROM upload_parts WHERE upload_id = $1 AND part_number = $2",
    )
    .bind(id)
    .bind(n as i64)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.is_some())
}

/// A received part and the attempt whose object holds its bytes (`None`: staged
/// before attempts were recorded, at the plain part key).
#[derive(Debug, Clone, FromRow)]
pub struct PartRow {
    pub part_number: i64,
    pub attempt: Option<String>,
}

/// The received parts, ascending.
pub async fn parts(db: &Db, id: &str) -> sqlx::Result<Vec<PartRow>> {
    sqlx::query_as(
        "SELECT part_number, attempt FROM upload_parts WHERE upload_id = $1 ORDER BY part_number",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
}

/// Records that part `n` is wholly stored in `attempt`'s object. False when the
/// part was already recorded (by an earlier or racing attempt): parts are never
/// replaced. An error when the session is gone.
pub async fn record_part(
    db: &Db,
    id: &str,
    n: u64,
    size: u64,
    attempt: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let (mut tx, _guard) = db.begin_write().await?;
    let inserted = sqlx::query(
        "INSERT INTO upload_parts (upload_id, part_number, size, attempt) VALUES ($1, $2, $3, $4)
         ON CONFLICT (upload_id, part_number) DO NOTHING",
    )
    .bind(id)
    .bind(n as i64)
    .bind(size as i64)
    .bind(attempt)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    let touched = sqlx::query("UPDATE upload_sessions SET updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if touched == 0 {
        return Err(sqlx::Error::RowNotFound);
    }
    tx.commit().await?;
    Ok(inserted)
}

/// The open sessions of a user: how many, and their declared bytes.
pub async fn open_by_user(db: &Db, user_id: &str) -> sqlx::Result<(u64, u64)> {
    let (n, bytes): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM upload_sessions WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(&db.pool)
    .await?;
    Ok((n.max(0) as u64, bytes.max(0) as u64))
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
