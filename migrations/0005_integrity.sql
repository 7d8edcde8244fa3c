-- Integrity and access (issue "no blob can be poisoned, claimed or leaked").

-- Each received part of an upload session names the object its bytes were
-- streamed into (`uploads/<session>/<n>.<attempt>`): a part is recorded once
-- and never replaced, and a racing or replayed attempt writes only its own
-- object, which it deletes when it loses. NULL: a part staged before this
-- migration, at `uploads/<session>/<n>`.
ALTER TABLE upload_parts ADD COLUMN attempt TEXT;

-- Who has sent the bytes of a blob: a commit may name a blob by its digest
-- only if its author uploaded it (a row here) or may already download a
-- revision that holds it. Knowing a digest grants nothing.
CREATE TABLE blob_uploaders (
    sha256 TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (sha256, user_id)
);
CREATE INDEX blob_uploaders_user ON blob_uploaders (user_id);

-- The user whose storage quota an organisation draws on: its creator. So
-- creating organisations does not multiply anyone's quota.
ALTER TABLE users ADD COLUMN billed_to TEXT;
UPDATE users SET billed_to = (
    SELECT m.user_id FROM memberships m
    WHERE m.org_id = users.id AND m.role = 'admin'
    ORDER BY m.created_at, m.user_id LIMIT 1
) WHERE kind = 'org';
