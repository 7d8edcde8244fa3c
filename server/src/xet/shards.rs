//! Shard uploads (`POST /xet/v1/shards`): each file a shard describes is rebuilt
//! from its terms and stored as an ordinary blob before the shard is accepted.
//!
//! Checked, in order, before a byte is rebuilt: every file carries verification
//! entries and its SHA-256 (the metadata extension `hf_xet` writes); every xorb
//! it names is stored and available to this user (`dedup::available`: knowing
//! a xorb hash grants nothing, as for blobs); every term's chunk range lies
//! inside its xorb and unpacks to the size the term states; each term's
//! verification hash and the file hash match the chunk hashes the server
//! computed when the xorbs were uploaded; the file fits the size limit and the
//! uploader's quota. The bytes then stream into the blob store, which refuses
//! a SHA-256 or size other than the shard's. Any failure stores nothing for
//! that file (the answer is 400, which clients do not retry).

use std::collections::{BTreeSet, HashMap};
use std::io::Cursor;
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use granary_core::Sha256;
use xet_core_structures::merklehash::MerkleHash;
use xet_core_structures::metadata_shard::chunk_verification::range_hash_from_chunks;
use xet_core_structures::metadata_shard::file_structs::MDBFileInfoView;
use xet_core_structures::metadata_shard::streaming_shard::MDBMinimalShard;

use super::{MAX_SHARD_BYTES, chunk_at};
use crate::app::{App, AppState};
use crate::auth::Caller;
use crate::db::xet::{self, Term, XetFile, XorbRow};
use crate::error::{AppError, AppResult};

/// A stored xorb and its chunks' hashes.
struct Stored {
    row: XorbRow,
    hashes: Vec<MerkleHash>,
}

/// A file of a shard, checked and ready to rebuild.
struct Planned {
    file_hash: MerkleHash,
    first_chunk: MerkleHash,
    sha256: Sha256,
    size: u64,
    terms: Vec<PlannedTerm>,
}

struct PlannedTerm {
    xorb: Arc<Stored>,
    start: u32,
    end: u32,
}

impl PlannedTerm {
    /// The bytes of the xorb object that hold this term's chunks.
    fn byte_range(&self) -> std::ops::Range<u64> {
        let ends = &self.xorb.row.chunk_ends;
        let from = match self.start {
            0 => 0,
            s => ends[s as usize - 1],
        };
        from..ends[self.end as usize - 1]
    }

    /// Each chunk's hash and unpacked size.
    fn chunks(&self) -> impl Iterator<Item = (MerkleHash, u64)> + '_ {
        let ends = &self.xorb.row.unpacked_ends;
        (self.start as usize..self.end as usize).map(move |i| {
            let from = if i == 0 { 0 } else { ends[i - 1] };
            (self.xorb.hashes[i], ends[i] - from)
        })
    }

    fn unpacked(&self) -> u64 {
        self.chunks().map(|(_, n)| n).sum()
    }
}

/// Registers the files of a shard the caller sent; true when any was new.
pub async fn register(app: &AppState, caller: &Caller, body: Bytes) -> AppResult<bool> {
    let user = caller.require_user()?;
    if body.len() > MAX_SHARD_BYTES {
        return Err(AppError::TooLarge(format!(
            "a shard is at most {MAX_SHARD_BYTES} bytes"
        )));
    }
    let shard = MDBMinimalShard::from_reader(&mut Cursor::new(&body[..]), true, false)
        .map_err(|e| AppError::Invalid(format!("the shard is malformed: {e}")))?;
    let views: Vec<&MDBFileInfoView> = (0..shard.num_files())
        .filter_map(|i| shard.file(i))
        .collect();
    let xorbs = available_xorbs(app, caller, &views).await?;
    // Every file is checked before any is rebuilt.
    let planned = views
        .into_iter()
        .map(|view| plan(app, view, &xorbs))
        .collect::<AppResult<Vec<Planned>>>()?;
    // The rebuilt files count against the quota as any uploaded blob does.
    let total = planned.iter().map(|p| p.size).sum();
    crate::quota::reserve_upload(app, user, total).await?;
    // Two at a time: the client waits idle meanwhile, and each rebuild is
    // mostly one core's hashing.
    let new: Vec<bool> = futures::stream::iter(planned)
        .map(|p| rebuild(app, &user.id, p))
        .buffer_unordered(2)
        .try_collect()
        .await?;
    Ok(new.contains(&true))
}

