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
            (Some(report), _) => {
                let mut report: VerificationReport =
                    serde_json::from_str(&report).map_err(AppError::internal)?;
                report.log = redact_paths(&report.log);
                report.reason = report.reason.as_deref().map(redact_paths);
                report
            }
            (None, state) => VerificationReport {
                status: state
                    .as_deref()
                    .and_then(VerificationStatus::parse)
                    .unwrap_or(VerificationStatus::Queued),
                reason: row
                    .last_error
                    .map(|e| format!("retrying after: {}", redact_paths(&e))),
                ..Default::default()
            },
        });
    }
    Ok(out)
}

/// `text` with every absolute filesystem path of the server (`/tmp/granary-…/model.safetensors`)
/// cut to its last component (`…/model.safetensors`): logs and reasons are shown to anyone who
/// may read the model, and where the server keeps its files is none of their business.
pub fn redact_paths(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('/') {
        let starts_word = rest[..i]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || "\"'`=(<[{,".contains(c));
        let len = rest[i..]
            .find(|c: char| c.is_whitespace() || "\"'`)>]},;".contains(c))
            .unwrap_or(rest.len() - i);
        let path = &rest[i..i + len];
        out.push_str(&rest[..i]);
        // A path has at least two components (`/a/b`); a lone `/` or `/s` (units) is not one.
        if starts_word && path.trim_end_matches(['.', ':']).matches('/').count() >= 2 {
            let last = path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default();
            out.push_str("…/");
            out.push_str(last);
        } else {
            out.push_str(path);
        }
        rest = &rest[i + len.max(1)..];
        if len == 0 {
            out.push('/');
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact_paths;

    #[test]
    fn server_paths_are_cut_to_their_file_name() {
        assert_eq!(
            redact_paths("cannot open /tmp/granary-x/blobs/ab/model.safetensors: denied"),
            "cannot open …/model.safetensors: denied"
        );
        assert_eq!(
            redact_paths("loaded \"/work/data/model.bin\" (path=/var/lib/g/w.bin)"),
            "loaded \"…/model.bin\" (path=…/w.bin)"
        );
        assert_eq!(
            redact_paths("12.5 tokens/s, 3 items/s, a/b"),
            "12.5 tokens/s, 3 items/s, a/b"
        );
        assert_eq!(
            redact_paths("see https://example.com/a/b"),
            "see https://example.com/a/b"
        );
        assert_eq!(redact_paths("/"), "/");
        assert_eq!(redact_paths("ünï /home/u/x.txt"), "ünï …/x.txt");
    }
}
