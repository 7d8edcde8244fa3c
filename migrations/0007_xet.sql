-- Xet storage (issue 16): the xorbs stock Hugging Face clients upload, and the
-- files their shards describe.
--
-- A xorb is kept as the chunks the client sent (headers and compressed bytes, no
-- footer) under `xet/xorbs/<hash>`. `chunk_ends`: the byte offset where each chunk
-- ends in that object; `unpacked_ends`: where each chunk ends once decompressed;
-- both as comma-separated decimals, so a byte range of any chunk run is known
-- without reading the object.
CREATE TABLE xet_xorbs (
    hash TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    chunks BIGINT NOT NULL,
    chunk_ends TEXT NOT NULL,
    unpacked_ends TEXT NOT NULL,
    -- When it was last sent: a xorb sent again is young again for the collector.
    created_at BIGINT NOT NULL
);

-- Who sent a xorb's bytes: only they (or readers of a file built from it) may
-- name it in a shard. Knowing a xorb hash grants nothing.
CREATE TABLE xet_xorb_uploaders (
    hash TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (hash, user_id)
);

-- A file a shard described, once rebuilt from its terms and stored as the
-- ordinary blob `sha256`. `terms`: `xorb:start:end` per term (chunk indices,
-- end exclusive), space-separated, in file order.
CREATE TABLE xet_files (
    file_hash TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    terms TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX xet_files_sha256 ON xet_files (sha256);

-- The xorbs each file's terms name: a xorb no file names is collected once older
-- than the grace period (`maintenance/gc.rs`).
CREATE TABLE xet_file_xorbs (
    file_hash TEXT NOT NULL,
    xorb TEXT NOT NULL,
    PRIMARY KEY (file_hash, xorb)
);
CREATE INDEX xet_file_xorbs_xorb ON xet_file_xorbs (xorb);
