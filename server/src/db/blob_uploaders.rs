//! `blob_uploaders`: who has sent the bytes of each blob. Knowing a digest
//! grants nothing: a commit may name a blob its author uploaded (a row here)
//! or one in a revision they may already download (`blobs::readable_among`).

use std::collections::HashSet;

use granary_core::Sha256;

use super::{Db, Tx};

/// Records that `user_id` sent the bytes of `sha256` (again, or for the first time).
pub async fn record(db: &Db, sha256: &Sha256, user_id: &str, now: i64) -> sqlx::Result<()> {
    let _guard = db.write_guard().await;
    sqlx::query(
        "INSERT INTO blob_uploaders (sha256, user_id, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (sha256, user_id) DO NOTHING",
    )
    .bind(sha256.hex())
    .bind(user_id)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Those of `digests` whose bytes `user_id` has uploaded.
pub async fn uploaded_by(
    db: &Db,
    user_id: &str,
    digests: &[Sha256],
) -> sqlx::Result<HashSet<Sha256>> {
    let mut out = HashSet::new();
    for chunk in digests.chunks(500) {
        let sql = format!(
            "SELECT sha256 FROM blob_uploaders WHERE user_id = $1 AND sha256 IN ({})",
            super::placeholders(2, chunk.len())
        );
        let mut q = sqlx::query_as::<_, (String,)>(&sql).bind(user_id);
        for d in chunk {
            q = q.bind(d.hex());
        }
        out.extend(
            q.fetch_all(&db.pool)
                .await?
                .into_iter()
                .filter_map(|(s,)| s.parse::<Sha256>().ok()),
        );
    }
    Ok(out)
}

/// Bytes of the blobs `user_id` uploaded that no revision references yet (staged
/// for a commit; they count against the uploader's quota).
pub async fn uncommitted_bytes(db: &Db, user_id: &str) -> sqlx::Result<u64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM blob_uploaders u JOIN blobs b ON b.sha256 = u.sha256
         WHERE u.user_id = $1 AND NOT EXISTS (SELECT 1 FROM revision_files f WHERE f.sha256 = u.sha256)",
    )
    .bind(user_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(n.max(0) as u64)
}

/// Inside `tx`: forgets the uploaders of a blob that is being deleted.
pub async fn forget_blob(tx: &mut Tx, sha256: &Sha256) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM blob_uploaders WHERE sha256 = $1")
        .bind(sha256.hex())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
