//! Shard uploads (`POST /xet/v1/shards`): each file a shard describes is rebuilt
//! from its terms and stored as an ordinary blob before the shard is accepted.
//!
//! Checked, in order, before a byte is rebuilt: every file carries verification
//! entries and its SHA-256 (the metadata extension `hf_xet` writes); every xorb
//! it names is stored and was sent by this user (knowing a xorb hash grants
//! nothing, as for blobs); every term's chunk range lies inside its xorb and
//! unpacks to the size the term states; the file fits the size limit and the uploader's quota. While the
//! bytes stream into the blob store, each term's verification hash and finally
//! the file hash are recomputed from the chunks themselves, and the blob store
//! refuses a SHA-256 or size other than the shard's. Any failure stores nothing
//! for that file (the answer is 400, which clients do not retry).

use std::collections::{BTreeSet, HashMap};
use std::io::Cursor;
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use granary_core::Sha256;
use xet_core_structures::merklehash::{MerkleHash, file_hash};
use xet_core_structures::metadata_shard::chunk_verification::range_hash_from_chunks;
use xet_core_structures::metadata_shard::file_structs::MDBFileInfoView;
use xet_core_structures::metadata_shard::streaming_shard::MDBMinimalShard;

use super::{MAX_SHARD_BYTES, chunk_at};
use crate::app::{App, AppState};
use crate::db::users::UserRow;
use crate::db::xet::{self, Term, XetFile, XorbRow};
use crate::error::{AppError, AppResult};
use crate::storage::Key;

/// A file of a shard, checked and ready to rebuild.
struct Planned {
    file_hash: MerkleHash,
    sha256: Sha256,
    size: u64,
    terms: Vec<PlannedTerm>,
}

struct PlannedTerm {
    xorb: Arc<XorbRow>,
    start: u32,
    end: u32,
    verification: MerkleHash,
}

impl PlannedTerm {
    /// The bytes of the xorb object that hold this term's chunks.
    fn byte_range(&self) -> std::ops::Range<u64> {
        let from = match self.start {
            0 => 0,
            s => self.xorb.chunk_ends[s as usize - 1],
        };
        from..self.xorb.chunk_ends[self.end as usize - 1]
    }

    fn unpacked(&self) -> u64 {
        let from = match self.start {
            0 => 0,
            s => self.xorb.unpacked_ends[s as usize - 1],
        };
        self.xorb.unpacked_ends[self.end as usize - 1] - from
    }
}

/// Registers the files of a shard `user_id` sent; true when any was new.
pub async fn register(app: &AppState, user: &UserRow, body: Bytes) -> AppResult<bool> {
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
    let xorbs = available_xorbs(app, &user.id, &views).await?;
    let mut any_new = false;
    for view in views {
        let planned = plan(app, view, &xorbs)?;
        // The rebuilt file counts against the quota as any uploaded blob does.
        crate::quota::reserve_upload(app, user, planned.size).await?;
        any_new |= rebuild(app, &user.id, planned).await?;
    }
    Ok(any_new)
}

/// The xorbs the shard names, each stored and sent by `user_id`; else the shard
/// is refused, alike for a xorb that is missing and one sent by someone else.
async fn available_xorbs(
    app: &App,
    user_id: &str,
    views: &[&MDBFileInfoView],
) -> AppResult<HashMap<String, Arc<XorbRow>>> {
    let named: BTreeSet<String> = views
        .iter()
        .flat_map(|v| (0..v.num_entries()).map(|i| v.entry(i).xorb_hash.hex()))
        .collect();
    let named: Vec<String> = named.into_iter().collect();
    let sent = xet::xorbs_sent_by(&app.db, user_id, &named).await?;
    let mut out = HashMap::new();
    for hash in named {
        let row = match sent.contains(&hash) {
            true => xet::xorb(&app.db, &hash).await?,
            false => None,
        };
        let row = row.ok_or_else(|| {
            AppError::Invalid(format!(
                "the shard names xorb {hash}, which is not stored or not yours: upload it first"
            ))
        })?;
        out.insert(hash, Arc::new(row));
    }
    Ok(out)
}

