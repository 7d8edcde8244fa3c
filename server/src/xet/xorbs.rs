//! Xorb uploads (`POST /xet/v1/xorbs/default/{hash}`): every chunk decompressed
//! and hashed, the xorb hash recomputed and compared with the name it was sent
//! under; only then is it stored, as the chunks the client sent, under
//! `xet/xorbs/<hash>`, with a row of where each chunk ends and what each hashes
//! to. The sender is recorded: a xorb may be named in a shard only by those who
//! sent its bytes or may read a file built from it (`dedup::available`).

use std::sync::{Arc, Mutex};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use xet_core_structures::merklehash::{MerkleHash, compute_data_hash, xorb_hash};
use xet_core_structures::metadata_shard::hash_is_global_dedup_eligible;

use super::{MAX_XORB_BYTES, Malformed, Next, next_chunk};
use crate::app::{App, Stats};
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

/// Parses a xorb body as it arrives: each chunk is decompressed and hashed once
/// its bytes are in, and handed on; at most one chunk is held meanwhile. A
/// footer after the chunks, which current clients do not send, is ignored and
/// not kept.
#[derive(Default)]
pub struct Parser {
    pending: BytesMut,
    hashes: Vec<(MerkleHash, u64)>,
    chunk_ends: Vec<u64>,
    unpacked_ends: Vec<u64>,
    len: u64,
    unpacked: u64,
    footer: bool,
}

impl Parser {
    /// Takes the next bytes of the body; returns those of its chunks that are
    /// now whole and checked.
    pub fn feed(&mut self, data: &[u8]) -> Result<Bytes, Malformed> {
        if self.footer {
            return Ok(Bytes::new());
        }
        self.pending.extend_from_slice(data);
        let mut at = 0;
        loop {
            let chunk = match next_chunk(&self.pending, at)? {
                Next::Chunk(chunk) => chunk,
                Next::Footer => {
                    self.footer = true;
                    break;
                }
                Next::Incomplete => break,
            };
            if self.hashes.len() == MAX_CHUNKS {
                return Err(Malformed(format!(
                    "a xorb holds at most {MAX_CHUNKS} chunks"
                )));
            }
            self.unpacked += chunk.data.len() as u64;
            self.len += (chunk.end - at) as u64;
            self.hashes
                .push((compute_data_hash(&chunk.data), chunk.data.len() as u64));
            self.chunk_ends.push(self.len);
            self.unpacked_ends.push(self.unpacked);
            at = chunk.end;
        }
        let whole = self.pending.split_to(at).freeze();
        if self.footer {
            self.pending.clear();
        }
        Ok(whole)
    }

    /// The xorb, once the body has ended.
    pub fn finish(self) -> Result<Parsed, Malformed> {
        if !self.pending.is_empty() {
            return Err(Malformed(format!(
                "the last chunk is cut short ({} stray bytes)",
                self.pending.len()
            )));
        }
        if self.hashes.is_empty() {
            return Err(Malformed("a xorb holds no chunk".into()));
        }
        Ok(Parsed {
            hash: xorb_hash(&self.hashes),
            len: self.len as usize,
            chunk_hashes: self.hashes.into_iter().map(|(h, _)| h).collect(),
            chunk_ends: self.chunk_ends,
            unpacked_ends: self.unpacked_ends,
        })
    }
}

/// Parses and hashes a whole serialized xorb.
pub fn parse(raw: &[u8]) -> Result<Parsed, Malformed> {
    let mut parser = Parser::default();
    parser.feed(raw)?;
    parser.finish()
}

/// Checks and stores a xorb `user` sent under the name `claimed`; true when it
/// was not stored before. The body is parsed and staged as it arrives; one
/// whose hash is not `claimed` is refused and nothing is kept.
pub async fn store(app: &App, user: &UserRow, claimed: &str, body: Body) -> AppResult<bool> {
    let claimed_hash = super::parse_hash(claimed)
        .ok_or_else(|| AppError::Invalid(format!("`{claimed}` is not a xorb hash")))?;
    let staging = format!("xet-{}", crate::db::new_id());
    let staged = Key::UploadPart(&staging, 0).path();
    let stored = stage(app, &staged, body).await;
    let outcome = match stored {
        Ok(parsed) => check_and_place(app, user, claimed, &claimed_hash, parsed, &staged).await,
        Err(e) => Err(e),
    };
    app.storage.delete_quietly(&staged).await;
    outcome
}

/// Streams the body's chunks into `staged`, parsing them on the way.
async fn stage(app: &App, staged: &object_store::path::Path, body: Body) -> AppResult<Parsed> {
    let parser = Arc::new(Mutex::new(Parser::default()));
    let refused = Arc::new(Mutex::new(None::<Refused>));
    let (fed, why) = (parser.clone(), refused.clone());
    let stats = &app.stats;
    let mut received = 0usize;
    let chunks = body.into_data_stream().map(move |frame| {
        let step = || {
            let frame = frame.map_err(|e| Refused::Body(e.to_string()))?;
            received += frame.len();
            Stats::add(&stats.xet_bytes_received, frame.len() as u64);
            if received > MAX_XORB_BYTES {
                return Err(Refused::TooLarge);
            }
            lock(&fed).feed(&frame).map_err(Refused::Malformed)
        };
        let step = step();
        if let Err(e) = &step {
            *lock(&why) = Some(e.clone());
        }
        step
    });
    let written = app
        .storage
        .put_stream(staged, MAX_XORB_BYTES as u64, Box::pin(chunks))
        .await;
    let parser = std::mem::take(&mut *lock(&parser));
    let refused = lock(&refused).take();
    match (written, refused) {
        (Ok(_), _) => parser
            .finish()
            .map_err(|e| AppError::Invalid(format!("the xorb is malformed: {e}"))),
        (Err(_), Some(Refused::TooLarge)) => Err(AppError::TooLarge(format!(
            "a xorb is at most {MAX_XORB_BYTES} bytes"
        ))),
        (Err(_), Some(why)) => Err(AppError::Invalid(why.to_string())),
        (Err(e), None) => Err(AppError::internal_msg(e)),
    }
}

/// Why a xorb body was refused while it streamed in.
#[derive(Debug, Clone, thiserror::Error)]
enum Refused {
    #[error("the xorb is larger than allowed")]
    TooLarge,
    #[error("the xorb is malformed: {0}")]
    Malformed(Malformed),
    #[error("the xorb's body failed: {0}")]
    Body(String),
}

fn lock<T>(held: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    held.lock().unwrap_or_else(|e| e.into_inner())
}

async fn check_and_place(
    app: &App,
    user: &UserRow,
    claimed: &str,
    claimed_hash: &MerkleHash,
    parsed: Parsed,
    staged: &object_store::path::Path,
) -> AppResult<bool> {
    if parsed.hash != *claimed_hash {
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
    // Moved into place under the row's lock, as blobs are (`ingest::place`): a
    // collection of the same xorb finishes before or waits.
    place(app, &row, &parsed.chunk_hashes, staged, &user.id).await
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
