//! Who may build on which xorbs, and the global dedup answers
//! (`GET /xet/v1/chunks/default-merkledb/{chunk}`).
//!
//! The rule is blob claiming's (`access::referable_blobs`) carried over to
//! xorbs: a caller may name a xorb in a shard, and learn of it from a dedup
//! answer, only when it sent the xorb's bytes or may already download a file
//! whose terms lie in it. Knowing a chunk or xorb hash grants nothing.
//!
//! Within an available xorb, a term must still come with the verification
//! hash of its chunk range (`shards.rs`), which only a holder of those chunks
//! can compute: chunk hashes never leave the server unkeyed. A dedup answer
//! lists them as HMACs under a key made for that answer alone, so the client
//! can only recognise chunks it already has.

use std::collections::HashSet;
use std::io::Cursor;
use std::time::Duration;

use granary_core::Sha256;
use xet_core_structures::merklehash::{HMACKey, MerkleHash};
use xet_core_structures::metadata_shard::hash_is_global_dedup_eligible;
use xet_core_structures::metadata_shard::shard_format::MDBShardInfo;
use xet_core_structures::metadata_shard::shard_in_memory::MDBInMemoryShard;
use xet_core_structures::metadata_shard::xorb_structs::{
    MDBXorbInfo, XorbChunkSequenceEntry, XorbChunkSequenceHeader,
};

use crate::app::App;
use crate::auth::Caller;
use crate::db::xet::{self, XorbRow};
use crate::error::{AppError, AppResult};

/// How many xorbs holding the chunk one dedup answer starts from.
const MAX_HOLDERS: i64 = 4;

/// How many xorbs one dedup answer describes at most (4 GiB of chunks).
const MAX_XORBS_PER_ANSWER: usize = 64;

/// How long the key of a dedup answer is good for (the client drops the shard after).
const ANSWER_KEY_VALID_FOR: Duration = Duration::from_secs(3600);

/// Those of `hashes` the caller may build on: the xorbs it sent, and those
/// holding terms of a file it may download.
pub async fn available(
    app: &App,
    caller: &Caller,
    hashes: &[String],
) -> AppResult<HashSet<String>> {
    let Some(user) = &caller.user else {
        return Ok(HashSet::new());
    };
    let mut found = xet::xorbs_sent_by(&app.db, &user.id, hashes).await?;
    let rest: Vec<String> = hashes
        .iter()
        .filter(|h| !found.contains(*h))
        .cloned()
        .collect();
    if rest.is_empty() {
        return Ok(found);
    }
    let blobs: Vec<Sha256> = xet::blobs_of_xorbs(&app.db, &rest)
        .await?
        .iter()
        .filter_map(|b| b.parse().ok())
        .collect();
    let readable: Vec<String> = crate::access::referable_blobs(&app.db, caller, &blobs)
        .await?
        .iter()
        .map(Sha256::hex)
        .collect();
    found.extend(xet::xorbs_of_blobs(&app.db, &rest, &readable).await?);
    Ok(found)
}

/// The dedup answer for `chunk`: a shard describing the available xorbs that
/// hold it, chunk hashes keyed; `None` when there is none to tell of.
pub async fn answer(app: &App, caller: &Caller, chunk: &str) -> AppResult<Option<Vec<u8>>> {
    if super::parse_hash(chunk).is_none() {
        return Err(AppError::Invalid(format!("`{chunk}` is not a chunk hash")));
    }
    let holders = xet::xorbs_with_chunk(&app.db, chunk, MAX_HOLDERS).await?;
    if holders.is_empty() {
        return Ok(None);
    }
    // As the Hub's CAS answers with the whole shard a chunk came in, the answer
    // tells of the other xorbs of the files that hold the chunk too: a client
    // asks only about one chunk in a thousand, and would otherwise send again
    // every xorb none of those fell in.
    let holders = xet::xorbs_of_same_files(&app.db, &holders, MAX_XORBS_PER_ANSWER).await?;
    let available = available(app, caller, &holders).await?;
    let mut shard = MDBInMemoryShard::default();
    for hash in holders.iter().filter(|h| available.contains(*h)) {
        let Some(row) = xet::xorb(&app.db, hash).await? else {
            continue;
        };
        let hashes = super::xorbs::chunk_hashes(app, &row).await?;
        shard
            .add_xorb_block(xorb_info(&row, &hashes)?)
            .map_err(AppError::internal)?;
    }
    if shard.is_empty() {
        return Ok(None);
    }
    let key: HMACKey = MerkleHash::from(&rand::random::<[u8; 32]>());
    let plain = shard.to_bytes().map_err(AppError::internal)?;
    let mut keyed = Vec::new();
    MDBShardInfo::export_as_keyed_shard_streaming(
        &mut Cursor::new(plain),
        &mut keyed,
        key,
        ANSWER_KEY_VALID_FOR,
        false,
        true,
        true,
    )
    .map_err(AppError::internal)?;
    Ok(Some(keyed))
}

/// A stored xorb as a shard's xorb block: each chunk's hash, unpacked size and
/// where it starts once unpacked.
fn xorb_info(row: &XorbRow, hashes: &[MerkleHash]) -> AppResult<MDBXorbInfo> {
    let hash = super::parse_hash(&row.hash)
        .ok_or_else(|| AppError::internal_msg(format!("stored xorb name {}", row.hash)))?;
    let mut chunks = Vec::with_capacity(hashes.len());
    let mut start = 0u64;
    for (chunk, end) in hashes.iter().zip(&row.unpacked_ends) {
        chunks.push(
            XorbChunkSequenceEntry::new(*chunk, (end - start) as u32, start as u32)
                .with_global_dedup_flag(hash_is_global_dedup_eligible(chunk)),
        );
        start = *end;
    }
    let mut metadata = XorbChunkSequenceHeader::new(hash, chunks.len() as u32, start as u32);
    metadata.num_bytes_on_disk = row.size as u32;
    Ok(MDBXorbInfo { metadata, chunks })
}
