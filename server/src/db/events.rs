//! `audit_log`: the one record of what happened. Security events (sign-ins, tokens,
//! invites) are [`record`]ed on their own; model events are [`emit`]ted inside the
//! transaction of the change they describe, with a pending delivery for every webhook
//! that hears them, so the record, the change and the outbox commit or roll back
//! together. Server admins read the log (`GET /api/v1/audit`); webhooks receive the
//! model events (`webhooks/`).

use sqlx::FromRow;

use super::{Db, Tx, new_id, webhooks};

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

/// The model an event is about, named as it was when the event happened (a deleted
/// model's events keep its name).
pub struct Subject<'a> {
    pub model_id: &'a str,
    pub owner: &'a str,
    pub name: &'a str,
}

impl<'a> From<&'a super::models::ModelRow> for Subject<'a> {
    fn from(m: &'a super::models::ModelRow) -> Self {
        Self {
            model_id: &m.id,
            owner: &m.owner,
            name: &m.name,
        }
    }
}

/// A model event: what happened to which model, who did it, and its figures.
pub struct ModelEvent<'a> {
    pub kind: &'a str,
    pub model: Subject<'a>,
    pub actor: Option<&'a str>,
    pub ip: Option<&'a str>,
    /// A short line for the audit log (`private=true gated=false`).
    pub detail: Option<&'a str>,
    pub data: serde_json::Value,
}

/// Records a model event and queues its deliveries, inside the change's transaction.
/// Returns the event id.
pub async fn emit(tx: &mut Tx, e: &ModelEvent<'_>, now: i64) -> sqlx::Result<String> {
    let id = insert(tx, e, now).await?;
    webhooks::queue_deliveries(tx, &id, e.kind, e.model.model_id, e.model.owner, now).await?;
    Ok(id)
}

/// Records an event for one webhook alone (a test delivery).
pub async fn emit_to(
    tx: &mut Tx,
    e: &ModelEvent<'_>,
    webhook_id: &str,
    now: i64,
) -> sqlx::Result<String> {
    let id = insert(tx, e, now).await?;
    webhooks::queue_one(tx, webhook_id, &id, now).await?;
    Ok(id)
}

async fn insert(tx: &mut Tx, e: &ModelEvent<'_>, now: i64) -> sqlx::Result<String> {
    let id = new_id();
    // A namespace's own event (a ping of a namespace webhook) names no model.
    let (model_id, subject) = if e.model.name.is_empty() {
        (None, None)
    } else {
        (
            Some(e.model.model_id),
            Some(format!("{}/{}", e.model.owner, e.model.name)),
        )
    };
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor, event, subject, detail, ip, model_id, namespace, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(now)
    .bind(e.actor)
    .bind(e.kind)
    .bind(subject)
    .bind(e.detail)
    .bind(e.ip)
    .bind(model_id)
    .bind(e.model.owner)
    .bind(e.data.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// The newest events first, before `before` (a time in ms) when given.
pub async fn list(
    db: &Db,
    limit: u32,
    before: Option<i64>,
) -> sqlx::Result<Vec<granary_core::api::AuditEvent>> {
    type Row = (
        String,
        i64,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, at, actor, event, subject, detail, ip FROM audit_log WHERE at < $1 ORDER BY at DESC LIMIT $2",
    )
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit as i64)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, at, actor, event, subject, detail, ip)| granary_core::api::AuditEvent {
                id,
                at,
                actor,
                event,
                subject,
                detail,
                ip,
            },
        )
        .collect())
}

/// A model event as its deliveries send it.
#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub id: String,
    pub at: i64,
    pub actor: Option<String>,
    pub event: String,
    pub subject: Option<String>,
    pub namespace: Option<String>,
    pub data: Option<String>,
}

pub async fn find(db: &Db, id: &str) -> sqlx::Result<Option<EventRow>> {
    sqlx::query_as(
        "SELECT id, at, actor, event, subject, namespace, data FROM audit_log WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await
}

/// The types of a model's events, oldest first (for tests and tools).
pub async fn kinds_of_model(db: &Db, model_id: &str) -> sqlx::Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT event FROM audit_log WHERE model_id = $1 ORDER BY at, id")
            .bind(model_id)
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.into_iter().map(|(k,)| k).collect())
}
