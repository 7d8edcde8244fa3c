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
