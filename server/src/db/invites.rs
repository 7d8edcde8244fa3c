//! `invites`: one-time codes for invite-only sign-up, stored hashed.

use super::Db;
use super::users::token_hash;

/// Stores a new invite code made by `created_by`; returns its clear text (shown once).
pub async fn create(db: &Db, created_by: &str, now: i64) -> sqlx::Result<String> {
    let mut bytes = [0u8; 16];
    rand::Rng::fill(&mut rand::rng(), &mut bytes);
    let code = hex::encode(bytes);
    let _guard = db.write_guard().await;
    sqlx::query("INSERT INTO invites (code_hash, created_by, created_at) VALUES ($1, $2, $3)")
        .bind(token_hash(&code))
        .bind(created_by)
        .bind(now)
        .execute(&db.pool)
        .await?;
    Ok(code)
}

/// Uses up an unused code for `user`; false when the code is unknown or used.
pub async fn redeem(db: &Db, code: &str, user: &str, now: i64) -> sqlx::Result<bool> {
    let _guard = db.write_guard().await;
    let r = sqlx::query(
        "UPDATE invites SET used_by = $2, used_at = $3 WHERE code_hash = $1 AND used_at IS NULL",
    )
    .bind(token_hash(code))
    .bind(user)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected() == 1)
}
