//! What the bytes of a file must not be: a pickle (code that runs on load),
//! or a safetensors file whose header lies.

use granary_core::RepoPath;
use granary_core::manifest::SafetensorsSummary;
use granary_core::safetensors_header;

use crate::storage::{BlobLayout, Storage};

/// Extensions that usually hold pickles.
const PICKLE_EXTENSIONS: &[&str] = &["bin", "pt", "pth", "pkl", "pickle", "ckpt", "joblib"];

/// How many leading bytes are sniffed for pickles.
pub const SNIFF_LEN: u64 = 4096;

/// Why a file's content was refused.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error(
        "`{0}` is a Python pickle ({1}); pickles run code when loaded, so this registry refuses them: \
         convert the weights to safetensors (e.g. `safetensors.torch.save_file`) and push again"
    )]
    Pickle(String, &'static str),
    #[error("`{0}` is not a valid safetensors file: {1}")]
    Safetensors(String, safetensors_header::HeaderError),
    #[error("`{0}` has a safetensors header of {1} bytes, over this registry's limit of {2} bytes (max_safetensors_header)")]
    HeaderLimit(String, u64, u64),
    #[error(transparent)]
    Store(#[from] object_store::Error),
}

/// Does this prefix look like a pickle or a PyTorch zip archive (which holds one)?
pub fn sniff_pickle(head: &[u8]) -> Option<&'static str> {
    if head.len() >= 2 && head[0] == 0x80 && (2..=5).contains(&head[1]) {
        return Some("pickle protocol header");
    }
    if head.starts_with(b"PK\x03\x04") && contains(head, b".pkl") {
        return Some("a PyTorch zip archive containing a pickle");
    }
    None
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Checks one stored file; returns its safetensors summary when it is one.
pub async fn check_file(
    storage: &Storage,
    path: &RepoPath,
    layout: BlobLayout,
    max_header: u64,
) -> Result<Option<SafetensorsSummary>, ContentError> {
    let ext = path.extension();
    if ext.as_deref() == Some("safetensors") {
        let size = layout.size;
        let err = |e| ContentError::Safetensors(path.to_string(), e);
        if size < 8 {
            return Err(err(safetensors_header::HeaderError::TooShort(size)));
        }
        let prefix = storage.read_blob_range(layout, 0..8).await?;
        let prefix: [u8; 8] = prefix.try_into().map_err(|_| err(safetensors_header::HeaderError::TooShort(size)))?;
        let declared = safetensors_header::header_len(&prefix);
        if declared > max_header && declared <= size - 8 {
            return Err(ContentError::HeaderLimit(path.to_string(), declared, max_header));
        }
        let n = safetensors_header::check_prefix(size, &prefix).map_err(err)?;
        let header = storage.read_blob_range(layout, 8..8 + n).await?;
        return safetensors_header::inspect(size, &header).map(Some).map_err(err);
    }
    let head = storage.read_blob_range(layout, 0..layout.size.min(SNIFF_LEN)).await?;
    if let Some(what) = sniff_pickle(&head) {
        return Err(ContentError::Pickle(path.to_string(), what));
    }
    if ext.as_deref().is_some_and(|e| PICKLE_EXTENSIONS.contains(&e)) && head.starts_with(b"\x80") {
        return Err(ContentError::Pickle(path.to_string(), "pickle opcode at offset 0"));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::sniff_pickle;

    #[test]
    fn sniffs_pickles() {
        assert!(sniff_pickle(b"\x80\x04\x95\x10\x00").is_some());
        assert!(sniff_pickle(b"PK\x03\x04....archive/data.pkl").is_some());
        assert!(sniff_pickle(b"PK\x03\x04....weights.npy").is_none());
        assert!(sniff_pickle(b"{\"a\": 1}").is_none());
        assert!(sniff_pickle(b"GGUF\x03").is_none());
    }
}
