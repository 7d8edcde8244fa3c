//! Xet storage for the stock Hugging Face clients (`hf_xet`): the domain under
//! the CAS surface (`routes/xet.rs`) and the Hub's token routes (docs/HF.md,
//! "Xet").
//!
//! A client uploads a large file as **xorbs** (runs of content-defined chunks,
//! each compressed on its own) and a **shard** that lists, per file, the terms
//! (xorb, chunk range) that rebuild it, with verification hashes and the file's
//! SHA-256. Granary trusts none of it: `xorbs.rs` decompresses and hashes every
//! chunk of an uploaded xorb and refuses one whose hash is not its name;
//! `shards.rs` rebuilds each file from its terms, checking every term's
//! verification hash and the file hash on the way, and streams the bytes into
//! the ordinary blob store (`ingest::store_stream`), which refuses a SHA-256 or
//! size other than the shard's. From then on the file is an ordinary blob: a
//! Hub commit names it by SHA-256 like any LFS upload, and every content check,
//! native pull, `/resolve` and the verifier see nothing new. Downloads go the
//! other way (`reconstruction.rs`): a revision's file that was uploaded over Xet
//! is described as terms, and its xorb bytes served under URLs signed for
//! exactly the byte ranges of that file (`data.rs`).
//!
//! Hashes use the `xet-core-structures` crate (the reference implementation):
//! chunk hashes, xorb and file Merkle hashes, verification range hashes, chunk
//! (de)compression and the shard format.

pub mod data;
pub mod dedup;
pub mod reconstruction;
pub mod shards;
pub mod token;
pub mod xorbs;

use std::io::Read;

use xet_core_structures::merklehash::MerkleHash;
use xet_core_structures::xorb_object::byte_grouping::bg4::bg4_regroup;
use xet_core_structures::xorb_object::{
    CompressionScheme, XORB_CHUNK_HEADER_LENGTH, parse_chunk_header,
};

/// The largest chunk a client makes (the chunker's maximum: twice the 64 KiB target).
pub const MAX_CHUNK_BYTES: u32 = 128 * 1024;

/// A xorb's bound on its serialized size (the spec's 64 MiB, plus the chunk headers).
pub const MAX_XORB_BYTES: usize = 64 * 1024 * 1024 + 8192 * XORB_CHUNK_HEADER_LENGTH;

/// A shard's bound on its size.
pub const MAX_SHARD_BYTES: usize = 64 * 1024 * 1024;

/// The string form of a Xet hash: a 64-hex name, parsed as the clients write it.
pub fn parse_hash(s: &str) -> Option<MerkleHash> {
    (s.len() == 64)
        .then(|| MerkleHash::from_hex(s).ok())
        .flatten()
}

/// One chunk of a xorb, decompressed (and not yet hashed).
pub struct Chunk {
    pub data: Vec<u8>,
    /// Where the chunk (header included) ends in the serialized xorb.
    pub end: usize,
}

/// Why serialized chunks did not parse.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

/// What starts at some offset of serialized chunks.
pub enum Next {
    Chunk(Chunk),
    /// Not a chunk header: a footer, which current clients do not send.
    Footer,
    /// A chunk (or its header) that the bytes so far end inside.
    Incomplete,
}

/// What starts at `at` of `raw`.
pub fn next_chunk(raw: &[u8], at: usize) -> Result<Next, Malformed> {
    let Some(header) = raw.get(at..at + XORB_CHUNK_HEADER_LENGTH) else {
        return Ok(Next::Incomplete);
    };
    let Ok(header) = parse_chunk_header(header.try_into().expect("header length")) else {
        return Ok(Next::Footer);
    };
    let declared = header.get_uncompressed_length();
    if declared > MAX_CHUNK_BYTES {
        return Err(Malformed(format!(
            "a chunk declares {declared} bytes; chunks are at most {MAX_CHUNK_BYTES}"
        )));
    }
    let start = at + XORB_CHUNK_HEADER_LENGTH;
    let end = start + header.get_compressed_length() as usize;
    let Some(compressed) = raw.get(start..end) else {
        return Ok(Next::Incomplete);
    };
    let data = unpack(
        header.get_compression_scheme(),
        compressed,
        declared as usize,
    )?;
    Ok(Next::Chunk(Chunk { data, end }))
}

/// The chunk that starts at `at` of `raw`, which holds whole chunks, or `None`
/// where what starts there is not a chunk header (a footer).
pub fn chunk_at(raw: &[u8], at: usize) -> Result<Option<Chunk>, Malformed> {
    match next_chunk(raw, at)? {
        Next::Chunk(chunk) => Ok(Some(chunk)),
        Next::Footer => Ok(None),
        Next::Incomplete => Err(Malformed("the last chunk is cut short".into())),
    }
}

/// Decompresses a chunk of `declared` bytes. Inflating stops one byte past
/// `declared`: a chunk that would inflate further (a compression bomb) is
/// refused without being inflated.
fn unpack(
    scheme: Result<CompressionScheme, xet_core_structures::CoreError>,
    compressed: &[u8],
    declared: usize,
) -> Result<Vec<u8>, Malformed> {
    let scheme =
        scheme.map_err(|e| Malformed(format!("a chunk has an unknown compression scheme: {e}")))?;
    let inflate = |compressed: &[u8]| -> Result<Vec<u8>, Malformed> {
        let mut out = Vec::with_capacity(declared);
        lz4_flex::frame::FrameDecoder::new(compressed)
            .take(declared as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| Malformed(format!("a chunk does not decompress: {e}")))?;
        Ok(out)
    };
    let data = match scheme {
        CompressionScheme::None => compressed.to_vec(),
        CompressionScheme::LZ4 => inflate(compressed)?,
        CompressionScheme::ByteGrouping4LZ4 => bg4_regroup(&inflate(compressed)?),
        CompressionScheme::Auto => {
            return Err(Malformed("a chunk names no compression scheme".into()));
        }
    };
    if data.len() != declared {
        return Err(Malformed(format!(
            "a chunk declares {declared} bytes but holds {}",
            data.len()
        )));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The string form of a hash (the spec's "Converting Hashes to Strings"):
    /// four little-endian u64 words, each printed as 16 hex digits.
    #[test]
    fn hash_strings_follow_the_spec_byte_order() {
        let raw: [u8; 32] = std::array::from_fn(|i| i as u8);
        let h = MerkleHash::from(&raw);
        assert_eq!(
            h.hex(),
            "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918"
        );
        assert_eq!(parse_hash(&h.hex()), Some(h));
        assert_eq!(parse_hash("zz"), None);
    }
}
