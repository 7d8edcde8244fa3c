//! The first bytes of one zip member, stored or inflated, checked as an npy
//! header and as a pickle.

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};

use super::super::npy::{self, Header};
use super::super::pickle::{Recogniser, Walk};
use super::super::{ByteSource, read_at};
use super::{LOCAL_LEN, LOCAL_SIG, Member, le};

/// Decompressed bytes of each member checked as a pickle.
const HEAD: u64 = 4096;

/// Room for a local header's extra field in the first read: PyTorch pads
/// members to 64-byte alignment there.
const EXTRA_ROOM: u64 = 256;

/// What makes a member unsafe to load, in words, if anything.
pub(super) async fn check<S: ByteSource + ?Sized>(
    src: &S,
    m: &Member,
) -> Result<Option<String>, S::Error> {
    // Encrypted members do not open without a password, in zipfile or miniz.
    if m.flags & 1 != 0 {
        return Ok(None);
    }
    let method = match m.method {
        0 | 8 => m.method,
        // Python's zipfile reads these; this registry cannot look inside.
        12 => return Ok(Some(unreadable("bzip2"))),
        14 => return Ok(Some(unreadable("LZMA"))),
        93 => return Ok(Some(unreadable("Zstandard"))),
        // Nothing that loads pickles reads other methods.
        _ => return Ok(None),
    };
    let Some((head, complete)) = content(src, m, method, HEAD).await? else {
        return Ok(None);
    };
    let header = match npy::inspect(&head) {
        Header::Need(end) if !complete => match content(src, m, method, end).await? {
            Some((header, _)) => npy::inspect(&header),
            None => Header::Safe,
        },
        header => header,
    };
    Ok(match header {
        Header::NotNpy => match Recogniser::walk_head(&head, complete) {
            Walk::Pickle(what) => Some(what),
            Walk::NotPickle | Walk::NeedBytes(_) => None,
        },
        Header::Unsafe(why) => Some(why),
        // A member that ends inside its npy header does not load.
        Header::Safe | Header::Need(_) => None,
    })
}

fn unreadable(method: &str) -> String {
    format!("compressed with {method}, which this registry cannot check for pickles")
}

/// The member's first `want` bytes (fewer if it is shorter), and whether
/// they are all of it; `None` when its local header is not there.
async fn content<S: ByteSource + ?Sized>(
    src: &S,
    m: &Member,
    method: u16,
    want: u64,
) -> Result<Option<(Vec<u8>, bool)>, S::Error> {
    // Deflate never needs much more input than output for a head: stored
    // blocks add 5 bytes per 64 KiB, Huffman codes at most 15 bits a byte.
    let compressed = if method == 0 { want } else { want * 2 + 1024 }.min(m.compressed_size);
    let name_len = m.name.len() as u64;
    let first = read_at(
        src,
        m.local_header,
        LOCAL_LEN + name_len + EXTRA_ROOM + compressed,
    )
    .await?;
    if !first.starts_with(LOCAL_SIG) {
        return Ok(None);
    }
    let data_at = LOCAL_LEN + le(&first, 26, 2) + le(&first, 28, 2);
    let data = match first.get(data_at as usize..(data_at + compressed) as usize) {
        Some(data) => data.to_vec(),
        None => match m.local_header.checked_add(data_at) {
            Some(at) => read_at(src, at, compressed).await?,
            None => return Ok(None),
        },
    };
    if method == 0 {
        return Ok(Some((data, m.compressed_size <= want)));
    }
    Ok(Some(inflate(&data, want, compressed == m.compressed_size)))
}

/// Inflates at most `want` bytes of raw deflate data; also whether that is
/// the whole stream. A corrupt stream ends where it breaks, as zipfile's
/// reads of it do.
fn inflate(input: &[u8], want: u64, all_input: bool) -> (Vec<u8>, bool) {
    let mut out = vec![0; usize::try_from(want).unwrap_or(0)];
    let mut state = Box::<DecompressorOxide>::default();
    let mut flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    if !all_input {
        flags |= inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
    }
    let (status, _, written) = decompress(&mut state, input, &mut out, 0, flags);
    out.truncate(written);
    (
        out,
        !matches!(
            status,
            TINFLStatus::HasMoreOutput | TINFLStatus::NeedsMoreInput
        ),
    )
}
