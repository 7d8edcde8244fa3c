//! `verification_jobs` and `verification_runs`: the verification queue.
//! Workers claim jobs with a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`,
//! so many workers never take the same job; SQLite: one writer at a time),
//! keep the lease alive while they work, and finish a job only while they
//! still hold it.

use granary_core::ModelId;
use sqlx::FromRow;

use super::events::{self, ModelEvent};
use super::models::ModelRow;
use super::{Backend, Db, Tx, new_id};

pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const DONE: &str = "done";

#[derive(Debug, Clone, FromRow)]
pub struct JobRow {
    pub id: String,
    pub model_id: String,
    pub revision_id: String,
    pub state: String,
    pub attempts: i64,
    pub worker: Option<String>,
    pub last_error: Option<String>,
}

const COLUMNS: &str = "id, model_id, revision_id, state, attempts, worker, last_error";

/// Queues the verification of a revision, inside the commit's transaction.
pub async fn enqueue(
    tx: &mut Tx,
    model_id: &str,
    revision_id: &str,
    now: i64,
) -> sqlx::Result<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO verification_jobs (id, model_id, revision_id, state, run_after, created_at, updated_at)
         VALUES ($1, $2, $3, 'queued', $4, $4, $4)",
    )
    .bind(&id)
    .bind(model_id)
    .bind(revision_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Queues a re-run unless one is already queued or running; returns the job id.
pub async fn requeue(db: &Db, model_id: &str, revision_id: &str, now: i64) -> sqlx::Result<String> {
    let (mut tx, _guard) = db.begin_write().await?;
    let open: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM verification_jobs WHERE model_id = $1 AND revision_id = $2 AND state <> 'done'",
    )
    .bind(model_id)
    .bind(revision_id)
    .fetch_optional(&mut *tx)
    .await?;
    let id = match open {
        Some((id,)) => id,
        None => enqueue(&mut tx, model_id, revision_id, now).await?,
    };
    tx.commit().await?;
    Ok(id)
}

/// Claims the oldest claimable job for `worker`, leased until `now + lease_ms`.
pub async fn claim(db: &Db, worker: &str, now: i64, lease_ms: i64) -> sqlx::Result<Option<JobRow>> {
    let lock = match db.backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE verification_jobs SET state = 'running', worker = $1, lease_until = $2,
           attempts = attempts + 1, updated_at = $3
         WHERE id = (SELECT id FROM verification_jobs
                     WHERE (state = 'queued' AND run_after <= $3) OR (state = 'running' AND lease_until < $3)
                     ORDER BY created_at LIMIT 1 {lock})
         RETURNING {COLUMNS}"
    );
    let (mut tx, _guard) = db.begin_write().await?;
    let row: Option<JobRow> = sqlx::query_as(&sql)
        .bind(worker)
        .bind(now + lease_ms)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(row)
}

/// Extends the lease; false when the job is no longer this worker's.
pub async fn heartbeat(
    db: &Db,
    job_id: &str,
    worker: &str,
    lease_until: i64,
) -> sqlx::Result<bool> {
    let _guard = db.write_guard().await;
    let r = sqlx::query(
        "UPDATE verification_jobs SET lease_until = $3 WHERE id = $1 AND worker = $2 AND state = 'running'",
    )
    .bind(job_id)
    .bind(worker)
    .bind(lease_until)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A finished verification to record.
pub struct FinishedRun<'a> {
    pub job: &'a JobRow,
    pub worker: &'a str,
    pub device: &'a str,
    pub status: &'a str,
    pub report_json: &'a str,
    pub started_at: i64,
    pub finished_at: i64,
}