/// The xorbs the shard names, each stored and available to the caller; else
/// the shard is refused, alike for a xorb that is missing and one the caller
/// may not build on.
async fn available_xorbs(
    app: &App,
    caller: &Caller,
    views: &[&MDBFileInfoView],
) -> AppResult<HashMap<String, Arc<Stored>>> {
    let named: BTreeSet<String> = views
        .iter()
        .flat_map(|v| (0..v.num_entries()).map(|i| v.entry(i).xorb_hash.hex()))
        .collect();
    let named: Vec<String> = named.into_iter().collect();
    let available = super::dedup::available(app, caller, &named).await?;
    let mut out = HashMap::new();
    for hash in named {
        let row = match available.contains(&hash) {
            true => xet::xorb(&app.db, &hash).await?,
            false => None,
        };
        let row = row.ok_or_else(|| {
            AppError::Invalid(format!(
                "the shard names xorb {hash}, which is not stored or not yours: upload it first"
            ))
        })?;
        let hashes = super::xorbs::chunk_hashes(app, &row).await?;
        out.insert(hash, Arc::new(Stored { row, hashes }));
    }
    Ok(out)
}

/// Checks a file's entries against the stored xorbs.
fn plan(
    app: &App,
    view: &MDBFileInfoView,
    xorbs: &HashMap<String, Arc<Stored>>,
) -> AppResult<Planned> {
    let file_hash = view.file_hash();
    let invalid = |why: String| AppError::Invalid(format!("file {}: {why}", file_hash.hex()));
    if !view.contains_verification() {
        return Err(invalid("the shard carries no verification entries".into()));
    }
    let sha256 = view
        .metadata_ext()
        .ok_or_else(|| invalid("the shard does not give the file's SHA-256".into()))?
        .sha256;
    // The extension holds the SHA-256 as a Xet hash; its string form is the usual hex.
    let sha256: Sha256 = sha256
        .hex()
        .parse()
        .map_err(|e: granary_core::digest::DigestError| invalid(e.to_string()))?;
    let mut terms = Vec::with_capacity(view.num_entries());
    let mut size = 0u64;
    for i in 0..view.num_entries() {
        let entry = view.entry(i);
        let xorb = xorbs[&entry.xorb_hash.hex()].clone();
        let (start, end) = (entry.chunk_index_start, entry.chunk_index_end);
        if start >= end || end as usize > xorb.row.chunk_ends.len() {
            return Err(invalid(format!(
                "term {i} names chunks {start}..{end} of xorb {}, which has {}",
                xorb.row.hash,
                xorb.row.chunk_ends.len()
            )));
        }
        let term = PlannedTerm { xorb, start, end };
        let hashes: Vec<MerkleHash> = term.chunks().map(|(h, _)| h).collect();
        if range_hash_from_chunks(&hashes) != view.verification(i).range_hash {
            return Err(invalid(format!(
                "the verification hash of term {i} does not match chunks {start}..{end} of xorb {}",
                term.xorb.row.hash
            )));
        }
        if term.unpacked() != entry.unpacked_segment_bytes as u64 {
            return Err(invalid(format!(
                "term {i} states {} bytes but its chunks hold {}",
                entry.unpacked_segment_bytes,
                term.unpacked()
            )));
        }
        size += term.unpacked();
        terms.push(term);
    }
    let chunks: Vec<(MerkleHash, u64)> = terms.iter().flat_map(PlannedTerm::chunks).collect();
    let got = xet_core_structures::merklehash::file_hash(&chunks);
    if got != file_hash {
        return Err(invalid(format!(
            "the file's chunks hash to {}, not the file hash the shard gives",
            got.hex()
        )));
    }
    let first_chunk = chunks
        .first()
        .map(|(h, _)| *h)
        .ok_or_else(|| invalid("the file has no terms".into()))?;
    if size > app.config.max_file_size {
        return Err(AppError::TooLarge(format!(
            "file {} is {size} bytes; the largest accepted is {}",
            file_hash.hex(),
            app.config.max_file_size
        )));
    }
    Ok(Planned {
        file_hash,
        first_chunk,
        sha256,
        size,
        terms,
    })
}

