//! `users` and `api_tokens`.

use sha2::Digest as _;
use sqlx::FromRow;

use super::{Db, new_id};

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub is_admin: i64,
}

/// The stored form of a token: its SHA-256. Tokens are long random strings,
/// so a fast hash is enough; the clear text is shown once and never kept.
pub fn token_hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A new random API token, `gr_` + 40 alphanumerics.
pub fn new_token() -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    let body: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    format!("gr_{body}")
}

pub async fn find_by_name(db: &Db, name: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as("SELECT id, name, is_admin FROM users WHERE name_key = $1")
        .bind(name.to_ascii_lowercase())
        .fetch_optional(&db.pool)
        .await
}

/// Creates the user unless it exists; returns it either way.
pub async fn ensure(db: &Db, name: &str, admin: bool, now: i64) -> sqlx::Result<UserRow> {
    let _guard = db.write_guard().await;
    sqlx::query(
        "INSERT INTO users (id, name, name_key, is_admin, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (name_key) DO NOTHING",
    )
    .bind(new_id())
    .bind(name)
    .bind(name.to_ascii_lowercase())
    .bind(admin as i64)
    .bind(now)
    .execute(&db.pool)
    .await?;
    if admin {
        sqlx::query("UPDATE users SET is_admin = 1 WHERE name_key = $1")
            .bind(name.to_ascii_lowercase())
            .execute(&db.pool)
            .await?;
    }
    drop(_guard);
    find_by_name(db, name).await?.ok_or(sqlx::Error::RowNotFound)
}

/// Stores a new token for `user_id` and returns its clear text.
pub async fn create_token(db: &Db, user_id: &str, name: &str, scope: &str, now: i64) -> sqlx::Result<String> {
    let token = new_token();
    let _guard = db.write_guard().await;
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, token_hash, name, scope, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id())
    .bind(user_id)
    .bind(token_hash(&token))
    .bind(name)
    .bind(scope)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(token)
}

/// The user a live token belongs to, with the token's scope.
pub async fn find_by_token(db: &Db, token: &str) -> sqlx::Result<Option<(UserRow, String)>> {
    #[derive(FromRow)]
    struct Found {
        id: String,
        name: String,
        is_admin: i64,
        scope: String,
    }
    let found: Option<Found> = sqlx::query_as(
        "SELECT u.id, u.name, u.is_admin, t.scope FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
    )
    .bind(token_hash(token))
    .fetch_optional(&db.pool)
    .await?;
    Ok(found.map(|f| {
        (
            UserRow { id: f.id, name: f.name, is_admin: f.is_admin },
            f.scope,
        )
    }))
}
