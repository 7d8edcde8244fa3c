//! The verification worker: claims jobs from the database, fetches the
//! revision's files from the store (checking every SHA-256), runs the
//! verifier program on them in a child process — so a hostile model can
//! crash only that child — and records the report.

mod fetch;
mod reports;
mod verifier;

pub use reports::{from_rows, redact_paths, reports};

use std::sync::Arc;
use std::time::Duration;

use granary_core::api::{VerificationReport, VerificationStatus};
use granary_core::time::now_ms;

use crate::app::App;
use crate::db::jobs::{self, FinishedRun, JobRow};

/// How long an idle worker waits before looking for work again.
const POLL: Duration = Duration::from_secs(2);

/// A worker loop over one [`App`].
pub struct Worker {
    app: Arc<App>,
    name: String,
}

/// How one job ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Recorded(VerificationStatus),
    Retried,
    LostLease,
}

impl Worker {
    pub fn new(app: Arc<App>) -> Self {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        let name = format!(
            "{}-{}-{}",
            host.trim(),
            std::process::id(),
            &crate::db::new_id()[..8]
        );
        Self { app, name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs jobs until `shutdown` resolves; the job in hand is finished first.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        // Attestations are signed with this process's key: it must be the registry's.
        let key = &self.app.signing_key;
        if let Err(e) = crate::signing::register(&self.app.db, key, false).await {
            tracing::error!(error = %format!("{e:#}"), "the verification worker cannot sign attestations; it stops");
            return;
        }
        let verifier = self.app.config.verification.verifier_path();
        if !verifier.exists() {
            tracing::warn!(
                verifier = %verifier.display(),
                "verifier program not found: jobs stay queued until a worker with one claims them \
                 (build it with `cargo build --release --bins`, or set GRANARY_VERIFIER)"
            );
            shutdown.await;
            return;
        }
        tracing::info!(worker = %self.name, verifier = %verifier.display(), "verification worker started");
        tokio::pin!(shutdown);
        loop {
            match self.run_once().await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "verification worker: database error"),
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.app.jobs_queued.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
        tracing::info!(worker = %self.name, "verification worker stopped");
    }

    /// Claims and runs one job, if any is claimable.
    pub async fn run_once(&self) -> anyhow::Result<Option<Outcome>> {
        let cfg = &self.app.config.verification;
        let lease_ms = (cfg.job_lease_secs * 1000) as i64;
        let Some(job) = jobs::claim(&self.app.db, &self.name, now_ms(), lease_ms).await? else {
            return Ok(None);
        };
        tracing::info!(job = %job.id, revision = %job.revision_id, attempt = job.attempts, "verifying");
        let started_at = now_ms();
        let heartbeat = self.keep_lease(&job, lease_ms);
        let work = self.verify(&job);
        let result = tokio::select! {
            r = work => r,
            _ = heartbeat => Err(anyhow::anyhow!("lost the job's lease")),
        };
        let outcome = match result {
            Ok(report) => self.record(&job, &report, started_at).await?,
            Err(e) if job.attempts >= cfg.job_max_attempts => {
                let report = VerificationReport {
                    status: VerificationStatus::Error,
                    reason: Some(format!("gave up after {} attempts: {e:#}", job.attempts)),
                    ..Default::default()
                };
                self.record(&job, &report, started_at).await?
            }
            Err(e) => {
                let backoff = 1000 * 2i64.pow(job.attempts.clamp(0, 10) as u32);
                tracing::warn!(job = %job.id, error = %format!("{e:#}"), backoff_ms = backoff, "verification will be retried");
                jobs::retry_later(
                    &self.app.db,
                    &job.id,
                    &self.name,
                    &format!("{e:#}"),
                    now_ms() + backoff,
                    now_ms(),
                )
                .await?;
                Outcome::Retried
            }
        };
        Ok(Some(outcome))
    }

    async fn record(
        &self,
        job: &JobRow,
        report: &VerificationReport,
        started_at: i64,
    ) -> anyhow::Result<Outcome> {
        let mut report = report.clone();
        report.attestation = Some(self.attest(job, &report).await?);
        let report = &report;
        let json = serde_json::to_string(report)?;
        let run = FinishedRun {
            job,
            worker: &self.name,
            device: &report.device,
            status: report.status.as_str(),
            report_json: &json,
            started_at,
            finished_at: now_ms(),
        };
        if jobs::finish(&self.app.db, &run).await? {
            tracing::info!(job = %job.id, status = %report.status, reason = ?report.reason, "verification recorded");
            Ok(Outcome::Recorded(report.status))
        } else {
            tracing::warn!(job = %job.id, "lease lost before the result was recorded; another worker owns the job");
            Ok(Outcome::LostLease)
        }
    }

    /// The run's attestation: what the verifier found, about the revision's
    /// model digest, signed with the registry key (docs/SIGNING.md).
    async fn attest(
        &self,
        job: &JobRow,
        report: &VerificationReport,
    ) -> anyhow::Result<serde_json::Value> {
        let db = &self.app.db;
        let name = crate::db::signing::model_name(db, &job.model_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("model {} is gone", job.model_id))?;
        let revision = crate::db::revisions::find(db, &job.model_id, &job.revision_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("revision {} is gone", job.revision_id))?;
        let manifest: granary_core::Manifest = serde_json::from_str(&revision.manifest)?;
        let statement = granary_core::signing::attestation_statement(
            &name.parse()?,
            &job.revision_id,
            &crate::signing::signed_files(&manifest),
            report.attested(),
        );
        Ok(serde_json::to_value(
            self.app.signing_key.sign_statement(&statement),
        )?)
    }

    /// Renews the lease every third of its length; resolves only if it is lost.
    async fn keep_lease(&self, job: &JobRow, lease_ms: i64) {
        let every = Duration::from_millis((lease_ms / 3).max(100) as u64);
        loop {
            tokio::time::sleep(every).await;
            match jobs::heartbeat(&self.app.db, &job.id, &self.name, now_ms() + lease_ms).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(job = %job.id, error = %e, "heartbeat failed"),
            }
        }
    }

    /// Fetches the files and runs the verifier. Err means "not the model's fault: retry".
    async fn verify(&self, job: &JobRow) -> anyhow::Result<VerificationReport> {
        let work_root = self.app.config.data_dir.join("work");
        std::fs::create_dir_all(&work_root)?;
        let dir = tempfile::Builder::new()
            .prefix("verify-")
            .tempdir_in(&work_root)?;
        match fetch::materialize(&self.app, &job.model_id, &job.revision_id, dir.path()).await? {
            fetch::Fetched::Ok => {}
            fetch::Fetched::Corrupt(reason) => {
                return Ok(VerificationReport {
                    status: VerificationStatus::Failed,
                    reason: Some(reason),
                    ..Default::default()
                });
            }
        }
        verifier::run(&self.app.config.verification, dir.path()).await
    }
}
