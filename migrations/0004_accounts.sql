-- Accounts: organisations (rows of `users` with kind = 'org', so users and
-- organisations share one namespace), memberships, scoped tokens, web
-- sessions, gated models and license acceptances, and the audit log.

ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'user';

ALTER TABLE api_tokens ADD COLUMN owner_limit TEXT;
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;

ALTER TABLE models ADD COLUMN gated BIGINT NOT NULL DEFAULT 0;
ALTER TABLE models ADD COLUMN permissive BIGINT NOT NULL DEFAULT 0;

CREATE TABLE memberships (
    org_id TEXT NOT NULL REFERENCES users (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    -- read | write | admin
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE license_acceptances (
    model_id TEXT NOT NULL REFERENCES models (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    revision_id TEXT,
    accepted_at BIGINT NOT NULL,
    PRIMARY KEY (model_id, user_id)
);

CREATE TABLE invites (
    code_hash TEXT PRIMARY KEY,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_by TEXT,
    used_at BIGINT
);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT,
    event TEXT NOT NULL,
    subject TEXT,
    detail TEXT,
    ip TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