/// Rebuilds a planned file into the blob store and records it; true when new.
/// Its hashes were checked in `plan`; the blob store checks its SHA-256 and size.
async fn rebuild(app: &AppState, user_id: &str, planned: Planned) -> AppResult<bool> {
    let record = XetFile {
        file_hash: planned.file_hash.hex(),
        sha256: planned.sha256.hex(),
        size: planned.size,
        terms: planned
            .terms
            .iter()
            .map(|t| Term {
                xorb: t.xorb.row.hash.clone(),
                start: t.start,
                end: t.end,
            })
            .collect(),
    };
    let expected = (planned.sha256, planned.size);
    let stream = Box::pin(unpacked(app.clone(), planned.terms));
    crate::ingest::store_stream(app, user_id, stream, Some(expected)).await?;
    let first = Some(&planned.first_chunk);
    Ok(xet::record_file(&app.db, &record, first, granary_core::time::now_ms()).await?)
}

/// How many unpacked bytes the rebuild hands on at once: under jemalloc's
/// 8 MiB "oversize" threshold, above which freed pages go back to the kernel
/// at once and every new buffer faults its pages in again.
const BATCH_BYTES: usize = 4 * 1024 * 1024;

/// The unpacked bytes of the terms, in batches of about `BATCH_BYTES`. A task
/// reads each term's chunks and unpacks them off the async threads while the
/// blob store hashes and writes the batches before; memory stays bounded by
/// one term's packed bytes (64 MiB) and a few batches, whatever the chunks
/// unpack to (a term may unpack to 1 GiB).
fn unpacked(
    app: AppState,
    terms: Vec<PlannedTerm>,
) -> impl futures::Stream<Item = Result<Bytes, String>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(2);
    tokio::spawn(async move {
        for term in terms {
            let hash = term.xorb.row.hash.clone();
            let raw = match super::xorbs::read(&app, &hash, term.byte_range()).await {
                Ok(raw) => raw,
                Err(e) => {
                    let _ = tx
                        .send(Err(format!("reading xorb {hash} failed: {e}")))
                        .await;
                    return;
                }
            };
            let sender = tx.clone();
            let unpacking = tokio::task::spawn_blocking(move || {
                let fail = |why: String| sender.blocking_send(Err(why)).map(|_| false);
                let mut batch = Vec::with_capacity(BATCH_BYTES);
                let mut at = 0;
                for _ in term.start..term.end {
                    let chunk = match chunk_at(&raw, at) {
                        Ok(Some(chunk)) => chunk,
                        Ok(None) => return fail(format!("xorb {hash} is damaged")),
                        Err(e) => return fail(format!("xorb {hash}: {e}")),
                    };
                    at = chunk.end;
                    batch.extend_from_slice(&chunk.data);
                    if batch.len() >= BATCH_BYTES {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_BYTES));
                        sender.blocking_send(Ok(Bytes::from(full)))?;
                    }
                }
                if !batch.is_empty() {
                    sender.blocking_send(Ok(Bytes::from(batch)))?;
                }
                Ok(true)
            });
            // Stop at the first failure, or once the reader has gone away.
            if !matches!(unpacking.await, Ok(Ok(true))) {
                return;
            }
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}
