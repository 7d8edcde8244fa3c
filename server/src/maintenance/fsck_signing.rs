//! `fsck`'s checks of signatures and the transparency log (docs/SIGNING.md):
//! every revision is signed and logged, every signature is logged, and the log's
//! leaves run from 0 without gaps. `--repair` signs and logs what is missing.

use super::fsck_report::{FsckOptions, FsckReport, Problem};
use crate::app::App;
use crate::db::signing as q;

/// How many missing signatures one run names (the rest are counted).
const NAMED: i64 = 100;

pub async fn check(app: &App, opts: FsckOptions, report: &mut FsckReport) -> anyhow::Result<()> {
    let unsigned = q::unsigned(&app.db, NAMED).await?;
    if !unsigned.is_empty() && opts.repair {
        let n = crate::publish::signatures::sign_unsigned(&app.db, &app.signing_key).await?;
        report.repaired.push(format!(
            "signed and logged {n} revisions that had no signature"
        ));
    } else {
        for (_, name, revision, _) in unsigned {
            report.problems.push(Problem {
                kind: "signature",
                subject: format!("{name}@{revision}"),
                detail: "the revision has no signature (the server signs it at start)".into(),
            });
        }
    }
    for (name, revision) in q::unlogged(&app.db, NAMED).await? {
        report.problems.push(Problem {
            kind: "log",
            subject: format!("{name}@{revision}"),
            detail: "the revision is signed but not in the transparency log".into(),
        });
    }
    let (size, count, max) = q::log_shape(&app.db).await?;
    if size != count || count != max + 1 {
        report.problems.push(Problem {
            kind: "log",
            subject: "log".into(),
            detail: format!(
                "the log records {size} entries but holds {count}, the last at index {max}: leaves are missing"
            ),
        });
    }
    Ok(())
}
