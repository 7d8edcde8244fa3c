//! Queries of the web pages: model search with filters and sorts, the home
//! page's lists, an owner's models, a model's revision graph and its
//! verification runs. Every user value is a bound parameter.

use sqlx::FromRow;

use super::{Db, Flag, flag, like_escape};

/// A model as listings show it: the model row with its head revision's facts.
#[derive(Debug, Clone, FromRow)]
pub struct ListedModel {
    pub id: String,
    pub owner: String,
    pub name: String,
    #[sqlx(try_from = "Flag")]
    pub private: bool,
    pub downloads: i64,
    pub head_revision: String,
    pub license_id: Option<String>,
    pub total_size: i64,
    pub parameter_total: i64,
    pub updated_at: i64,
    #[sqlx(try_from = "Flag")]
    pub permissive: bool,
    pub file_count: i64,
    /// The head revision's README front matter, as JSON.
    pub card: String,
    /// The status of the newest verification run of the head revision, if any.
    pub verification: Option<String>,
}

const LISTED: &str = "SELECT m.id, m.owner, m.name, m.private, m.downloads, m.head_revision, m.license_id,
    m.total_size, m.parameter_total, m.updated_at, r.permissive, r.file_count, r.card,
    (SELECT v.status FROM verification_runs v WHERE v.model_id = m.id AND v.revision_id = m.head_revision
     ORDER BY v.finished_at DESC LIMIT 1) AS verification
  FROM models m JOIN revisions r ON r.model_id = m.id AND r.id = m.head_revision";

/// How a listing is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Downloads,
    Updated,
    Name,
    Parameters,
}

impl Sort {
    fn order_by(self) -> &'static str {
        match self {
            Sort::Downloads => "m.downloads DESC, m.name_key",
            Sort::Updated => "m.updated_at DESC, m.name_key",
            Sort::Name => "m.name_key",
            Sort::Parameters => "m.parameter_total DESC, m.name_key",
        }
    }
}

/// The filters of the model list; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Text in the name, the owner or the card's front matter.
    pub text: Option<String>,
    pub owner: Option<String>,
    pub license: Option<String>,
    pub permissive_only: bool,
    /// The card's `pipeline_tag`.
    pub task: Option<String>,
    /// The card's `library_name`.
    pub library: Option<String>,
    /// `passed`, `failed`, `error` or `unverified` (no finished run) for the head revision.
    pub verification: Option<String>,
    pub sort: Sort,
}

/// A `LIKE` pattern matching a key with a string value in compact JSON text.
fn json_field_pattern(key: &str, value: &str) -> String {
    let quoted = serde_json::to_string(&value.to_lowercase()).unwrap_or_default();
    format!("%\"{key}\":{}%", like_escape(&quoted))
}

fn where_clause(s: &Search, binds: &mut Vec<String>) -> String {
    let mut sql = String::from(" WHERE m.private = 0 AND m.head_revision IS NOT NULL");
    // Appends `clause` with each `{}` naming the bound `value`.
    let mut bind = |sql: &mut String, clause: &str, value: String| {
        binds.push(value);
        sql.push_str(&clause.replace("{}", &format!("${}", binds.len())));
    };
    if let Some(text) = &s.text {
        bind(
            &mut sql,
            " AND (m.name_key LIKE {} ESCAPE '\\' OR m.owner_key LIKE {} ESCAPE '\\' OR LOWER(r.card) LIKE {} ESCAPE '\\')",
            format!("%{}%", like_escape(&text.to_lowercase())),
        );
    }
    if let Some(owner) = &s.owner {
        bind(
            &mut sql,
            " AND m.owner_key = {}",
            owner.to_ascii_lowercase(),
        );
    }
    if let Some(license) = &s.license {
        bind(
            &mut sql,
            " AND LOWER(m.license_id) = {}",
            license.to_lowercase(),
        );
    }
    if s.permissive_only {
        sql.push_str(" AND r.permissive = 1");
    }
    if let Some(task) = &s.task {
        bind(
            &mut sql,
            " AND LOWER(r.card) LIKE {} ESCAPE '\\'",
            json_field_pattern("pipeline_tag", task),
        );
    }
    if let Some(library) = &s.library {
        bind(
            &mut sql,
            " AND LOWER(r.card) LIKE {} ESCAPE '\\'",
            json_field_pattern("library_name", library),
        );
    }
    match s.verification.as_deref() {
        None => {}
        Some("unverified") => sql.push_str(
            " AND NOT EXISTS (SELECT 1 FROM verification_runs v WHERE v.model_id = m.id AND v.revision_id = m.head_revision)",
        ),
        Some(status) => bind(
            &mut sql,
            " AND (SELECT v.status FROM verification_runs v WHERE v.model_id = m.id AND v.revision_id = m.head_revision
                   ORDER BY v.finished_at DESC LIMIT 1) = {}",
            status.to_string(),
        ),
    }
    sql
}

