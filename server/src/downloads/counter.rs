//! Counting downloads as the Hugging Face Hub does: one per pull of a revision,
//! not one per file or range request, on every surface that serves files
//! (they all answer through `downloads::serve_file`).
//!
//! A pull is counted when its revision's *query file* is fetched with `GET`
//! and no `Range`, or a range from byte 0: `config.json`, or for a revision
//! without one its first weights file in path order (`.safetensors`, `.gguf`,
//! …), or else its first file. Every client fetches that file once per pull;
//! a resumed or parallel ranged download of the same file is not a new pull.
//!
//! Counting never writes on the request path: a request adds one to an
//! in-memory count per (model, day), and [`run`] adds the counts to the
//! database every few seconds and once more on shutdown. Each replica flushes
//! its own counts, so they add up across replicas.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::db::{Db, downloads, revisions};

/// How often counted downloads are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// Query files remembered per revision (revisions never change) before the memo starts over.
const MEMO_LIMIT: usize = 10_000;

/// The extensions of weights files, for revisions without `config.json`.
const WEIGHTS: [&str; 8] = [
    ".safetensors",
    ".gguf",
    ".bin",
    ".pt",
    ".pth",
    ".onnx",
    ".ckpt",
    ".h5",
];

const DAY_MS: i64 = 86_400_000;

/// Downloads counted and not yet written, and each revision's query file.
#[derive(Debug, Default)]
pub struct DownloadCounter {
    pending: Mutex<HashMap<(String, i64), i64>>,
    query_files: Mutex<HashMap<String, Option<String>>>,
}

/// The day (since the Unix epoch, UTC) of a time in milliseconds.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

impl DownloadCounter {
    /// Counts one download of a model now.
    pub fn record(&self, model_id: &str) {
        let day = day_of(granary_core::time::now_ms());
        if let Ok(mut pending) = self.pending.lock() {
            *pending.entry((model_id.to_string(), day)).or_default() += 1;
        }
    }

    /// Whether `path` is the file whose fetch counts a pull of the revision.
    pub async fn is_query_file(
        &self,
        db: &Db,
        model_id: &str,
        revision_id: &str,
        path: &str,
    ) -> sqlx::Result<bool> {
        if path == "config.json" {
            return Ok(true);
        }
        let memo = self
            .query_files
            .lock()
            .ok()
            .and_then(|m| m.get(revision_id).cloned());
        let query_file = match memo {
            Some(q) => q,
            None => {
                let q = query_file(db, model_id, revision_id).await?;
                if let Ok(mut m) = self.query_files.lock() {
                    if m.len() >= MEMO_LIMIT {
                        m.clear();
                    }
                    m.insert(revision_id.to_string(), q.clone());
                }
                q
            }
        };
        Ok(query_file.as_deref() == Some(path))
    }

    /// Writes the counted downloads; on failure they are kept for the next try.
    pub async fn flush(&self, db: &Db) -> sqlx::Result<()> {
        let taken: Vec<(String, i64, i64)> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().map(|((m, d), n)| (m, d, n)).collect(),
            Err(_) => return Ok(()),
        };
        if taken.is_empty() {
            return Ok(());
        }
        let result = downloads::add(db, &taken).await;
        if result.is_err()
            && let Ok(mut pending) = self.pending.lock()
        {
            for (m, d, n) in taken {
                *pending.entry((m, d)).or_default() += n;
            }
        }
        result
    }
}

/// The query file of a revision: `config.json`, else its first weights file, else its first file.
async fn query_file(db: &Db, model_id: &str, revision_id: &str) -> sqlx::Result<Option<String>> {
    let paths = revisions::file_paths(db, model_id, revision_id).await?;
    if paths.iter().any(|p| p == "config.json") {
        return Ok(Some("config.json".into()));
    }
    let weights = paths
        .iter()
        .find(|p| WEIGHTS.iter().any(|ext| p.ends_with(ext)));
    Ok(weights.or(paths.first()).cloned())
}

/// Writes counted downloads every [`FLUSH_EVERY`] until `stop` resolves, then once more.
pub async fn run(app: std::sync::Arc<crate::App>, stop: impl std::future::Future<Output = ()>) {
    let mut stop = std::pin::pin!(stop);
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => break,
        }
        if let Err(e) = app.downloads.flush(&app.db).await {
            tracing::warn!(error = %e, "cannot write download counts: kept for the next try");
        }
    }
    if let Err(e) = app.downloads.flush(&app.db).await {
        tracing::error!(error = %e, "cannot write the last download counts");
    }
}

#[cfg(test)]
mod tests {
    use super::day_of;

    #[test]
    fn days_are_utc_days() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(86_399_999), 0);
        assert_eq!(day_of(86_400_000), 1);
        assert_eq!(day_of(-1), -1);
    }
}
