-- Xet global dedup (issue 16). Numbered 0009: 0008 belongs to the web's download counts.
--
-- `chunk_hashes`: every chunk's hash, in order, as 64-hex strings run together,
-- computed by the server from the bytes when the xorb was uploaded. Shards are
-- checked against these (verification and file hashes) without hashing the
-- chunks again, and dedup answers list them. Empty for xorbs stored before this
-- column existed: their hashes are computed from the object when needed.
ALTER TABLE xet_xorbs ADD COLUMN chunk_hashes TEXT NOT NULL DEFAULT '';

-- The chunks a client may ask the global dedup route about (the spec's eligible
-- chunks: a hash that is 0 modulo 1024, or the first chunk of a file), and the
-- xorbs that hold them. Who may learn of a xorb is decided per request (`xet::dedup`).
CREATE TABLE xet_dedup_chunks (
    chunk_hash TEXT NOT NULL,
    xorb TEXT NOT NULL,
    PRIMARY KEY (chunk_hash, xorb)
);
CREATE INDEX xet_dedup_chunks_xorb ON xet_dedup_chunks (xorb);
