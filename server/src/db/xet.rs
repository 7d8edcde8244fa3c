//! `xet_xorbs`, `xet_xorb_uploaders`, `xet_files`: the Xet storage of files that
//! stock Hugging Face clients upload (`xet/`).

use std::collections::HashSet;

use sqlx::FromRow;
use xet_core_structures::merklehash::MerkleHash;

use super::{Db, Tx};

/// A stored xorb: where each chunk ends, compressed (in the object) and unpacked.
#[derive(Debug, Clone)]
pub struct XorbRow {
    pub hash: String,
    pub size: u64,
    pub chunk_ends: Vec<u64>,
    pub unpacked_ends: Vec<u64>,
}

#[derive(FromRow)]
struct RawXorb {
    hash: String,
    size: i64,
    chunk_ends: String,
    unpacked_ends: String,
}

fn numbers(list: &str) -> Vec<u64> {
    list.split(',').filter_map(|n| n.parse().ok()).collect()
}

fn joined(list: &[u64]) -> String {
    list.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl From<RawXorb> for XorbRow {
    fn from(r: RawXorb) -> Self {
        Self {
            hash: r.hash,
            size: r.size as u64,
            chunk_ends: numbers(&r.chunk_ends),
            unpacked_ends: numbers(&r.unpacked_ends),
        }
    }
}

/// Records, inside `tx`, a xorb (with its chunks' hashes, and those of them
/// the global dedup route may be asked about) and that `user_id` sent it
/// (again), making it young again for the collector; true when the xorb is new.
/// Locks its row first, so a collection of the same xorb either finished before
/// or waits.
pub async fn record_xorb_in(
    tx: &mut Tx,
    db: &Db,
    xorb: &XorbRow,
    hashes: &[MerkleHash],
    eligible: &[MerkleHash],
    user_id: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let existing: Option<(i64,)> = sqlx::query_as(&format!(
        "SELECT size FROM xet_xorbs WHERE hash = $1{}",
        db.row_lock("UPDATE")
    ))
    .bind(&xorb.hash)
    .fetch_optional(&mut **tx)
    .await?;
    match existing {
        Some(_) => {
            sqlx::query("UPDATE xet_xorbs SET created_at = $2 WHERE hash = $1")
                .bind(&xorb.hash)
                .bind(now)
                .execute(&mut **tx)
                .await?;
        }
        None => {
            sqlx::query(
                "INSERT INTO xet_xorbs (hash, size, chunks, chunk_ends, unpacked_ends, chunk_hashes, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&xorb.hash)
            .bind(xorb.size as i64)
            .bind(xorb.chunk_ends.len() as i64)
            .bind(joined(&xorb.chunk_ends))
            .bind(joined(&xorb.unpacked_ends))
            .bind(hashes.iter().map(MerkleHash::hex).collect::<String>())
            .bind(now)
            .execute(&mut **tx)
            .await?;
            for chunk in eligible {
                record_dedup_chunk(tx, chunk, &xorb.hash).await?;
            }
        }
    }
    record_uploader(tx, &xorb.hash, user_id, now).await?;
    Ok(existing.is_none())
}

async fn record_uploader(tx: &mut Tx, hash: &str, user_id: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO xet_xorb_uploaders (hash, user_id, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (hash, user_id) DO NOTHING",
    )
    .bind(hash)
    .bind(user_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn record_dedup_chunk(tx: &mut Tx, chunk: &MerkleHash, xorb: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO xet_dedup_chunks (chunk_hash, xorb) VALUES ($1, $2)
         ON CONFLICT (chunk_hash, xorb) DO NOTHING",
    )
    .bind(chunk.hex())
    .bind(xorb)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The hashes of the xorb's chunks, in order, as recorded when it was uploaded;
/// `None` for a xorb that is not stored, empty for one stored before they were
/// recorded (migration 0009).
pub async fn chunk_hashes(db: &Db, hash: &str) -> sqlx::Result<Option<Vec<MerkleHash>>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT chunk_hashes FROM xet_xorbs WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|(joined,)| {
        joined
            .as_bytes()
            .chunks(64)
            .filter_map(|h| std::str::from_utf8(h).ok())
            .filter_map(|h| MerkleHash::from_hex(h).ok())
            .collect()
    }))
}

/// Records hashes computed later for a xorb stored before migration 0009.
pub async fn set_chunk_hashes(db: &Db, hash: &str, hashes: &[MerkleHash]) -> sqlx::Result<()> {
    sqlx::query("UPDATE xet_xorbs SET chunk_hashes = $2 WHERE hash = $1")
        .bind(hash)
        .bind(hashes.iter().map(MerkleHash::hex).collect::<String>())
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// The xorbs (at most `limit`) holding the dedup-eligible chunk `chunk`.
pub async fn xorbs_with_chunk(db: &Db, chunk: &str, limit: i64) -> sqlx::Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT xorb FROM xet_dedup_chunks WHERE chunk_hash = $1 ORDER BY xorb LIMIT $2",
    )
    .bind(chunk)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(x,)| x).collect())
}

