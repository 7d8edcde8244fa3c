//! What one account stores (for the storage quota, `quota.rs`): an account is
//! a user with the organisations billed to it (`users.billed_to`).

use std::collections::HashSet;

use granary_core::Sha256;

use super::Db;

/// The account a namespace draws on.
#[derive(Debug, Clone)]
pub struct Account {
    /// The paying user's id (empty when the namespace does not exist yet).
    pub id: String,
    pub name: String,
}

/// The account of `owner`: the owner itself, or the user an organisation is billed to.
pub async fn account_of(db: &Db, owner: &str) -> sqlx::Result<Account> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT COALESCE(p.id, u.id), COALESCE(p.name, u.name) FROM users u
         LEFT JOIN users p ON p.id = u.billed_to WHERE u.name_key = $1",
    )
    .bind(owner.to_ascii_lowercase())
    .fetch_optional(&db.pool)
    .await?;
    Ok(match row {
        Some((id, name)) => Account { id, name },
        None => Account {
            id: String::new(),
            name: owner.to_string(),
        },
    })
}

/// The namespaces (lower-cased) of an account, as a subquery on `$1` = the account's id
/// and `$2` = its name key.
const NAMESPACES: &str =
    "SELECT name_key FROM users WHERE id = $1 OR billed_to = $1 UNION SELECT $2";

/// Bytes of the distinct blobs referenced by the revisions of the account's models.
pub async fn account_usage(db: &Db, account: &Account) -> sqlx::Result<u64> {
    let (used,): (i64,) = sqlx::query_as(&format!(
        "SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM blobs b
         WHERE b.sha256 IN (SELECT rf.sha256 FROM revision_files rf
                            JOIN models m ON m.id = rf.model_id WHERE m.owner_key IN ({NAMESPACES}))"
    ))
    .bind(&account.id)
    .bind(account.name.to_ascii_lowercase())
    .fetch_one(&db.pool)
    .await?;
    Ok(used.max(0) as u64)
}

/// Those of `digests` (hex) that some revision of the account's models already references.
pub async fn account_references(
    db: &Db,
    account: &Account,
    digests: &[Sha256],
) -> sqlx::Result<HashSet<String>> {
    let mut out = HashSet::new();
    for chunk in digests.chunks(500) {
        let sql = format!(
            "SELECT DISTINCT rf.sha256 FROM revision_files rf JOIN models m ON m.id = rf.model_id
             WHERE m.owner_key IN ({NAMESPACES}) AND rf.sha256 IN ({})",
            super::placeholders(3, chunk.len())
        );
        let mut q = sqlx::query_as::<_, (String,)>(&sql)
            .bind(&account.id)
            .bind(account.name.to_ascii_lowercase());
        for d in chunk {
            q = q.bind(d.hex());
        }
        out.extend(q.fetch_all(&db.pool).await?.into_iter().map(|(s,)| s));
    }
    Ok(out)
}
