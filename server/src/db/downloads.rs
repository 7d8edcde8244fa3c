//! `model_downloads`: downloads per model and day, and the all-time total in
//! `models.downloads` (written together, in batches, by `downloads::counter`).

use super::Db;

/// Adds counted downloads, `(model id, day, count)`, in one transaction. Counts of a
/// model deleted meanwhile are dropped.
pub async fn add(db: &Db, counts: &[(String, i64, i64)]) -> sqlx::Result<()> {
    if counts.is_empty() {
        return Ok(());
    }
    let (mut tx, _guard) = db.begin_write().await?;
    for (model_id, day, n) in counts {
        let updated = sqlx::query("UPDATE models SET downloads = downloads + $1 WHERE id = $2")
            .bind(n)
            .bind(model_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            continue;
        }
        sqlx::query(
            "INSERT INTO model_downloads (model_id, day, count) VALUES ($1, $2, $3)
             ON CONFLICT (model_id, day) DO UPDATE SET count = model_downloads.count + excluded.count",
        )
        .bind(model_id)
        .bind(day)
        .bind(n)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// A model's downloads on the days from `since_day` on.
pub async fn since(db: &Db, model_id: &str, since_day: i64) -> sqlx::Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM model_downloads
         WHERE model_id = $1 AND day >= $2",
    )
    .bind(model_id)
    .bind(since_day)
    .fetch_one(&db.pool)
    .await?;
    Ok(n)
}

/// Forgets a deleted model's daily counts.
pub async fn delete_model(tx: &mut super::Tx, model_id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM model_downloads WHERE model_id = $1")
        .bind(model_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
