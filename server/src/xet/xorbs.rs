//! Xorb uploads (`POST /xet/v1/xorbs/default/{hash}`): every chunk decompressed
//! and hashed, the xorb hash recomputed and compared with the name it was sent
//! under; only then is it stored, as the chunks the client sent, under
//! `xet/xorbs/<hash>`, with a row of where each chunk ends. The sender is
//! recorded: only those who sent a xorb's bytes may name it in a shard.

use bytes::Bytes;
use xet_core_structures::merklehash::{MerkleHash, xorb_hash};

use super::{MAX_XORB_BYTES, Malformed, chunk_at};
use crate::app::App;
use crate::db::xet::{self, XorbRow};
use crate::error::{AppError, AppResult};
use crate::storage::Key;

/// The most chunks one xorb may hold (the spec's bound).
pub const MAX_CHUNKS: usize = 8192;

/// A parsed xorb: its hash, how many bytes of the body are chunks, and where
/// each chunk ends (serialized and unpacked).
pub struct Parsed {
    pub hash: MerkleHash,
    pub len: usize,
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
        hashes.push((chunk.hash, chunk.data.len() as u64));
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
        chunk_ends,
        unpacked_ends,
    })
}

/// Checks and stores a xorb `user_id` sent under the name `claimed`; true when
/// it was not stored before. A body whose hash is not `claimed` is refused and
/// nothing is kept.
pub async fn store(app: &App, user_id: &str, claimed: &str, body: Bytes) -> AppResult<bool> {
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
    let placed = place(app, &row, &staged, user_id).await;
    app.storage.delete_quietly(&staged).await;
    placed
}

async fn place(
    app: &App,
    row: &XorbRow,
    staged: &object_store::path::Path,
    user_id: &str,
) -> AppResult<bool> {
    let (mut tx, _guard) = app.db.begin_write().await?;
    let new =
        xet::record_xorb_in(&mut tx, &app.db, row, user_id, granary_core::time::now_ms()).await?;
    app.storage
        .rename(staged, &Key::Xorb(&row.hash).path())
        .await
        .map_err(AppError::internal)?;
    tx.commit().await?;
    Ok(new)
}
