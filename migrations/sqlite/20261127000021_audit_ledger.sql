-- The audit ledger (issue 16): every clinic's audit events, in order, as
-- the leaves of one Merkle log per clinic (RFC 6962 hashing; see
-- docs/audit.md). Keep in step with the PostgreSQL file.

-- An event's place in its clinic's log: `seq` counts from 1 without gaps,
-- and `leaf_hash` is SHA-256 of 0x00 and the event's canonical bytes,
-- written in the same transaction as the event.
CREATE TABLE audit_ledger (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    event_id    TEXT NOT NULL,
    leaf_hash   TEXT NOT NULL CHECK (length(leaf_hash) = 64),
    PRIMARY KEY (tenant_id, seq),
    UNIQUE (tenant_id, event_id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES audit_events (tenant_id, id)
);

-- How many events each clinic's log holds. Appending takes this row's lock
-- first, so appends from several nodes get one order without gaps.
CREATE TABLE audit_ledger_size (
    tenant_id   TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id),
    size        INTEGER NOT NULL CHECK (size >= 0)
);

CREATE TRIGGER audit_ledger_no_update BEFORE UPDATE ON audit_ledger
BEGIN
    SELECT RAISE(ABORT, 'the audit ledger is append-only');
END;
CREATE TRIGGER audit_ledger_no_delete BEFORE DELETE ON audit_ledger
BEGIN
    SELECT RAISE(ABORT, 'the audit ledger is append-only');
END;
