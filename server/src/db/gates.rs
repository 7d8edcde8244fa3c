//! Model settings that control access: visibility, the license gate, the
//! license acceptances of gated models, and deletion.

use sqlx::FromRow;

use super::{Db, Tx, flag};

pub async fn set_private(tx: &mut Tx, model_id: &str, private: bool, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE models SET private = $2, updated_at = $3 WHERE id = $1")
        .bind(model_id)
        .bind(flag(private))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_gated(tx: &mut Tx, model_id: &str, gated: bool, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE models SET gated = $2, updated_at = $3 WHERE id = $1")
        .bind(model_id)
        .bind(flag(gated))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records that a user accepted the model's license at a revision.
pub async fn accept(
    tx: &mut Tx,
    model_id: &str,
    user_id: &str,
    revision_id: Option<&str>,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO license_acceptances (model_id, user_id, revision_id, accepted_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (model_id, user_id) DO UPDATE SET revision_id = excluded.revision_id, accepted_at = excluded.accepted_at",
    )
    .bind(model_id)
    .bind(user_id)
    .bind(revision_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn has_accepted(db: &Db, model_id: &str, user_id: &str) -> sqlx::Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT accepted_at FROM license_acceptances WHERE model_id = $1 AND user_id = $2",
    )
    .bind(model_id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.is_some())
}

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct AcceptanceRow {
    pub user: String,
    pub revision_id: Option<String>,
    pub accepted_at: i64,
}

pub async fn acceptances(db: &Db, model_id: &str) -> sqlx::Result<Vec<AcceptanceRow>> {
    sqlx::query_as(
        "SELECT u.name AS \"user\", a.revision_id, a.accepted_at FROM license_acceptances a
         JOIN users u ON u.id = a.user_id WHERE a.model_id = $1 ORDER BY a.accepted_at",
    )
    .bind(model_id)
    .fetch_all(&db.pool)
    .await
}

/// Deletes a model with its revisions, refs, files, jobs, acceptances and webhooks. Blobs
/// stay for the garbage collector, which removes those no revision references.
pub async fn delete_model(tx: &mut Tx, model_id: &str) -> sqlx::Result<()> {
    super::webhooks::delete_of_model(tx, model_id).await?;
    super::downloads::delete_model(tx, model_id).await?;
    for table in [
        "license_acceptances",
        "verification_runs",
        "verification_jobs",
        "refs",
        "revision_files",
        "revisions",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE model_id = $1"))
            .bind(model_id)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("DELETE FROM models WHERE id = $1")
        .bind(model_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
