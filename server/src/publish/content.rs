//! What the bytes of a file must not be: something Python runs code from when
//! it loads it (a pickle of any protocol, a zip archive holding one such as a
//! PyTorch checkpoint, a NumPy array of objects: `scan/`), or a safetensors
//! file whose header lies.

use granary_core::RepoPath;
use granary_core::manifest::SafetensorsSummary;
use granary_core::safetensors_header;

use super::scan::{self, ByteSource};
use crate::storage::{BlobLayout, Storage};

/// Why a file's content was refused.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error(
        "`{0}` is {1}: loading it runs code, so this registry refuses it: \
         convert the weights to safetensors (e.g. `safetensors.torch.save_file`) and push again"
    )]
    Unsafe(String, scan::Finding),
    #[error("`{0}` is not a valid safetensors file: {1}")]
    Safetensors(String, safetensors_header::HeaderError),
    #[error(
        "`{0}` has a safetensors header of {1} bytes, over this registry's limit of {2} bytes (max_safetensors_header)"
    )]
    HeaderLimit(String, u64, u64),
    #[error(transparent)]
    Store(#[from] object_store::Error),
}

/// A stored blob, read in ranges by the scanner.
struct StoredBlob<'a> {
    storage: &'a Storage,
    layout: BlobLayout,
}

impl ByteSource for StoredBlob<'_> {
    type Error = object_store::Error;

    fn len(&self) -> u64 {
        self.layout.size
    }

    async fn read(&self, range: std::ops::Range<u64>) -> Result<Vec<u8>, Self::Error> {
        self.storage.read_blob_range(self.layout, range).await
    }
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
        let prefix: [u8; 8] = prefix
            .try_into()
            .map_err(|_| err(safetensors_header::HeaderError::TooShort(size)))?;
        let declared = safetensors_header::header_len(&prefix);
        if declared > max_header && declared <= size - 8 {
            return Err(ContentError::HeaderLimit(
                path.to_string(),
                declared,
                max_header,
            ));
        }
        let n = safetensors_header::check_prefix(size, &prefix).map_err(err)?;
        let header = storage.read_blob_range(layout, 8..8 + n).await?;
        return safetensors_header::inspect(size, &header)
            .map(Some)
            .map_err(err);
    }
    if let Some(finding) = scan::scan(&StoredBlob { storage, layout }).await? {
        return Err(ContentError::Unsafe(path.to_string(), finding));
    }
    Ok(None)
}
