//! `webhooks`, `webhook_deliveries` and `webhook_attempts`: who hears a model's events,
//! what is still to be sent, and every attempt at sending it. Deliveries are claimed
//! with a lease like verification jobs (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite:
//! one writer), so a worker that dies mid-delivery leaves a delivery another picks up.

use sqlx::FromRow;

use super::{Backend, Db, Tx, new_id};

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, FromRow)]
pub struct WebhookRow {
    pub id: String,
    pub namespace: String,
    pub model_id: Option<String>,
    pub url: String,
    pub secret: String,
    /// Space-separated types between spaces (` a b `); empty: every type.
    pub events: String,
    pub created_at: i64,
}

impl WebhookRow {
    pub fn hears(&self, kind: &str) -> bool {
        self.events.trim().is_empty() || self.events.contains(&format!(" {kind} "))
    }

    pub fn event_list(&self) -> Vec<String> {
        self.events.split_whitespace().map(str::to_string).collect()
    }
}

/// The stored form of an event filter.
pub fn events_column(kinds: &[String]) -> String {
    if kinds.is_empty() {
        String::new()
    } else {
        format!(" {} ", kinds.join(" "))
    }
}

const COLUMNS: &str = "id, namespace, model_id, url, secret, events, created_at";

/// A webhook to register.
pub struct NewWebhook<'a> {
    pub namespace: &'a str,
    pub model_id: Option<&'a str>,
    pub url: &'a str,
    pub secret: &'a str,
    pub events: &'a [String],
    pub created_by: &'a str,
}

pub async fn create(db: &Db, w: &NewWebhook<'_>, now: i64) -> sqlx::Result<WebhookRow> {
    let id = new_id();
    let _guard = db.write_guard().await;
    sqlx::query(
        "INSERT INTO webhooks (id, namespace, model_id, url, secret, events, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(w.namespace)
    .bind(w.model_id)
    .bind(w.url)
    .bind(w.secret)
    .bind(events_column(w.events))
    .bind(w.created_by)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(WebhookRow {
        id,
        namespace: w.namespace.to_string(),
        model_id: w.model_id.map(str::to_string),
        url: w.url.to_string(),
        secret: w.secret.to_string(),
        events: events_column(w.events),
        created_at: now,
    })
}

pub async fn find(db: &Db, id: &str) -> sqlx::Result<Option<WebhookRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

/// The webhooks of one model.
pub async fn of_model(db: &Db, model_id: &str) -> sqlx::Result<Vec<WebhookRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE model_id = $1 ORDER BY created_at, id"
    ))
    .bind(model_id)
    .fetch_all(&db.pool)
    .await
}

/// The webhooks that hear every model of a namespace.
pub async fn of_namespace(db: &Db, namespace: &str) -> sqlx::Result<Vec<WebhookRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE LOWER(namespace) = LOWER($1) AND model_id IS NULL ORDER BY created_at, id"
    ))
    .bind(namespace)
    .fetch_all(&db.pool)
    .await
}

/// Deletes a webhook with its deliveries and their attempts.
pub async fn delete(db: &Db, id: &str) -> sqlx::Result<bool> {
    let (mut tx, _guard) = db.begin_write().await?;
    let deleted = delete_in(&mut tx, "id = $1", id).await?;
    tx.commit().await?;
    Ok(deleted > 0)
}

/// Deletes the webhooks of a model (inside the model's deletion).
pub async fn delete_of_model(tx: &mut Tx, model_id: &str) -> sqlx::Result<u64> {
    delete_in(tx, "model_id = $1", model_id).await
}

async fn delete_in(tx: &mut Tx, which: &str, value: &str) -> sqlx::Result<u64> {
    sqlx::query(&format!(
        "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT d.id FROM webhook_deliveries d
           WHERE d.webhook_id IN (SELECT id FROM webhooks WHERE {which}))"
    ))
    .bind(value)
    .execute(&mut **tx)
    .await?;
    sqlx::query(&format!(
        "DELETE FROM webhook_deliveries WHERE webhook_id IN (SELECT id FROM webhooks WHERE {which})"
    ))
    .bind(value)
    .execute(&mut **tx)
    .await?;
    let r = sqlx::query(&format!("DELETE FROM webhooks WHERE {which}"))
        .bind(value)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected())
}

/// Queues an event for every webhook of its model and of the model's own namespace that
/// hears its type (inside the event's transaction). No other namespace's webhook is
/// ever matched, so a private model's events reach only its own owners' receivers.
pub async fn queue_deliveries(
    tx: &mut Tx,
    event_id: &str,
    kind: &str,
    model_id: &str,
    namespace: &str,
    now: i64,
) -> sqlx::Result<()> {
    let hooks: Vec<WebhookRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhooks
         WHERE model_id = $1 OR (model_id IS NULL AND LOWER(namespace) = LOWER($2))"
    ))
    .bind(model_id)
    .bind(namespace)
    .fetch_all(&mut **tx)
    .await?;
    for hook in hooks.iter().filter(|h| h.hears(kind)) {
        queue_one(tx, &hook.id, event_id, now).await?;
    }
    Ok(())
}

