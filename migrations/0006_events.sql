-- Events and webhooks (issue 17, parts 5 and 6).
--
-- `audit_log` becomes the one record of what happened: security events (sign-ins,
-- tokens) as before, and model events written in the same transaction as the change
-- they describe (a revision published, a ref moved, a tag created or deleted, a model
-- created, deleted or made private/public, a verification finished, a license
-- accepted). A model event names its model and namespace and carries its figures as
-- JSON; it is the outbox the webhook deliveries are made from.
ALTER TABLE audit_log ADD COLUMN model_id TEXT;
ALTER TABLE audit_log ADD COLUMN namespace TEXT;
ALTER TABLE audit_log ADD COLUMN data TEXT;

-- A receiver of one model's events (model_id set) or of every model of a namespace
-- (model_id NULL). `events`: the event types it wants, space-separated, each between
-- spaces (' tag.created repo.deleted '); empty: every type. The secret signs each
-- delivery, so it is kept as given (shown once, at creation).
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    model_id TEXT,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    created_by TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhooks_namespace ON webhooks (namespace);
CREATE INDEX webhooks_model ON webhooks (model_id);

-- One event for one webhook, written with the event (same transaction). A delivery
-- worker claims a due one with a lease, POSTs it, and records the attempt; state:
-- pending | delivered | failed (gave up after the last retry).
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id),
    event_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    worker TEXT,
    last_status BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);

-- Every attempt at a delivery: the receiver's status code, or why none came back.
CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id),
    at BIGINT NOT NULL,
    status BIGINT,
    error TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);
