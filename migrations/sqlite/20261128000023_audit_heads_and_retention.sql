-- Signed tree heads and retention for the audit ledger (issue 16; see
-- docs/audit.md). Keep in step with the PostgreSQL file.

-- A clinic's tree head as the server signed it: the log's size and root
-- at `signed_at` (milliseconds since 1970 UTC), signed with the platform's
-- Ed25519 audit key. The public key is kept beside the signature so a head
-- signed before a key rotation can still be checked. `frontier` holds the
-- hashes that summarise the head's events (see audit_cuts), so the next
-- head is signed from the events after this one alone.
CREATE TABLE audit_heads (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    id          TEXT NOT NULL,
    size        INTEGER NOT NULL CHECK (size >= 0),
    root_hash   TEXT NOT NULL CHECK (length(root_hash) = 64),
    signed_at   INTEGER NOT NULL,
    key_id      TEXT NOT NULL,
    public_key  TEXT NOT NULL CHECK (length(public_key) = 64),
    signature   TEXT NOT NULL CHECK (length(signature) = 128),
    frontier    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_heads_by_size ON audit_heads (tenant_id, size, signed_at);

CREATE TRIGGER audit_heads_no_update BEFORE UPDATE ON audit_heads
BEGIN
    SELECT RAISE(ABORT, 'signed tree heads are append-only');
END;
CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads
BEGIN
    SELECT RAISE(ABORT, 'signed tree heads are append-only');
END;

-- Where a clinic's log was cut by retention: events 1 to `size` are gone,
-- summarised by `frontier` (the hashes of the perfect subtrees that cover
-- them, largest first, lowercase hex joined by commas), whose root is the
-- signed head `head_id`. `last_occurred_at` is the time of event `size`.
CREATE TABLE audit_cuts (
    tenant_id           TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id),
    size                INTEGER NOT NULL CHECK (size >= 1),
    head_id             TEXT NOT NULL,
    last_occurred_at    INTEGER NOT NULL,
    frontier            TEXT NOT NULL,
    cut_at              INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, head_id) REFERENCES audit_heads (tenant_id, id)
);

-- A cut only moves forward, and is never removed.
CREATE TRIGGER audit_cuts_forward BEFORE UPDATE ON audit_cuts
WHEN NEW.size <= OLD.size OR NEW.tenant_id <> OLD.tenant_id
BEGIN
    SELECT RAISE(ABORT, 'an audit cut only moves forward');
END;
CREATE TRIGGER audit_cuts_no_delete BEFORE DELETE ON audit_cuts
BEGIN
    SELECT RAISE(ABORT, 'an audit cut only moves forward');
END;

-- How long a clinic keeps its audit events, in days; NULL keeps them
-- forever (the default).
ALTER TABLE tenants ADD COLUMN audit_retention_days INTEGER
    CHECK (audit_retention_days IS NULL OR audit_retention_days BETWEEN 1 AND 36500);

-- Pruning is the one removal allowed: a log entry at or before its clinic's
-- cut, and then an event that has left the log and is no newer than the
-- cut's last event.
DROP TRIGGER audit_ledger_no_delete;
CREATE TRIGGER audit_ledger_no_delete BEFORE DELETE ON audit_ledger
WHEN NOT EXISTS (
    SELECT 1 FROM audit_cuts c WHERE c.tenant_id = OLD.tenant_id AND OLD.seq <= c.size)
BEGIN
    SELECT RAISE(ABORT, 'the audit ledger is append-only');
END;

DROP TRIGGER audit_events_no_delete;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN EXISTS (
        SELECT 1 FROM audit_ledger l WHERE l.tenant_id = OLD.tenant_id AND l.event_id = OLD.id)
    OR NOT EXISTS (
        SELECT 1 FROM audit_cuts c
         WHERE c.tenant_id = OLD.tenant_id AND OLD.occurred_at <= c.last_occurred_at)
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