/// The xorbs of the files whose terms lie in any of `xorbs`, these first, at most `limit`.
pub async fn xorbs_of_same_files(
    db: &Db,
    xorbs: &[String],
    limit: usize,
) -> sqlx::Result<Vec<String>> {
    let mut out: Vec<String> = xorbs.to_vec();
    if xorbs.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT DISTINCT fx.xorb FROM xet_file_xorbs fx WHERE fx.file_hash IN (
           SELECT file_hash FROM xet_file_xorbs WHERE xorb IN ({}))
         ORDER BY fx.xorb LIMIT {}",
        super::placeholders(1, xorbs.len()),
        limit + xorbs.len()
    );
    let mut q = sqlx::query_as::<_, (String,)>(&sql);
    for h in xorbs {
        q = q.bind(h);
    }
    for (h,) in q.fetch_all(&db.pool).await? {
        if out.len() >= limit {
            break;
        }
        if !out.contains(&h) {
            out.push(h);
        }
    }
    Ok(out)
}

/// Those of `hashes` that are terms of a file whose blob is one of `blobs`.
pub async fn xorbs_of_blobs(
    db: &Db,
    hashes: &[String],
    blobs: &[String],
) -> sqlx::Result<HashSet<String>> {
    let mut out = HashSet::new();
    if blobs.is_empty() {
        return Ok(out);
    }
    for chunk in hashes.chunks(200) {
        for blob_chunk in blobs.chunks(200) {
            let sql = format!(
                "SELECT DISTINCT fx.xorb FROM xet_file_xorbs fx JOIN xet_files f ON f.file_hash = fx.file_hash
                 WHERE fx.xorb IN ({}) AND f.sha256 IN ({})",
                super::placeholders(1, chunk.len()),
                super::placeholders(1 + chunk.len(), blob_chunk.len())
            );
            let mut q = sqlx::query_as::<_, (String,)>(&sql);
            for h in chunk.iter().chain(blob_chunk) {
                q = q.bind(h);
            }
            out.extend(q.fetch_all(&db.pool).await?.into_iter().map(|(h,)| h));
        }
    }
    Ok(out)
}

/// The blobs (SHA-256 hex) of the files whose terms name any of `hashes`.
pub async fn blobs_of_xorbs(db: &Db, hashes: &[String]) -> sqlx::Result<Vec<String>> {
    let mut out = std::collections::BTreeSet::new();
    for chunk in hashes.chunks(500) {
        let sql = format!(
            "SELECT DISTINCT f.sha256 FROM xet_file_xorbs fx JOIN xet_files f ON f.file_hash = fx.file_hash
             WHERE fx.xorb IN ({})",
            super::placeholders(1, chunk.len())
        );
        let mut q = sqlx::query_as::<_, (String,)>(&sql);
        for h in chunk {
            q = q.bind(h);
        }
        out.extend(q.fetch_all(&db.pool).await?.into_iter().map(|(h,)| h));
    }
    Ok(out.into_iter().collect())
}

/// The xorb `hash`, if stored.
pub async fn xorb(db: &Db, hash: &str) -> sqlx::Result<Option<XorbRow>> {
    let row: Option<RawXorb> = sqlx::query_as(
        "SELECT hash, size, chunk_ends, unpacked_ends FROM xet_xorbs WHERE hash = $1",
    )
    .bind(hash)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(XorbRow::from))
}

