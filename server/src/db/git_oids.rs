//! `hf_git_oids`: the git blob id (SHA-1 of `"blob <size>\0" + content`) of
//! each blob the Hub surface has shown, computed once and kept.

use granary_core::Sha256;

use super::Db;

/// The git blob id of a blob, if computed before.
pub async fn find(db: &Db, sha256: &Sha256) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT git_oid FROM hf_git_oids WHERE sha256 = $1")
            .bind(sha256.hex())
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|(oid,)| oid))
}

/// Keeps a blob's git blob id (the first one kept wins; they are equal).
pub async fn insert(db: &Db, sha256: &Sha256, git_oid: &str) -> sqlx::Result<()> {
    let _guard = db.write_guard().await;
    sqlx::query(
        "INSERT INTO hf_git_oids (sha256, git_oid) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(sha256.hex())
    .bind(git_oid)
    .execute(&db.pool)
    .await?;
    Ok(())
}
