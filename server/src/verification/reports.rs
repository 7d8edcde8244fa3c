//! The reports of a revision as every surface shows them.

use granary_core::api::{VerificationReport, VerificationStatus};

use crate::db::{Db, jobs};
use crate::error::{AppError, AppResult};

/// Reports of a revision, newest first, with a `queued`/`running` entry for an open job.
pub async fn reports(
    db: &Db,
    model_id: &str,
    revision_id: &str,
) -> AppResult<Vec<VerificationReport>> {
    from_rows(jobs::verification(db, model_id, revision_id).await?)
}

/// The API view of verification rows (`jobs::verification`).
pub fn from_rows(rows: Vec<jobs::VerificationRow>) -> AppResult<Vec<VerificationReport>> {
    let mut out = Vec::new();
    for row in rows {
        out.push(match (row.report, row.state) {
            (Some(report), _) => serde_json::from_str(&report).map_err(AppError::internal)?,
            (None, state) => VerificationReport {
                status: state
                    .as_deref()
                    .and_then(VerificationStatus::parse)
                    .unwrap_or(VerificationStatus::Queued),
                reason: row.last_error.map(|e| format!("retrying after: {e}")),
                ..Default::default()
            },
        });
    }
    Ok(out)
}
