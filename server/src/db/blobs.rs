//! `blobs`: the content-addressed bytes the registry holds.

use granary_core::Sha256;
use sqlx::FromRow;

use super::{Db, Tx};
use crate::storage::BlobLayout;

/// A `blobs` row as stored; [`BlobRow::layout`] turns it into the storage view.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct BlobRow {
    sha256: String,
    size: i64,
    part_size: i64,
    part_count: i64,
}

impl BlobRow {
    pub(crate) fn layout(self) -> Option<BlobLayout> {
        Some(BlobLayout {
            sha256: self.sha256.parse().ok()?,
            size: self.size as u64,
            part_size: self.part_size as u64,
            part_count: self.part_count as u64,
        })
    }
}

pub async fn find(db: &Db, sha256: &Sha256) -> sqlx::Result<Option<BlobLayout>> {
    let row: Option<BlobRow> =
        sqlx::query_as("SELECT sha256, size, part_size, part_count FROM blobs WHERE sha256 = $1")
            .bind(sha256.hex())
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.and_then(BlobRow::layout))
}

/// `SELECT` of the blobs whose digest is one of `n` bound parameters, then `suffix`.
fn select_in(n: usize, suffix: &str) -> String {
    format!(
        "SELECT sha256, size, part_size, part_count FROM blobs WHERE sha256 IN ({}){suffix}",
        super::placeholders(1, n)
    )
}

/// The stored blobs among `digests`.
pub async fn find_many(db: &Db, digests: &[Sha256]) -> sqlx::Result<Vec<BlobLayout>> {
    let mut out = Vec::with_capacity(digests.len());
    for chunk in digests.chunks(500) {
        let sql = select_in(chunk.len(), "");
        let mut q = sqlx::query_as::<_, BlobRow>(&sql);
        for d in chunk {
            q = q.bind(d.hex());
        }
        out.extend(
            q.fetch_all(&db.pool)
                .await?
                .into_iter()
                .filter_map(BlobRow::layout),
        );
    }
    Ok(out)
}

/// Records a blob whose bytes are in place and checked. Returns the layout
/// that is live: ours, or that of an identical blob recorded first.
pub async fn insert(db: &Db, layout: &BlobLayout, now: i64) -> sqlx::Result<BlobLayout> {
    {
        let _guard = db.write_guard().await;
        sqlx::query(
            "INSERT INTO blobs (sha256, size, part_size, part_count, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(layout.sha256.hex())
        .bind(layout.size as i64)
        .bind(layout.part_size as i64)
        .bind(layout.part_count as i64)
        .bind(now)
        .execute(&db.pool)
        .await?;
    }
    find(db, &layout.sha256)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

/// Inside `tx`: inserts the row of a blob about to be placed; false when a row
/// exists. The uncommitted row holds the key, so garbage collection of the same
/// digest cannot interleave with placing its objects.
pub async fn insert_in(tx: &mut Tx, layout: &BlobLayout, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO blobs (sha256, size, part_size, part_count, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(layout.sha256.hex())
    .bind(layout.size as i64)
    .bind(layout.part_size as i64)
    .bind(layout.part_count as i64)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Inside `tx`: the stored blobs among `digests`, share-locked on PostgreSQL so
/// that garbage collection cannot delete them before `tx` ends (it waits, then
/// sees what `tx` committed). A blob collected just before is simply absent.
pub async fn find_many_locked(
    db: &Db,
    tx: &mut Tx,
    digests: &[Sha256],
) -> sqlx::Result<Vec<BlobLayout>> {
    let lock = db.row_lock("SHARE");
    let mut unique: Vec<String> = digests.iter().map(Sha256::hex).collect();
    unique.sort();
    unique.dedup();
    let mut out = Vec::with_capacity(unique.len());
    for chunk in unique.chunks(500) {
        let sql = select_in(chunk.len(), &format!(" ORDER BY sha256{lock}"));
        let mut q = sqlx::query_as::<_, BlobRow>(&sql);
        for d in chunk {
            q = q.bind(d);
        }
        out.extend(
            q.fetch_all(&mut **tx)
                .await?
                .into_iter()
                .filter_map(BlobRow::layout),
        );
    }
    Ok(out)
}

/// Whose models a query may read beyond the public, ungated ones (decided by `access.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owners {
    /// Every owner (a server administrator).
    All,
    /// These owners (lower-cased names): the caller's namespace and organisations.
    Only(Vec<String>),
}

/// Those of `digests` that some revision of a model the reader may download holds:
/// a public ungated model, a gated one whose license `user_id` accepted, or any model
/// of `owners`.
pub async fn readable_among(
    db: &Db,
    user_id: Option<&str>,
    owners: &Owners,
    digests: &[Sha256],
) -> sqlx::Result<std::collections::HashSet<Sha256>> {
    let mut out = std::collections::HashSet::new();
    for chunk in digests.chunks(400) {
        // $1: the user; then the owners; then the digests.
        let owner_count = match owners {
            Owners::Only(list) => list.len(),
            Owners::All => 0,
        };
        let owner_clause = match owners {
            Owners::All => "1 = 1".to_string(),
            Owners::Only(list) if list.is_empty() => "1 = 0".to_string(),
            Owners::Only(list) => {
                format!("m.owner_key IN ({})", super::placeholders(2, list.len()))
            }
        };
        let digest_params = super::placeholders(2 + owner_count, chunk.len());
        let sql = format!(
            "SELECT DISTINCT rf.sha256 FROM revision_files rf JOIN models m ON m.id = rf.model_id
             WHERE rf.sha256 IN ({}) AND ({owner_clause}
               OR (m.private = 0 AND (m.gated = 0 OR EXISTS (
                     SELECT 1 FROM license_acceptances a WHERE a.model_id = m.id AND a.user_id = $1))))",
            digest_params
        );
        let mut q = sqlx::query_as::<_, (String,)>(&sql).bind(user_id.unwrap_or(""));
        if let Owners::Only(list) = owners {
            for o in list {
                q = q.bind(o.to_ascii_lowercase());
            }
        }
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
