//! What the bytes of a stored file must not be: the checks of
//! `granary_core::checks` (a pickle, a zip archive holding one, a NumPy array
//! of objects, a safetensors file whose header lies), read from the store.

use granary_core::RepoPath;
use granary_core::checks::{self, scan::ByteSource};
use granary_core::manifest::SafetensorsSummary;

use crate::storage::{BlobLayout, Storage};

/// Why a stored file's content was refused, or could not be read.
pub type ContentError = checks::ContentError<object_store::Error>;

/// A stored blob, read in ranges by the checks.
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
    checks::check_file(path, &StoredBlob { storage, layout }, max_header).await
}
