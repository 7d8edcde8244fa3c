//! Keeping the database and the object store in step: garbage collection
//! (`granary-server gc`, and hourly inside `serve`) and the consistency
//! check (`granary-server fsck`).

pub mod fsck;
pub mod fsck_report;
pub mod fsck_signing;
pub mod fsck_xet;
pub mod gc;

use futures::TryStreamExt;
use object_store::ObjectMeta;
use object_store::path::Path;

use crate::storage::Storage;

/// Every object under `prefix`.
pub(crate) async fn list(storage: &Storage, prefix: &str) -> object_store::Result<Vec<ObjectMeta>> {
    storage
        .inner()
        .list(Some(&Path::from(prefix)))
        .try_collect()
        .await
}

/// The upload (or staging) id an `uploads/<id>/<n>` key belongs to.
pub(crate) fn staging_id(key: &Path) -> Option<String> {
    let mut parts = key.parts();
    match (parts.next(), parts.next()) {
        (Some(top), Some(id)) if top.as_ref() == "uploads" => Some(id.as_ref().to_string()),
        _ => None,
    }
}

/// Milliseconds since the Unix epoch of an object's last change.
pub(crate) fn modified_ms(meta: &ObjectMeta) -> i64 {
    meta.last_modified.timestamp_millis()
}