/// Public models matching `s`, in its order: `limit` rows from `offset` (all when `limit` is None).
pub async fn search(
    db: &Db,
    s: &Search,
    offset: u64,
    limit: Option<u64>,
) -> sqlx::Result<Vec<ListedModel>> {
    let mut binds = Vec::new();
    let mut sql = format!("{LISTED}{}", where_clause(s, &mut binds));
    sql.push_str(&format!(" ORDER BY {}", s.sort.order_by()));
    if let Some(limit) = limit {
        sql.push_str(&format!(" LIMIT {} OFFSET {}", limit as i64, offset as i64));
    }
    let mut q = sqlx::query_as::<_, ListedModel>(&sql);
    for b in binds {
        q = q.bind(b);
    }
    q.fetch_all(&db.pool).await
}

/// How many public models match `s`.
pub async fn count(db: &Db, s: &Search) -> sqlx::Result<i64> {
    let mut binds = Vec::new();
    let sql = format!(
        "SELECT COUNT(*) FROM models m JOIN revisions r ON r.model_id = m.id AND r.id = m.head_revision{}",
        where_clause(s, &mut binds)
    );
    let mut q = sqlx::query_as::<_, (i64,)>(&sql);
    for b in binds {
        q = q.bind(b);
    }
    Ok(q.fetch_one(&db.pool).await?.0)
}

/// Public models whose newest passed verification run is most recent first.
pub async fn recently_verified(db: &Db, limit: u32) -> sqlx::Result<Vec<ListedModel>> {
    let sql = format!(
        "{LISTED} JOIN (SELECT model_id, MAX(finished_at) AS verified_at FROM verification_runs
                         WHERE status = 'passed' GROUP BY model_id) lv ON lv.model_id = m.id
         WHERE m.private = 0 ORDER BY lv.verified_at DESC, m.name_key LIMIT {}",
        limit as i64
    );
    sqlx::query_as(&sql).fetch_all(&db.pool).await
}

/// The models of one owner, private ones too when `include_private`, by name.
pub async fn owner_models(
    db: &Db,
    owner: &str,
    include_private: bool,
) -> sqlx::Result<Vec<ListedModel>> {
    let sql = format!(
        "{LISTED} WHERE m.owner_key = $1 AND (m.private = 0 OR $2 = 1) ORDER BY m.name_key"
    );
    sqlx::query_as(&sql)
        .bind(owner.to_ascii_lowercase())
        .bind(flag(include_private))
        .fetch_all(&db.pool)
        .await
}

/// A revision without its manifest, for walking history.
#[derive(Debug, Clone, FromRow)]
pub struct RevisionNode {
    pub id: String,
    pub parent_id: Option<String>,
    pub author: String,
    pub message: String,
    pub created_at: i64,
}

/// Every revision of a model, without manifests (history is walked in memory).
pub async fn revision_nodes(db: &Db, model_id: &str) -> sqlx::Result<Vec<RevisionNode>> {
    sqlx::query_as(
        "SELECT id, parent_id, author, message, created_at FROM revisions WHERE model_id = $1",
    )
    .bind(model_id)
    .fetch_all(&db.pool)
    .await
}

/// A finished verification run.
#[derive(Debug, Clone, FromRow)]
pub struct RunSummary {
    pub revision_id: String,
    pub device: String,
    pub status: String,
    /// The `VerificationReport` as JSON.
    pub report: String,
    pub finished_at: i64,
}

/// Every finished verification run of a model, oldest first.
pub async fn model_runs(db: &Db, model_id: &str) -> sqlx::Result<Vec<RunSummary>> {
    sqlx::query_as(
        "SELECT revision_id, device, status, report, finished_at FROM verification_runs
         WHERE model_id = $1 ORDER BY finished_at",
    )
    .bind(model_id)
    .fetch_all(&db.pool)
    .await
}

/// The SHA-256 of a file of a revision, if it has that file.
pub async fn file_digest(
    db: &Db,
    model_id: &str,
    revision_id: &str,
    path: &str,
) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT sha256 FROM revision_files WHERE model_id = $1 AND revision_id = $2 AND path = $3",
    )
    .bind(model_id)
    .bind(revision_id)
    .bind(path)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(s,)| s))
}