/// Those of `hashes` whose bytes `user_id` has sent.
pub async fn xorbs_sent_by(
    db: &Db,
    user_id: &str,
    hashes: &[String],
) -> sqlx::Result<HashSet<String>> {
    let mut out = HashSet::new();
    for chunk in hashes.chunks(500) {
        let sql = format!(
            "SELECT hash FROM xet_xorb_uploaders WHERE user_id = $1 AND hash IN ({})",
            super::placeholders(2, chunk.len())
        );
        let mut q = sqlx::query_as::<_, (String,)>(&sql).bind(user_id);
        for h in chunk {
            q = q.bind(h);
        }
        out.extend(q.fetch_all(&db.pool).await?.into_iter().map(|(h,)| h));
    }
    Ok(out)
}

/// A term of a file: chunks `start..end` of a xorb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub xorb: String,
    pub start: u32,
    pub end: u32,
}

/// A file rebuilt from Xet terms and stored as the blob `sha256`.
#[derive(Debug, Clone)]
pub struct XetFile {
    pub file_hash: String,
    pub sha256: String,
    pub size: u64,
    pub terms: Vec<Term>,
}

#[derive(FromRow)]
struct RawFile {
    file_hash: String,
    sha256: String,
    size: i64,
    terms: String,
}

impl From<RawFile> for XetFile {
    fn from(r: RawFile) -> Self {
        let terms = r
            .terms
            .split(' ')
            .filter_map(|t| {
                let mut p = t.split(':');
                Some(Term {
                    xorb: p.next()?.to_string(),
                    start: p.next()?.parse().ok()?,
                    end: p.next()?.parse().ok()?,
                })
            })
            .collect();
        Self {
            file_hash: r.file_hash,
            sha256: r.sha256,
            size: r.size as u64,
            terms,
        }
    }
}

/// Records a rebuilt file, the xorbs it names and its first chunk (which the
/// global dedup route may be asked about); false when its file hash was
/// recorded already.
pub async fn record_file(
    db: &Db,
    file: &XetFile,
    first_chunk: Option<&MerkleHash>,
    now: i64,
) -> sqlx::Result<bool> {
    let (mut tx, _guard) = db.begin_write().await?;
    let terms = file
        .terms
        .iter()
        .map(|t| format!("{}:{}:{}", t.xorb, t.start, t.end))
        .collect::<Vec<_>>()
        .join(" ");
    let r = sqlx::query(
        "INSERT INTO xet_files (file_hash, sha256, size, terms, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (file_hash) DO NOTHING",
    )
    .bind(&file.file_hash)
    .bind(&file.sha256)
    .bind(file.size as i64)
    .bind(terms)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let xorbs: std::collections::BTreeSet<&str> =
        file.terms.iter().map(|t| t.xorb.as_str()).collect();
    for xorb in xorbs {
        sqlx::query(
            "INSERT INTO xet_file_xorbs (file_hash, xorb) VALUES ($1, $2) ON CONFLICT (file_hash, xorb) DO NOTHING",
        )
        .bind(&file.file_hash)
        .bind(xorb)
        .execute(&mut *tx)
        .await?;
    }
    if let (Some(chunk), Some(first)) = (first_chunk, file.terms.first()) {
        record_dedup_chunk(&mut tx, chunk, &first.xorb).await?;
    }
    tx.commit().await?;
    Ok(r.rows_affected() == 1)
}

const FILE_COLUMNS: &str = "file_hash, sha256, size, terms";

/// The file recorded under `file_hash`, if any.
pub async fn file(db: &Db, file_hash: &str) -> sqlx::Result<Option<XetFile>> {
    let row: Option<RawFile> = sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM xet_files WHERE file_hash = $1"
    ))
    .bind(file_hash)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(XetFile::from))
}

/// A Xet representation of the blob `sha256`, if one was uploaded (the first recorded).
pub async fn file_of_blob(db: &Db, sha256: &str) -> sqlx::Result<Option<XetFile>> {
    let row: Option<RawFile> = sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM xet_files WHERE sha256 = $1 ORDER BY created_at, file_hash LIMIT 1"
    ))
    .bind(sha256)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(XetFile::from))
}

/// Whether the revision has a file whose content is the blob `sha256`.
pub async fn revision_has_blob(
    db: &Db,
    model_id: &str,
    revision_id: &str,
    sha256: &str,
) -> sqlx::Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT 1 FROM revision_files WHERE model_id = $1 AND revision_id = $2 AND sha256 = $3 LIMIT 1",
    )
    .bind(model_id)
    .bind(revision_id)
    .bind(sha256)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.is_some())
}

