//! Organisations (rows of `users` with `kind = 'org'`) and `memberships`.

use granary_core::Role;
use sqlx::FromRow;

use super::{Db, new_id};

/// Creates an organisation with `admin_user_id` as its first admin; its storage
/// counts towards that user's quota.
/// Returns false when the name is taken (by a user or an organisation).
pub async fn create(db: &Db, name: &str, admin_user_id: &str, now: i64) -> sqlx::Result<bool> {
    let (mut tx, _guard) = db.begin_write().await?;
    let id = new_id();
    let r = sqlx::query(
        "INSERT INTO users (id, name, name_key, is_admin, kind, created_at, billed_to)
         VALUES ($1, $2, $3, 0, 'org', $4, $5) ON CONFLICT (name_key) DO NOTHING",
    )
    .bind(&id)
    .bind(name)
    .bind(name.to_ascii_lowercase())
    .bind(now)
    .bind(admin_user_id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, 'admin', $3)",
    )
    .bind(&id)
    .bind(admin_user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The role of a user in the organisation named `org`, if a member (decoded here; a
/// role this version does not know grants nothing).
pub async fn role_of(db: &Db, org: &str, user_id: &str) -> sqlx::Result<Option<Role>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT m.role FROM memberships m JOIN users o ON o.id = m.org_id
         WHERE o.name_key = $1 AND o.kind = 'org' AND m.user_id = $2",
    )
    .bind(org.to_ascii_lowercase())
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.and_then(|(r,)| Role::parse(&r)))
}

/// Adds a member or changes their role.
pub async fn set_member(
    db: &Db,
    org_id: &str,
    user_id: &str,
    role: &str,
    now: i64,
) -> sqlx::Result<()> {
    let _guard = db.write_guard().await;
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(role)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub async fn remove_member(db: &Db, org_id: &str, user_id: &str) -> sqlx::Result<bool> {
    let _guard = db.write_guard().await;
    let r = sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct MemberRow {
    pub name: String,
    pub role: String,
    pub created_at: i64,
}

pub async fn members(db: &Db, org_id: &str) -> sqlx::Result<Vec<MemberRow>> {
    sqlx::query_as(
        "SELECT u.name, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = $1 ORDER BY u.name_key",
    )
    .bind(org_id)
    .fetch_all(&db.pool)
    .await
}

/// Names of the organisations a user belongs to.
pub async fn orgs_of(db: &Db, user_id: &str) -> sqlx::Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT o.name FROM memberships m JOIN users o ON o.id = m.org_id WHERE m.user_id = $1 ORDER BY o.name_key",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}
