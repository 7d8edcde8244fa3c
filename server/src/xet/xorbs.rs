//! Xorb uploads (`POST /xet/v1/xorbs/default/{hash}`): every chunk decompressed
//! and hashed, the xorb hash recomputed and compared with the name it was sent
//! under; only then is it stored, as the chunks the client sent, under
//! `xet/xorbs/<hash>`, with a row of where each chunk ends and what each hashes
//! to. The sender is recorded: a xorb may be named in a shard only by those who
//! sent its bytes or may read a file built from it (`dedup::available`).

use bytes::Bytes;
use xet_core_structures::merklehash::{MerkleHash, compute_data_hash, xorb_hash};
use xet_core_structures::metadata_shard::hash_is_global_dedup_eligible;

use super::{MAX_XORB_BYTES, Malformed, chunk_at};
use crate::app::App;
use crate::db::users::UserRow;
use crate::db::xet::{self, XorbRow};
use crate::error::{AppError, AppResult};
use crate::storage::Key;

/// The most chunks one xorb may hold (the spec's bound).
pub const MAX_CHUNKS: usize = 8192;

/// A parsed xorb: its hash, how many bytes of the body are chunks, each chunk's
/// hash and where each chunk ends (serialized and unpacked).
pub struct Parsed {
    pub hash: MerkleHash,
    pub len: usize,
    pub chunk_hashes: Vec<MerkleHash>,
    pub chunk_ends: Vec<u64>,
    pub unpacked_ends: Vec<u64>,
}

/// Parses and hashes a serialized xorb. A footer after the chunks, which
/// current clients do not send, is ignored and not kept.
pub fn parse(raw: &[u8]) -> Result<Parsed, Malformed> {
    let mut at = 0;
    let mut hashes = Vec::new();
    let mut chunk_ends = Vec::new();
    let mut unpacked_ends = Vec::new();
    let mut unpacked = 0u64;
    while at < raw.len() {
        let Some(chunk) = chunk_at(raw, at)? else {
            break;
        };
        if hashes.len() == MAX_CHUNKS {
            return Err(Malformed(format!(
                "a xorb holds at most {MAX_CHUNKS} chunks"
            )));
        }
        unpacked += chunk.data.len() as u64;
        hashes.push((compute_data_hash(&chunk.data), chunk.data.len() as u64));
        chunk_ends.push(chunk.end as u64);
        unpacked_ends.push(unpacked);
        at = chunk.end;
    }
    if hashes.is_empty() {
        return Err(Malformed("a xorb holds no chunk".into()));
    }
    Ok(Parsed {
        hash: xorb_hash(&hashes),
        len: at,
        chunk_hashes: hashes.into_iter().map(|(h, _)| h).collect(),
        chunk_ends,
        unpacked_ends,
    })
}

/// Checks and stores a xorb `user_id` sent under the name `claimed`; true when
/// it was not stored before. A body whose hash is not `claimed` is refused and
/// nothing is kept.
pub async fn store(app: &App, user: &UserRow, claimed: &str, body: Bytes) -> AppResult<bool> {
    let user_id = user.id.as_str();
    let claimed_hash = super::parse_hash(claimed)
        .ok_or_else(|| AppError::Invalid(format!("`{claimed}` is not a xorb hash")))?;
    if body.len() > MAX_XORB_BYTES {
        return Err(AppError::TooLarge(format!(
            "a xorb is at most {MAX_XORB_BYTES} bytes"
        )));
    }
    let raw = body.clone();
    let parsed = tokio::task::spawn_blocking(move || parse(&raw))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| AppError::Invalid(format!("the xorb is malformed: {e}")))?;
    if parsed.hash != claimed_hash {
        return Err(AppError::DigestMismatch(format!(
            "the xorb's chunks hash to {}, not {claimed}",
            parsed.hash.hex()
        )));
    }
    // Until a shard names it, a xorb counts against its sender's quota.
    crate::quota::reserve_xorb(app, user, parsed.len as u64).await?;
    let row = XorbRow {
        hash: parsed.hash.hex(),
        size: parsed.len as u64,
        chunk_ends: parsed.chunk_ends,
        unpacked_ends: parsed.unpacked_ends,
    };
    // Staged first, then moved into place under the row's lock, as blobs are
    // (`ingest::place`): a collection of the same xorb finishes before or waits.
    let staging = format!("xet-{}", crate::db::new_id());
    let staged = Key::UploadPart(&staging, 0).path();
    app.storage
        .put(&staged, body.slice(..parsed.len))
        .await
        .map_err(AppError::internal)?;
    let placed = place(app, &row, &parsed.chunk_hashes, &staged, user_id).await;
    app.storage.delete_quietly(&staged).await;
    placed
}

async fn place(
    app: &App,
    row: &XorbRow,
    hashes: &[MerkleHash],
    staged: &object_store::path::Path,
    user_id: &str,
) -> AppResult<bool> {
    let eligible: Vec<MerkleHash> = hashes
        .iter()
        .filter(|h| hash_is_global_dedup_eligible(h))
        .copied()
        .collect();
    let (mut tx, _guard) = app.db.begin_write().await?;
    let now = granary_core::time::now_ms();
    let new = xet::record_xorb_in(&mut tx, &app.db, row, hashes, &eligible, user_id, now).await?;
    app.storage
        .rename(staged, &Key::Xorb(&row.hash).path())
        .await
        .map_err(AppError::internal)?;
    tx.commit().await?;
    Ok(new)
}

/// The hashes of a stored xorb's chunks, in order: as recorded at upload, or,
/// for a xorb stored before they were recorded, computed from its object once
/// and recorded.
pub async fn chunk_hashes(app: &App, row: &XorbRow) -> AppResult<Vec<MerkleHash>> {
    let recorded = xet::chunk_hashes(&app.db, &row.hash)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no xorb {}", row.hash)))?;
    if recorded.len() == row.chunk_ends.len() {
        return Ok(recorded);
    }
    let raw = read(app, &row.hash, 0..row.size).await?;
    let parsed = tokio::task::spawn_blocking(move || parse(&raw))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| AppError::internal_msg(format!("stored xorb {} is damaged: {e}", row.hash)))?;
    xet::set_chunk_hashes(&app.db, &row.hash, &parsed.chunk_hashes).await?;
    Ok(parsed.chunk_hashes)
}

/// The bytes `range` of the stored xorb `hash`.
pub async fn read(app: &App, hash: &str, range: std::ops::Range<u64>) -> AppResult<Bytes> {
    use futures::TryStreamExt;
    let parts: Vec<Bytes> = app
        .storage
        .get_range_stream(&Key::Xorb(hash).path(), range)
        .await
        .map_err(AppError::internal)?
        .try_collect()
        .await
        .map_err(AppError::internal)?;
    Ok(match parts.len() {
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => Bytes::from(parts.concat()),
    })
}