/// Queues one event for one webhook.
pub async fn queue_one(
    tx: &mut Tx,
    webhook_id: &str,
    event_id: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, webhook_id, event_id, state, attempts, next_attempt_at,
           created_at, updated_at)
         VALUES ($1, $2, $3, 'pending', 0, $4, $4, $4)",
    )
    .bind(new_id())
    .bind(webhook_id)
    .bind(event_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRow {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub created_at: i64,
}

const DELIVERY_COLUMNS: &str =
    "id, webhook_id, event_id, state, attempts, next_attempt_at, created_at";

/// Claims the oldest due delivery for `worker`, leased until `now + lease_ms`.
pub async fn claim(
    db: &Db,
    worker: &str,
    now: i64,
    lease_ms: i64,
) -> sqlx::Result<Option<DeliveryRow>> {
    let lock = match db.backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE webhook_deliveries SET worker = $1, lease_until = $2, updated_at = $3
         WHERE id = (SELECT id FROM webhook_deliveries
                     WHERE state = 'pending' AND next_attempt_at <= $3
                       AND (lease_until IS NULL OR lease_until < $3)
                     ORDER BY next_attempt_at, created_at LIMIT 1 {lock})
         RETURNING {DELIVERY_COLUMNS}"
    );
    let (mut tx, _guard) = db.begin_write().await?;
    let row: Option<DeliveryRow> = sqlx::query_as(&sql)
        .bind(worker)
        .bind(now + lease_ms)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(row)
}

/// What one attempt found.
pub struct Attempt<'a> {
    pub status: Option<u16>,
    pub error: Option<&'a str>,
    pub at: i64,
    pub duration_ms: i64,
}

/// Where the delivery goes after an attempt.
pub enum Next {
    Delivered,
    RetryAt(i64),
    GiveUp,
}

/// Records an attempt and moves the delivery on, only while `worker` holds it.
pub async fn record_attempt(
    db: &Db,
    delivery: &DeliveryRow,
    worker: &str,
    attempt: &Attempt<'_>,
    next: Next,
) -> sqlx::Result<bool> {
    let (state, next_at) = match next {
        Next::Delivered => (DELIVERED, attempt.at),
        Next::RetryAt(t) => (PENDING, t),
        Next::GiveUp => (FAILED, attempt.at),
    };
    let (mut tx, _guard) = db.begin_write().await?;
    let moved = sqlx::query(
        "UPDATE webhook_deliveries SET state = $3, attempts = attempts + 1, next_attempt_at = $4,
           lease_until = NULL, worker = NULL, last_status = $5, last_error = $6, updated_at = $7
         WHERE id = $1 AND worker = $2 AND state = 'pending'",
    )
    .bind(&delivery.id)
    .bind(worker)
    .bind(state)
    .bind(next_at)
    .bind(attempt.status.map(i64::from))
    .bind(attempt.error)
    .bind(attempt.at)
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO webhook_attempts (id, delivery_id, at, status, error, duration_ms)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id())
    .bind(&delivery.id)
    .bind(attempt.at)
    .bind(attempt.status.map(i64::from))
    .bind(attempt.error)
    .bind(attempt.duration_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A delivery as its owner lists it.
#[derive(Debug, Clone, FromRow)]
pub struct DeliveryListRow {
    pub id: String,
    pub event_id: String,
    pub event: String,
    pub state: String,
    pub next_attempt_at: i64,
    pub created_at: i64,
}

/// A webhook's deliveries, newest first.
pub async fn deliveries(
    db: &Db,
    webhook_id: &str,
    limit: u32,
) -> sqlx::Result<Vec<DeliveryListRow>> {
    sqlx::query_as(
        "SELECT d.id, d.event_id, e.event, d.state, d.next_attempt_at, d.created_at
         FROM webhook_deliveries d JOIN audit_log e ON e.id = d.event_id
         WHERE d.webhook_id = $1 ORDER BY d.created_at DESC, d.id LIMIT $2",
    )
    .bind(webhook_id)
    .bind(limit as i64)
    .fetch_all(&db.pool)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct AttemptRow {
    pub delivery_id: String,
    pub at: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// The attempts at these deliveries (at most 100, as a listing pages them), oldest first.
pub async fn attempts(db: &Db, delivery_ids: &[String]) -> sqlx::Result<Vec<AttemptRow>> {
    if delivery_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT delivery_id, at, status, error, duration_ms FROM webhook_attempts
         WHERE delivery_id IN ({}) ORDER BY at, id",
        super::placeholders(1, delivery_ids.len())
    );
    let mut q = sqlx::query_as::<_, AttemptRow>(&sql);
    for id in delivery_ids {
        q = q.bind(id);
    }
    q.fetch_all(&db.pool).await
}

/// How many deliveries are pending (for tests and health).
pub async fn pending_count(db: &Db) -> sqlx::Result<i64> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'")
            .fetch_one(&db.pool)
            .await?;
    Ok(n)
}
