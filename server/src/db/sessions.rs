//! `sessions`: web sign-ins, so that signing out revokes the session's JWT.

use super::Db;

pub async fn create(
    db: &Db,
    id: &str,
    user_id: &str,
    now: i64,
    expires_at: i64,
) -> sqlx::Result<()> {
    let _guard = db.write_guard().await;
    sqlx::query(
        "INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Whether the session exists, belongs to the user, and is neither revoked nor expired.
pub async fn is_live(db: &Db, id: &str, user_id: &str, now: i64) -> sqlx::Result<bool> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3",
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.is_some())
}

pub async fn revoke(db: &Db, id: &str, now: i64) -> sqlx::Result<()> {
    let _guard = db.write_guard().await;
    sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&db.pool)
        .await?;
    Ok(())
}
