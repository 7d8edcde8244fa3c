//! `refs`: branches (which move) and tags (which do not, unless forced).

use sqlx::FromRow;

use super::{Db, Tx};

pub const BRANCH: &str = "branch";
pub const TAG: &str = "tag";

#[derive(Debug, Clone, FromRow)]
pub struct RefRow {
    pub kind: String,
    pub name: String,
    pub revision_id: String,
    pub updated_at: i64,
}

pub async fn find(db: &Db, model_id: &str, kind: &str, name: &str) -> sqlx::Result<Option<RefRow>> {
    sqlx::query_as(
        "SELECT kind, name, revision_id, updated_at FROM refs WHERE model_id = $1 AND kind = $2 AND name = $3",
    )
    .bind(model_id)
    .bind(kind)
    .bind(name)
    .fetch_optional(&db.pool)
    .await
}

pub async fn list(db: &Db, model_id: &str) -> sqlx::Result<Vec<RefRow>> {
    sqlx::query_as(
        "SELECT kind, name, revision_id, updated_at FROM refs WHERE model_id = $1 ORDER BY kind, name",
    )
    .bind(model_id)
    .fetch_all(&db.pool)
    .await
}

/// Moves `name` from `expected` (None: the ref must not exist) to `new`.
/// Returns false when the ref was not at `expected`: the caller lost the race.
pub async fn compare_and_swap(
    tx: &mut Tx,
    model_id: &str,
    kind: &str,
    name: &str,
    expected: Option<&str>,
    new: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let result = match expected {
        None => {
            sqlx::query(
                "INSERT INTO refs (model_id, kind, name, revision_id, updated_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (model_id, kind, name) DO NOTHING",
            )
            .bind(model_id)
            .bind(kind)
            .bind(name)
            .bind(new)
            .bind(now)
            .execute(&mut **tx)
            .await?
        }
        Some(old) => {
            sqlx::query(
                "UPDATE refs SET revision_id = $5, updated_at = $6
                 WHERE model_id = $1 AND kind = $2 AND name = $3 AND revision_id = $4",
            )
            .bind(model_id)
            .bind(kind)
            .bind(name)
            .bind(old)
            .bind(new)
            .bind(now)
            .execute(&mut **tx)
            .await?
        }
    };
    Ok(result.rows_affected() == 1)
}

/// Inside `tx`: the revision a ref names now, if it exists.
pub async fn target_in(
    tx: &mut Tx,
    model_id: &str,
    kind: &str,
    name: &str,
) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT revision_id FROM refs WHERE model_id = $1 AND kind = $2 AND name = $3",
    )
    .bind(model_id)
    .bind(kind)
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(r,)| r))
}

/// Inside `tx`: deletes a ref; answers the revision it named, if it existed.
pub async fn delete(
    tx: &mut Tx,
    model_id: &str,
    kind: &str,
    name: &str,
) -> sqlx::Result<Option<String>> {
    let target = target_in(tx, model_id, kind, name).await?;
    if target.is_some() {
        sqlx::query("DELETE FROM refs WHERE model_id = $1 AND kind = $2 AND name = $3")
            .bind(model_id)
            .bind(kind)
            .bind(name)
            .execute(&mut **tx)
            .await?;
    }
    Ok(target)
}