/// Checks a file's entries against the stored xorbs.
fn plan(
    app: &App,
    view: &MDBFileInfoView,
    xorbs: &HashMap<String, Arc<XorbRow>>,
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
        if start >= end || end as usize > xorb.chunk_ends.len() {
            return Err(invalid(format!(
                "term {i} names chunks {start}..{end} of xorb {}, which has {}",
                xorb.hash,
                xorb.chunk_ends.len()
            )));
        }
        let term = PlannedTerm {
            xorb,
            start,
            end,
            verification: view.verification(i).range_hash,
        };
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
    if size > app.config.max_file_size {
        return Err(AppError::TooLarge(format!(
            "file {} is {size} bytes; the largest accepted is {}",
            file_hash.hex(),
            app.config.max_file_size
        )));
    }
    Ok(Planned {
        file_hash,
        sha256,
        size,
        terms,
    })
}

/// Rebuilds a planned file into the blob store and records it; true when new.
async fn rebuild(app: &AppState, user_id: &str, planned: Planned) -> AppResult<bool> {
    let record = XetFile {
        file_hash: planned.file_hash.hex(),
        sha256: planned.sha256.hex(),
        size: planned.size,
        terms: planned
            .terms
            .iter()
            .map(|t| Term {
                xorb: t.xorb.hash.clone(),
                start: t.start,
                end: t.end,
            })
            .collect(),
    };
    let expected = (planned.sha256, planned.size);
    let owned = app.clone();
    let stream = Box::pin(
        futures::stream::iter(planned.terms.into_iter().enumerate())
            .then(move |(i, term)| {
                let app = owned.clone();
                async move { term_chunks(&app, i, term).await }
            })
            .try_flatten(),
    );
    let chunks = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = chunks.clone();
    let recorded = stream.map_ok(move |(hash, data): (MerkleHash, Bytes)| {
        seen.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((hash, data.len() as u64));
        data
    });
    // The file hash is known only once every chunk has passed: a stream that
    // ends with a mismatch fails before the blob store keeps anything.
    let want = planned.file_hash;
    let checked = recorded.chain(futures::stream::once(async move {
        let got = file_hash(&chunks.lock().unwrap_or_else(|e| e.into_inner()));
        match got == want {
            true => Ok(Bytes::new()),
            false => Err(format!(
                "the file's chunks hash to {}, not the file hash {} the shard gives",
                got.hex(),
                want.hex()
            )),
        }
    }));
    crate::ingest::store_stream(app, user_id, Box::pin(checked), Some(expected)).await?;
    Ok(xet::record_file(&app.db, &record, granary_core::time::now_ms()).await?)
}

type TermChunks = futures::stream::Iter<std::vec::IntoIter<Result<(MerkleHash, Bytes), String>>>;

/// The chunks of term `i`, decompressed and hashed, once its verification hash
/// has been checked against them.
async fn term_chunks(app: &App, i: usize, term: PlannedTerm) -> Result<TermChunks, String> {
    let key = Key::Xorb(&term.xorb.hash).path();
    let bytes: Vec<Bytes> = app
        .storage
        .get_range_stream(&key, term.byte_range())
        .await
        .map_err(|e| format!("reading xorb {} failed: {e}", term.xorb.hash))?
        .try_collect()
        .await
        .map_err(|e| format!("reading xorb {} failed: {e}", term.xorb.hash))?;
    let raw = bytes.concat();
    let mut at = 0;
    let mut out = Vec::with_capacity((term.end - term.start) as usize);
    let mut hashes = Vec::with_capacity(out.capacity());
    for _ in term.start..term.end {
        let chunk = chunk_at(&raw, at)
            .map_err(|e| format!("xorb {}: {e}", term.xorb.hash))?
            .ok_or_else(|| format!("xorb {} is damaged", term.xorb.hash))?;
        at = chunk.end;
        hashes.push(chunk.hash);
        out.push(Ok((chunk.hash, Bytes::from(chunk.data))));
    }
    if range_hash_from_chunks(&hashes) != term.verification {
        return Err(format!(
            "the verification hash of term {i} does not match chunks {}..{} of xorb {}",
            term.start, term.end, term.xorb.hash
        ));
    }
    Ok(futures::stream::iter(out))
}