/// Records the run and closes the job, only if `worker` still holds it.
/// Returns false (and records nothing) when the lease was lost.
pub async fn finish(db: &Db, run: &FinishedRun<'_>) -> sqlx::Result<bool> {
    let (mut tx, _guard) = db.begin_write().await?;
    let closed = sqlx::query(
        "UPDATE verification_jobs SET state = 'done', lease_until = NULL, updated_at = $3
         WHERE id = $1 AND worker = $2 AND state = 'running'",
    )
    .bind(&run.job.id)
    .bind(run.worker)
    .bind(run.finished_at)
    .execute(&mut *tx)
    .await?;
    if closed.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO verification_runs (id, job_id, model_id, revision_id, worker, device, status, report,
           started_at, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new_id())
    .bind(&run.job.id)
    .bind(&run.job.model_id)
    .bind(&run.job.revision_id)
    .bind(run.worker)
    .bind(run.device)
    .bind(run.status)
    .bind(run.report_json)
    .bind(run.started_at)
    .bind(run.finished_at)
    .execute(&mut *tx)
    .await?;
    let model: Option<ModelRow> = sqlx::query_as(&format!(
        "SELECT {} FROM models WHERE id = $1",
        super::models::COLUMNS
    ))
    .bind(&run.job.model_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(model) = &model {
        let report: serde_json::Value =
            serde_json::from_str(run.report_json).unwrap_or(serde_json::Value::Null);
        let event = ModelEvent {
            kind: "verification.finished",
            model: model.into(),
            actor: None,
            ip: None,
            detail: Some(run.status),
            data: serde_json::json!({
                "revision": run.job.revision_id,
                "status": run.status,
                "device": run.device,
                "report": report,
            }),
        };
        events::emit(&mut tx, &event, run.finished_at).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Puts a job back in the queue after an infrastructure error, to run after `run_after`.
pub async fn retry_later(
    db: &Db,
    job_id: &str,
    worker: &str,
    error: &str,
    run_after: i64,
    now: i64,
) -> sqlx::Result<()> {
    let _guard = db.write_guard().await;
    sqlx::query(
        "UPDATE verification_jobs SET state = 'queued', worker = NULL, lease_until = NULL, run_after = $3,
           last_error = $4, updated_at = $5
         WHERE id = $1 AND worker = $2 AND state = 'running'",
    )
    .bind(job_id)
    .bind(worker)
    .bind(run_after)
    .bind(error)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct RunRow {
    pub job_id: String,
    pub device: String,
    pub status: String,
    pub report: String,
    pub finished_at: i64,
}

/// A model and the verification rows of its head revision, in one round trip (model
/// info asks for both on every request): each branch of the union is an index lookup.
pub async fn find_with_head_verification(
    db: &Db,
    id: &ModelId,
) -> sqlx::Result<Option<(ModelRow, Vec<VerificationRow>)>> {
    #[derive(FromRow)]
    struct Joined {
        #[sqlx(flatten)]
        model: ModelRow,
        #[sqlx(flatten)]
        verification: VerificationRow,
        part: i64,
    }
    let m = super::models::COLUMNS
        .split(", ")
        .map(|c| format!("m.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows: Vec<Joined> = sqlx::query_as(&format!(
        "SELECT {m}, CAST(NULL AS TEXT) AS state, CAST(NULL AS TEXT) AS last_error, CAST(NULL AS TEXT) AS report,
                CAST(0 AS BIGINT) AS part, CAST(0 AS BIGINT) AS finished_at
           FROM models m WHERE m.name_key = $1
         UNION ALL
         SELECT {m}, j.state, j.last_error, CAST(NULL AS TEXT), CAST(1 AS BIGINT), CAST(0 AS BIGINT)
           FROM models m JOIN verification_jobs j ON j.model_id = m.id AND j.revision_id = m.head_revision
          WHERE m.name_key = $1 AND j.state <> 'done'
         UNION ALL
         SELECT {m}, CAST(NULL AS TEXT), CAST(NULL AS TEXT), r.report, CAST(2 AS BIGINT), r.finished_at
           FROM models m JOIN verification_runs r ON r.model_id = m.id AND r.revision_id = m.head_revision
          WHERE m.name_key = $1
         ORDER BY part, finished_at DESC"
    ))
    .bind(id.key())
    .fetch_all(&db.pool)
    .await?;
    let mut rows = rows.into_iter();
    Ok(rows
        .next()
        .filter(|first| first.part == 0)
        .map(|first| (first.model, rows.map(|r| r.verification).collect())))
}

/// A revision's verification in one query: a row per job not done (`state`,
/// `last_error`), then a row per finished run (`report`), newest first.
#[derive(Debug, FromRow)]
pub struct VerificationRow {
    pub state: Option<String>,
    pub last_error: Option<String>,
    pub report: Option<String>,
}

pub async fn verification(
    db: &Db,
    model_id: &str,
    revision_id: &str,
) -> sqlx::Result<Vec<VerificationRow>> {
    sqlx::query_as(
        "SELECT state, last_error, CAST(NULL AS TEXT) AS report, CAST(0 AS BIGINT) AS run, CAST(0 AS BIGINT) AS finished_at
           FROM verification_jobs WHERE model_id = $1 AND revision_id = $2 AND state <> 'done'
         UNION ALL
         SELECT CAST(NULL AS TEXT), CAST(NULL AS TEXT), report, CAST(1 AS BIGINT), finished_at
           FROM verification_runs WHERE model_id = $1 AND revision_id = $2
         ORDER BY run, finished_at DESC",
    )
    .bind(model_id)
    .bind(revision_id)
    .fetch_all(&db.pool)
    .await
}

/// How many jobs are not done (for tests and health).
pub async fn pending_count(db: &Db) -> sqlx::Result<i64> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM verification_jobs WHERE state <> 'done'")
            .fetch_one(&db.pool)
            .await?;
    Ok(n)
}
