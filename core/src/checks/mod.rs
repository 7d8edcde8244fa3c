//! The checks a push must pass, in one place for both sides: the server runs
//! them on the stored blobs of every commit, and the CLI runs the same code on
//! the local files before it uploads a byte, so a bad push fails at once.
//!
//! - [`card`]: a README.md's YAML front matter, bounded against alias bombs.
//! - [`license`]: license ids as the Hub writes them, and a registry's policy.
//! - [`scan`]: content Python runs code from when it loads it (pickles, zip
//!   archives holding one, NumPy object arrays).
//! - [`gguf`]: a GGUF file's fixed header.
//! - [`check_file`]: one file's content: safetensors or GGUF header, or the scan.

pub mod card;
pub mod gguf;
pub mod license;
pub mod scan;

use crate::RepoPath;
use crate::manifest::SafetensorsSummary;
use crate::safetensors_header::{self, HeaderError};
use scan::{ByteSource, Finding};

/// Why a file's content was refused, or could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ContentError<E> {
    #[error(
        "`{0}` is {1}: loading it runs code, so this registry refuses it: \
         convert the weights to safetensors (e.g. `safetensors.torch.save_file`) and push again"
    )]
    Unsafe(String, Finding),
    #[error("`{0}` is not a valid safetensors file: {1}")]
    Safetensors(String, HeaderError),
    #[error(
        "`{0}` has a safetensors header of {1} bytes, over this registry's limit of {2} bytes (max_safetensors_header)"
    )]
    HeaderLimit(String, u64, u64),
    #[error("`{0}` is not a valid GGUF file: {1}")]
    Gguf(String, String),
    /// The bytes could not be read (the source's own error).
    #[error("cannot read `{0}`: {1}")]
    Read(String, E),
}

/// Checks one file's content, whatever holds its bytes: a `.safetensors` file
/// must have a header that tells the truth (and is at most `max_header` bytes),
/// a `.gguf` file a header its size can hold; any other file must not be
/// something that runs code when loaded. Answers
/// the safetensors summary when the file is one.
pub async fn check_file<S: ByteSource + ?Sized>(
    path: &RepoPath,
    src: &S,
    max_header: u64,
) -> Result<Option<SafetensorsSummary>, ContentError<S::Error>> {
    let read = |e| ContentError::Read(path.to_string(), e);
    if path.extension().as_deref() == Some("safetensors") {
        let size = src.len();
        let err = |e| ContentError::Safetensors(path.to_string(), e);
        if size < 8 {
            return Err(err(HeaderError::TooShort(size)));
        }
        let prefix = src.read(0..8).await.map_err(read)?;
        let prefix: [u8; 8] = prefix
            .try_into()
            .map_err(|_| err(HeaderError::TooShort(size)))?;
        let declared = safetensors_header::header_len(&prefix);
        if declared > max_header && declared <= size - 8 {
            return Err(ContentError::HeaderLimit(
                path.to_string(),
                declared,
                max_header,
            ));
        }
        let n = safetensors_header::check_prefix(size, &prefix).map_err(err)?;
        let header = src.read(8..8 + n).await.map_err(read)?;
        return safetensors_header::inspect(size, &header)
            .map(Some)
            .map_err(err);
    }
    if path.extension().as_deref() == Some("gguf") {
        let head = src
            .read(0..src.len().min(gguf::HEADER_LEN))
            .await
            .map_err(read)?;
        return gguf::check_header(src.len(), &head)
            .map(|()| None)
            .map_err(|e| ContentError::Gguf(path.to_string(), e));
    }
    if let Some(finding) = scan::scan(src).await.map_err(read)? {
        return Err(ContentError::Unsafe(path.to_string(), finding));
    }
    Ok(None)
}
