//! What `fsck` checks with and reports (`fsck.rs`, `fsck_xet.rs`).

use serde::Serialize;

use crate::app::App;

/// What to check and fix.
#[derive(Debug, Clone, Copy)]
pub struct FsckOptions {
    pub repair: bool,
    /// Hash every blob's bytes too.
    pub deep: bool,
    /// Garbage younger than this (ms) is left alone by `repair`: it may belong to a
    /// push in progress.
    pub grace_ms: i64,
}

/// One thing wrong.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// `blob`, `file`, `ref`, `manifest`, `xorb`, `xet_file`, `signature` or `log`.
    pub kind: &'static str,
    /// The blob digest, or `owner/name@revision[:path]`.
    pub subject: String,
    pub detail: String,
}

/// What `fsck` found and did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct FsckReport {
    pub blobs_checked: u64,
    pub xorbs_checked: u64,
    pub revisions_checked: u64,
    pub problems: Vec<Problem>,
    pub repaired: Vec<String>,
    pub garbage_objects: u64,
    pub garbage_bytes: u64,
    pub garbage_removed: u64,
}

impl FsckReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl FsckReport {
    /// Counts an object no row accounts for; with `repair`, deletes it once
    /// older than the grace period (it may belong to a write in progress).
    pub(crate) async fn garbage(
        &mut self,
        app: &App,
        opts: FsckOptions,
        o: &object_store::ObjectMeta,
    ) {
        self.garbage_objects += 1;
        self.garbage_bytes += o.size;
        let cutoff = granary_core::time::now_ms() - opts.grace_ms.max(0);
        if opts.repair && super::modified_ms(o) < cutoff {
            app.storage.delete_quietly(&o.location).await;
            self.garbage_removed += 1;
        }
    }
}
