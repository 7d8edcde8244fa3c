-- Revision signatures (issue 18, docs/SIGNING.md).
--
-- The registry's signing keys: the current one and those it replaced, whose
-- signatures stay verifiable. `id`: the SHA-256 of the public key's PEM text
-- (the OMS bundle's key hint). `retired_at` is NULL for the current key.
CREATE TABLE signing_keys (
    id TEXT PRIMARY KEY,
    public_pem TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- One signature per revision of a model: an OMS v1.0 Sigstore bundle (JSON)
-- made with the key `key_id` when the revision was committed (or by the
-- start-up backfill, for revisions older than signing).
CREATE TABLE revision_signatures (
    model_id TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    bundle TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (model_id, revision_id)
);

-- The transparency log (RFC 9162 style): one leaf per signed revision, in the
-- order the commits landed. `leaf` is the exact bytes hashed (JSON of the model,
-- revision, signature digest and time). `idx` runs from 0 without gaps: appends
-- take the lock on `log_state`'s row, so concurrent commits on every replica
-- make one linear history.
CREATE TABLE log_entries (
    idx BIGINT PRIMARY KEY,
    model_id TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    leaf TEXT NOT NULL,
    UNIQUE (model_id, revision_id)
);

CREATE TABLE log_state (
    id BIGINT PRIMARY KEY,
    size BIGINT NOT NULL
);
INSERT INTO log_state (id, size) VALUES (1, 0);
