//! Blob uploads: what is missing, upload sessions and their parts.

use serde::{Deserialize, Serialize};

use crate::Sha256;

/// A blob a client intends to upload or reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlobRef {
    pub sha256: Sha256,
    pub size: u64,
}

/// `POST /api/v1/blobs/missing`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MissingBlobsRequest {
    pub blobs: Vec<BlobRef>,
}

/// The blobs of the request that the server does not hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MissingBlobsResponse {
    pub missing: Vec<BlobRef>,
}

/// `POST /api/v1/uploads`: start, or find again, the upload of one blob.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateUploadRequest {
    pub sha256: Sha256,
    pub size: u64,
}

/// Where an upload stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadStatus {
    /// `None` when the blob is already stored and nothing needs sending.
    pub id: Option<String>,
    pub sha256: Sha256,
    pub size: u64,
    /// Every part but the last is exactly this long.
    pub part_size: u64,
    pub part_count: u64,
    /// Part numbers (from 0) the server holds.
    pub received: Vec<u64>,
    /// True once the blob is stored and visible.
    pub stored: bool,
}

impl UploadStatus {
    /// The byte range `[start, end)` of part `n`.
    pub fn part_range(&self, n: u64) -> (u64, u64) {
        let start = n * self.part_size;
        (start, (start + self.part_size).min(self.size))
    }

    /// Parts still to send.
    pub fn missing_parts(&self) -> Vec<u64> {
        (0..self.part_count)
            .filter(|n| !self.received.contains(n))
            .collect()
    }
}
