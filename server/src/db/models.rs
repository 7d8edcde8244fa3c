//! `models`: one row per `owner/name`, with the head of its default branch
//! copied in for listings and search.

use granary_core::ModelId;
use sqlx::FromRow;

use super::{Db, Flag, Tx, flag, like_escape, new_id};

#[derive(Debug, Clone, FromRow)]
pub struct ModelRow {
    pub id: String,
    pub owner: String,
    pub name: String,
    #[sqlx(try_from = "Flag")]
    pub private: bool,
    pub default_branch: String,
    pub downloads: i64,
    pub head_revision: Option<String>,
    pub license_id: Option<String>,
    pub total_size: i64,
    pub parameter_total: i64,
    #[sqlx(try_from = "Flag")]
    pub gated: bool,
    #[sqlx(try_from = "Flag")]
    pub permissive: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ModelRow {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

pub(crate) const COLUMNS: &str = "id, owner, name, private, default_branch, downloads, head_revision, \
    license_id, total_size, parameter_total, gated, permissive, created_at, updated_at";

pub async fn find(db: &Db, id: &ModelId) -> sqlx::Result<Option<ModelRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM models WHERE name_key = $1"))
        .bind(id.key())
        .fetch_optional(&db.pool)
        .await
}

/// Creates the model unless it exists; true when it was created.
pub async fn create(
    tx: &mut Tx,
    id: &ModelId,
    private: bool,
    gated: bool,
    now: i64,
) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "INSERT INTO models (id, owner, name, owner_key, name_key, private, gated, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (name_key) DO NOTHING",
    )
    .bind(new_id())
    .bind(id.owner())
    .bind(id.name())
    .bind(id.owner().to_ascii_lowercase())
    .bind(id.key())
    .bind(flag(private))
    .bind(flag(gated))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Finds the model inside a write transaction, creating it if absent; true when created.
pub async fn find_or_create(
    tx: &mut Tx,
    id: &ModelId,
    private: bool,
    now: i64,
) -> sqlx::Result<(ModelRow, bool)> {
    let created = create(tx, id, private, false, now).await?;
    let model = find_in(tx, id).await?.ok_or(sqlx::Error::RowNotFound)?;
    Ok((model, created))
}

/// Inside a transaction: the model, if it exists.
pub async fn find_in(tx: &mut Tx, id: &ModelId) -> sqlx::Result<Option<ModelRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM models WHERE name_key = $1"))
        .bind(id.key())
        .fetch_optional(&mut **tx)
        .await
}

/// What a commit to the default branch copies into the model row.
pub struct Head<'a> {
    pub revision: &'a str,
    pub license_id: &'a str,
    pub permissive: bool,
    pub total_size: u64,
    pub parameter_total: u64,
}

pub async fn set_head(tx: &mut Tx, model_id: &str, head: &Head<'_>, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE models SET head_revision = $2, license_id = $3, total_size = $4,
         parameter_total = $5, updated_at = $6, permissive = $7 WHERE id = $1",
    )
    .bind(model_id)
    .bind(head.revision)
    .bind(head.license_id)
    .bind(head.total_size as i64)
    .bind(head.parameter_total as i64)
    .bind(now)
    .bind(flag(head.permissive))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn touch(tx: &mut Tx, model_id: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE models SET updated_at = $2 WHERE id = $1")
        .bind(model_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Filters of a model listing.
#[derive(Debug, Default)]
pub struct ListFilter {
    pub owner: Option<String>,
    pub text: Option<String>,
    pub license: Option<String>,
    /// Only models whose license is permissive.
    pub permissive_only: bool,
    /// Only names after this `name_key` (the cursor).
    pub after: Option<String>,
    pub limit: u32,
}

/// Public models matching the filter, ordered by name; one more row than
/// `limit` tells the caller another page exists.
pub async fn list(db: &Db, f: &ListFilter) -> sqlx::Result<Vec<ModelRow>> {
    let mut sql =
        format!("SELECT {COLUMNS} FROM models WHERE private = 0 AND head_revision IS NOT NULL");
    let mut binds: Vec<String> = Vec::new();
    let mut push = |sql: &mut String, clause: &str, value: String| {
        binds.push(value);
        sql.push_str(&clause.replace("{}", &format!("${}", binds.len())));
    };
    if let Some(owner) = &f.owner {
        push(&mut sql, " AND owner_key = {}", owner.to_ascii_lowercase());
    }
    if let Some(text) = &f.text {
        push(
            &mut sql,
            " AND name_key LIKE {} ESCAPE '\\'",
            format!("%{}%", like_escape(&text.to_lowercase())),
        );
    }
    if let Some(license) = &f.license {
        push(
            &mut sql,
            " AND LOWER(license_id) = {}",
            license.to_lowercase(),
        );
    }
    if f.permissive_only {
        sql.push_str(" AND permissive = 1");
    }
    if let Some(after) = &f.after {
        push(&mut sql, " AND name_key > {}", after.clone());
    }
    sql.push_str(&format!(" ORDER BY name_key LIMIT {}", f.limit as i64 + 1));
    let mut q = sqlx::query_as::<_, ModelRow>(&sql);
    for b in binds {
        q = q.bind(b);
    }
    q.fetch_all(&db.pool).await
}
