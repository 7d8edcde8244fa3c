//! `audit_log`: security events, readable by server admins.

use sqlx::FromRow;

use super::{Db, new_id};

/// One security event.
pub struct Event<'a> {
    pub actor: Option<&'a str>,
    pub event: &'a str,
    pub subject: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub ip: Option<&'a str>,
}

pub async fn record(db: &Db, e: &Event<'_>, now: i64) -> sqlx::Result<()> {
    let _guard = db.write_guard().await;
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor, event, subject, detail, ip) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id())
    .bind(now)
    .bind(e.actor)
    .bind(e.event)
    .bind(e.subject)
    .bind(e.detail)
    .bind(e.ip)
    .execute(&db.pool)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct AuditRow {
    pub id: String,
    pub at: i64,
    pub actor: Option<String>,
    pub event: String,
    pub subject: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
}

/// The newest events first, before `before` (a time in ms) when given.
pub async fn list(db: &Db, limit: u32, before: Option<i64>) -> sqlx::Result<Vec<AuditRow>> {
    sqlx::query_as(
        "SELECT id, at, actor, event, subject, detail, ip FROM audit_log WHERE at < $1 ORDER BY at DESC LIMIT $2",
    )
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit as i64)
    .fetch_all(&db.pool)
    .await
}
