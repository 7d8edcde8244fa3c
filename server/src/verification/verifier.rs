//! Runs the verifier program (`granary-verify`) on a directory in a child
//! process and reads its report: the child's crash, hang or garbage output
//! becomes a failed report, never the worker's.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use granary_core::api::{VerificationReport, VerificationStatus};
use tokio::io::AsyncReadExt;

use crate::config::VerificationConfig;

/// Most bytes read of the child's output.
const MAX_OUTPUT: u64 = 4 * 1024 * 1024;

pub async fn run(cfg: &VerificationConfig, dir: &Path) -> anyhow::Result<VerificationReport> {
    let program = cfg.verifier_path();
    let mut child = tokio::process::Command::new(&program)
        .arg("--dir")
        .arg(dir)
        .arg("--memory-budget")
        .arg(cfg.verify_memory_budget.to_string())
        .arg("--time-budget-secs")
        .arg(cfg.verify_timeout_secs.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start the verifier `{}`: {e}", program.display()))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let read = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut out_limited = (&mut stdout).take(MAX_OUTPUT);
        let mut err_limited = (&mut stderr).take(MAX_OUTPUT);
        let (a, b) = tokio::join!(
            out_limited.read_to_end(&mut out),
            err_limited.read_to_end(&mut err)
        );
        a?;
        b?;
        let status = child.wait().await?;
        anyhow::Ok((status, out, err))
    };
    // The verifier enforces its own time budget; this is the backstop.
    let limit = Duration::from_secs(cfg.verify_timeout_secs + 30);
    let (status, out, err) = match tokio::time::timeout(limit, read).await {
        Ok(r) => r?,
        Err(_) => {
            return Ok(failed(format!(
                "verification took longer than {} seconds and was stopped",
                cfg.verify_timeout_secs
            )));
        }
    };
    let stderr_tail = tail(&String::from_utf8_lossy(&err), 2000);
    match serde_json::from_slice::<VerificationReport>(&out) {
        Ok(report) => Ok(report),
        _ => Ok(failed(format!(
            "the verifier exited with {status} without a report; its last output: {stderr_tail}"
        ))),
    }
}

fn failed(reason: String) -> VerificationReport {
    VerificationReport {
        status: VerificationStatus::Failed,
        reason: Some(reason),
        ..Default::default()
    }
}

fn tail(s: &str, n: usize) -> String {
    let start = s.len().saturating_sub(n);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    s[start..].trim().to_string()
}
