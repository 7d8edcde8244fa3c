-- Verification: one job per revision to verify, claimed by workers with a
-- lease; one run row per finished verification (per device).

CREATE TABLE verification_jobs (
    id TEXT PRIMARY KEY,
    model_id TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    -- queued | running | done
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    -- Not claimable before this time (backoff after infrastructure errors).
    run_after BIGINT NOT NULL,
    -- A running job whose lease has passed is claimable again.
    lease_until BIGINT,
    worker TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX verification_jobs_claim ON verification_jobs (state, run_after);
CREATE INDEX verification_jobs_revision ON verification_jobs (model_id, revision_id);

CREATE TABLE verification_runs (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    model_id TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    worker TEXT NOT NULL,
    device TEXT NOT NULL,
    status TEXT NOT NULL,
    -- The VerificationReport as JSON.
    report TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL
);
CREATE INDEX verification_runs_revision ON verification_runs (model_id, revision_id);
