-- Downloads per model and day (issue 22), counted as the Hugging Face Hub counts
-- them: one per pull of a revision, not one per file (downloads/counter.rs).
-- `day`: days since the Unix epoch (UTC). Counts are added in batches by each
-- server replica; `models.downloads` holds the all-time total beside them.
CREATE TABLE model_downloads (
    model_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (model_id, day)
);
