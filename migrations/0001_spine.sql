-- The registry spine: users and tokens, models, blobs, upload sessions,
-- revisions and refs. The same SQL runs on SQLite and PostgreSQL: ids are
-- TEXT, times are BIGINT milliseconds, flags are BIGINT 0/1.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    is_admin BIGINT NOT NULL DEFAULT 0,
    password_hash TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT 'write',
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE models (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    owner_key TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    private BIGINT NOT NULL DEFAULT 0,
    default_branch TEXT NOT NULL DEFAULT 'main',
    downloads BIGINT NOT NULL DEFAULT 0,
    -- The head of the default branch, copied here for listings and search.
    head_revision TEXT,
    license_id TEXT,
    total_size BIGINT NOT NULL DEFAULT 0,
    parameter_total BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX models_owner ON models (owner_key, name_key);

-- A blob is visible once its row exists; the row is written only after the
-- bytes are in place and their size and SHA-256 checked.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    part_size BIGINT NOT NULL,
    part_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE upload_sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    part_size BIGINT NOT NULL,
    part_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (user_id, sha256)
);

CREATE TABLE upload_parts (
    upload_id TEXT NOT NULL REFERENCES upload_sessions (id) ON DELETE CASCADE,
    part_number BIGINT NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);

CREATE TABLE revisions (
    model_id TEXT NOT NULL REFERENCES models (id),
    id TEXT NOT NULL,
    parent_id TEXT,
    author TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    license_id TEXT NOT NULL,
    license_name TEXT,
    permissive BIGINT NOT NULL,
    total_size BIGINT NOT NULL,
    parameter_total BIGINT NOT NULL,
    file_count BIGINT NOT NULL,
    -- README.md front matter as JSON ('{}' when absent).
    card TEXT NOT NULL,
    -- The canonical manifest bytes; sha256(manifest) = id.
    manifest TEXT NOT NULL,
    PRIMARY KEY (model_id, id)
);

CREATE TABLE revision_files (
    model_id TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    path TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (model_id, revision_id, path)
);
CREATE INDEX revision_files_blob ON revision_files (sha256);

CREATE TABLE refs (
    model_id TEXT NOT NULL REFERENCES models (id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (model_id, kind, name)
);
