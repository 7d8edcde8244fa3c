//! `users` and `api_tokens`.

use granary_core::Role;
use sha2::Digest as _;
use sqlx::FromRow;

use super::{Db, Flag, flag, new_id};

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    #[sqlx(try_from = "Flag")]
    pub is_admin: bool,
    /// `user` or `org`: both own models and share one namespace.
    pub kind: String,
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
    sqlx::query_as("SELECT id, name, is_admin, kind FROM users WHERE name_key = $1")
        .bind(name.to_ascii_lowercase())
        .fetch_optional(&db.pool)
        .await
}

/// Every user (not organisations), by name.
pub async fn list(db: &Db) -> sqlx::Result<Vec<UserRow>> {
    sqlx::query_as(
        "SELECT id, name, is_admin, kind FROM users WHERE kind = 'user' ORDER BY name_key",
    )
    .fetch_all(&db.pool)
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
    .bind(flag(admin))
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
    find_by_name(db, name)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

/// Stores a new unrestricted token for `user_id` and returns its clear text.
pub async fn create_token(
    db: &Db,
    user_id: &str,
    name: &str,
    scope: &str,
    now: i64,
) -> sqlx::Result<String> {
    let spec = TokenSpec {
        name,
        scope,
        owner_limit: None,
        expires_at: None,
    };
    Ok(create_scoped_token(db, user_id, &spec, now).await?.1)
}

/// What a new token may do.
pub struct TokenSpec<'a> {
    pub name: &'a str,
    /// `read`, `write` or `admin`.
    pub scope: &'a str,
    /// Only models under this owner.
    pub owner_limit: Option<&'a str>,
    pub expires_at: Option<i64>,
}

/// Stores a new token; returns its id and its clear text (shown once).
pub async fn create_scoped_token(
    db: &Db,
    user_id: &str,
    spec: &TokenSpec<'_>,
    now: i64,
) -> sqlx::Result<(String, String)> {
    let token = new_token();
    let id = new_id();
    let _guard = db.write_guard().await;
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, token_hash, name, scope, owner_limit, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(token_hash(&token))
    .bind(spec.name)
    .bind(spec.scope)
    .bind(spec.owner_limit)
    .bind(spec.expires_at)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok((id, token))
}

/// A live token: its user and what it may do.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub token_id: String,
    pub scope: Role,
    pub owner_limit: Option<String>,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
}

/// The user a live (unrevoked, unexpired) token belongs to, with the token's grant.
pub async fn find_by_token(
    db: &Db,
    token: &str,
    now: i64,
) -> sqlx::Result<Option<(UserRow, TokenGrant)>> {
    find_live_token(db, "t.token_hash", &token_hash(token), now).await
}

/// The same, by the token's id (a credential that carries a token id, such as a
/// Git LFS upload URL, stops working when its token is revoked or expires).
pub async fn find_by_token_id(
    db: &Db,
    token_id: &str,
    now: i64,
) -> sqlx::Result<Option<(UserRow, TokenGrant)>> {
    find_live_token(db, "t.id", token_id, now).await
}

async fn find_live_token(
    db: &Db,
    column: &str,
    value: &str,
    now: i64,
) -> sqlx::Result<Option<(UserRow, TokenGrant)>> {
    #[derive(FromRow)]
    struct Found {
        id: String,
        name: String,
        #[sqlx(try_from = "Flag")]
        is_admin: bool,
        kind: String,
        token_id: String,
        scope: String,
        owner_limit: Option<String>,
        last_used_at: Option<i64>,
        expires_at: Option<i64>,
    }
    let found: Option<Found> = sqlx::query_as(&format!(
        "SELECT u.id, u.name, u.is_admin, u.kind, t.id AS token_id, t.scope, t.owner_limit, t.last_used_at,
                t.expires_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE {column} = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)"
    ))
    .bind(value)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?;
    Ok(found.map(|f| {
        (
            UserRow {
                id: f.id,
                name: f.name,
                is_admin: f.is_admin,
                kind: f.kind,
            },
            TokenGrant {
                token_id: f.token_id,
                // Decoded here, once; a scope this version does not know grants the least.
                scope: Role::parse(&f.scope).unwrap_or(Role::Read),
                owner_limit: f.owner_limit,
                last_used_at: f.last_used_at,
                expires_at: f.expires_at,
            },
        )
    }))
}

/// Notes that a token was used (callers throttle this to about once a minute).
pub async fn touch_token(db: &Db, token_id: &str, now: i64) -> sqlx::Result<()> {
    let _guard = db.write_guard().await;
    sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
        .bind(token_id)
        .bind(now)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn find_by_id(db: &Db, id: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as("SELECT id, name, is_admin, kind FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

/// Sets a user's password hash (argon2, PHC string).
pub async fn set_password(db: &Db, user_id: &str, hash: &str) -> sqlx::Result<()> {
    let _guard = db.write_guard().await;
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user_id)
        .bind(hash)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// A user and its password hash, for sign-in.
pub async fn find_with_password(
    db: &Db,
    name: &str,
) -> sqlx::Result<Option<(UserRow, Option<String>)>> {
    #[derive(FromRow)]
    struct Found {
        id: String,
        name: String,
        #[sqlx(try_from = "Flag")]
        is_admin: bool,
        kind: String,
        password_hash: Option<String>,
    }
    let f: Option<Found> = sqlx::query_as(
        "SELECT id, name, is_admin, kind, password_hash FROM users WHERE name_key = $1 AND kind = 'user'",
    )
    .bind(name.to_ascii_lowercase())
    .fetch_optional(&db.pool)
    .await?;
    Ok(f.map(|f| {
        (
            UserRow {
                id: f.id,
                name: f.name,
                is_admin: f.is_admin,
                kind: f.kind,
            },
            f.password_hash,
        )
    }))
}

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub owner_limit: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub async fn list_tokens(db: &Db, user_id: &str) -> sqlx::Result<Vec<TokenRow>> {
    sqlx::query_as(
        "SELECT id, name, scope, owner_limit, created_at, last_used_at, expires_at, revoked_at
         FROM api_tokens WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await
}

/// Revokes one of the user's tokens; false if it has no such live token.
pub async fn revoke_token(db: &Db, user_id: &str, token_id: &str, now: i64) -> sqlx::Result<bool> {
    let _guard = db.write_guard().await;
    let r = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(token_id)
    .bind(user_id)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected() == 1)
}