/// Forgets the Xet form of files whose blob was collected; how many.
pub async fn forget_files_without_blobs(db: &Db) -> sqlx::Result<u64> {
    let (mut tx, _guard) = db.begin_write().await?;
    let gone = "SELECT f.file_hash FROM xet_files f WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = f.sha256)";
    sqlx::query(&format!(
        "DELETE FROM xet_file_xorbs WHERE file_hash IN ({gone})"
    ))
    .execute(&mut *tx)
    .await?;
    let n = sqlx::query(&format!(
        "DELETE FROM xet_files WHERE file_hash IN ({gone})"
    ))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n)
}

const UNREFERENCED: &str = "created_at < $1 AND NOT EXISTS (SELECT 1 FROM xet_file_xorbs fx WHERE fx.xorb = xet_xorbs.hash)";

/// Xorbs last sent before `cutoff` that no file names: `(hash, size)`.
pub async fn unreferenced_xorbs(db: &Db, cutoff: i64) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as(&format!(
        "SELECT hash, size FROM xet_xorbs WHERE {UNREFERENCED} ORDER BY hash"
    ))
    .bind(cutoff)
    .fetch_all(&db.pool)
    .await
}

/// Locks the xorb's row inside `tx` and deletes it and its senders, if it is still
/// unreferenced and old; true when it did (the caller deletes the object, then commits).
pub async fn delete_unreferenced_xorb(
    db: &Db,
    tx: &mut Tx,
    hash: &str,
    cutoff: i64,
) -> sqlx::Result<bool> {
    let still: Option<(String,)> = sqlx::query_as(&format!(
        "SELECT hash FROM xet_xorbs WHERE hash = $2 AND {UNREFERENCED}{}",
        db.row_lock("UPDATE")
    ))
    .bind(cutoff)
    .bind(hash)
    .fetch_optional(&mut **tx)
    .await?;
    if still.is_none() {
        return Ok(false);
    }
    for table in [
        "xet_xorb_uploaders WHERE hash",
        "xet_dedup_chunks WHERE xorb",
    ] {
        sqlx::query(&format!("DELETE FROM {table} = $1"))
            .bind(hash)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("DELETE FROM xet_xorbs WHERE hash = $1")
        .bind(hash)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

/// Every stored xorb: `(hash, size)`.
pub async fn all_xorbs(db: &Db) -> sqlx::Result<Vec<(String, u64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT hash, size FROM xet_xorbs ORDER BY hash")
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(|(h, s)| (h, s as u64)).collect())
}

/// Files whose terms name a xorb that is not stored: `(file hash, xorb)`.
pub async fn files_naming_missing_xorbs(db: &Db) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT fx.file_hash, fx.xorb FROM xet_file_xorbs fx
         WHERE NOT EXISTS (SELECT 1 FROM xet_xorbs x WHERE x.hash = fx.xorb)
         ORDER BY fx.file_hash, fx.xorb",
    )
    .fetch_all(&db.pool)
    .await
}

/// Forgets a damaged xorb: its row, senders and dedup entries, and the Xet form
/// of every file built on it (their blobs stay); how many files.
pub async fn forget_xorb(db: &Db, hash: &str) -> sqlx::Result<u64> {
    let (mut tx, _guard) = db.begin_write().await?;
    let files = "SELECT file_hash FROM xet_file_xorbs WHERE xorb = $1";
    let n = sqlx::query(&format!(
        "DELETE FROM xet_files WHERE file_hash IN ({files})"
    ))
    .bind(hash)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(
        "DELETE FROM xet_file_xorbs WHERE file_hash NOT IN (SELECT file_hash FROM xet_files)",
    )
    .execute(&mut *tx)
    .await?;
    for table in [
        "xet_xorb_uploaders WHERE hash",
        "xet_dedup_chunks WHERE xorb",
        "xet_xorbs WHERE hash",
    ] {
        sqlx::query(&format!("DELETE FROM {table} = $1"))
            .bind(hash)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(n)
}

/// The bytes of the xorbs `user_id` sent that no file names (yet).
pub async fn unnamed_xorb_bytes(db: &Db, user_id: &str) -> sqlx::Result<u64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(x.size), 0) AS BIGINT) FROM xet_xorbs x JOIN xet_xorb_uploaders u ON u.hash = x.hash
         WHERE u.user_id = $1 AND NOT EXISTS (SELECT 1 FROM xet_file_xorbs fx WHERE fx.xorb = x.hash)",
    )
    .bind(user_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(n as u64)
}
