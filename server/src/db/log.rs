//! `log_entries` and `log_state`: the transparency log's leaves, in order
//! (`transparency.rs`).

use super::{Db, Tx};

/// Appends a leaf inside the commit's transaction, after taking the lock on
/// the log's state row, so that appends from every replica form one sequence;
/// its index. A revision already logged for the model keeps its leaf.
pub async fn append_in(
    tx: &mut Tx,
    db: &Db,
    model_id: &str,
    revision_id: &str,
    leaf: &str,
) -> sqlx::Result<Option<i64>> {
    let (size,): (i64,) = sqlx::query_as(&format!(
        "SELECT size FROM log_state WHERE id = 1{}",
        db.row_lock("UPDATE")
    ))
    .fetch_one(&mut **tx)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO log_entries (idx, model_id, revision_id, leaf) VALUES ($1, $2, $3, $4)
         ON CONFLICT (model_id, revision_id) DO NOTHING",
    )
    .bind(size)
    .bind(model_id)
    .bind(revision_id)
    .bind(leaf)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(None);
    }
    sqlx::query("UPDATE log_state SET size = size + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(Some(size))
}

/// The leaves from index `from` on, in order (at most `limit`).
pub async fn leaves_from(db: &Db, from: i64, limit: i64) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as("SELECT idx, leaf FROM log_entries WHERE idx >= $1 ORDER BY idx LIMIT $2")
        .bind(from)
        .bind(limit)
        .fetch_all(&db.pool)
        .await
}

/// Where a revision of a model is in the log: `(index, leaf)`.
pub async fn entry(
    db: &Db,
    model_id: &str,
    revision_id: &str,
) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query_as("SELECT idx, leaf FROM log_entries WHERE model_id = $1 AND revision_id = $2")
        .bind(model_id)
        .bind(revision_id)
        .fetch_optional(&db.pool)
        .await
}
