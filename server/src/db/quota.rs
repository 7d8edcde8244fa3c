//! What one owner stores: the distinct blobs its models' revisions reference
//! (for `owner_quota_bytes`, `limits.rs`).

use std::collections::HashSet;

use granary_core::Sha256;

use super::Db;

/// Bytes of the distinct blobs referenced by the revisions of `owner`'s models.
pub async fn owner_usage(db: &Db, owner: &str) -> sqlx::Result<u64> {
    let (used,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM blobs b
         WHERE b.sha256 IN (SELECT rf.sha256 FROM revision_files rf
                            JOIN models m ON m.id = rf.model_id WHERE m.owner_key = $1)",
    )
    .bind(owner.to_ascii_lowercase())
    .fetch_one(&db.pool)
    .await?;
    Ok(used.max(0) as u64)
}

/// Those of `digests` (hex) that some revision of `owner`'s models already references.
pub async fn owner_references(db: &Db, owner: &str, digests: &[Sha256]) -> sqlx::Result<HashSet<String>> {
    let mut out = HashSet::new();
    for chunk in digests.chunks(500) {
        let placeholders: Vec<String> = (2..=chunk.len() + 1).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT DISTINCT rf.sha256 FROM revision_files rf JOIN models m ON m.id = rf.model_id
             WHERE m.owner_key = $1 AND rf.sha256 IN ({})",
            placeholders.join(", ")
        );
        let mut q = sqlx::query_as::<_, (String,)>(&sql).bind(owner.to_ascii_lowercase());
        for d in chunk {
            q = q.bind(d.hex());
        }
        out.extend(q.fetch_all(&db.pool).await?.into_iter().map(|(s,)| s));
    }
    Ok(out)
}
