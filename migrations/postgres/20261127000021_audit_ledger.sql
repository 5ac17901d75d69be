-- The audit ledger (issue 16): every clinic's audit events, in order, as
-- the leaves of one Merkle log per clinic (RFC 6962 hashing; see
-- docs/audit.md). Keep in step with the SQLite file.

-- An event's place in its clinic's log: `seq` counts from 1 without gaps,
-- and `leaf_hash` is SHA-256 of 0x00 and the event's canonical bytes,
-- written in the same transaction as the event.
CREATE TABLE audit_ledger (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    seq         BIGINT NOT NULL CHECK (seq >= 1),
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
    size        BIGINT NOT NULL CHECK (size >= 0)
);

CREATE FUNCTION audit_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit ledger is append-only';
END
$$;
CREATE TRIGGER audit_ledger_no_change BEFORE UPDATE OR DELETE ON audit_ledger
    FOR EACH ROW EXECUTE FUNCTION audit_ledger_append_only();

GRANT SELECT, INSERT ON audit_ledger TO portico_app;
GRANT SELECT, INSERT, UPDATE ON audit_ledger_size TO portico_app;
ALTER TABLE audit_ledger ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_ledger FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_ledger
    USING (tenant_id = current_setting('portico.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('portico.tenant_id', true));
ALTER TABLE audit_ledger_size ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_ledger_size FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_ledger_size
    USING (tenant_id = current_setting('portico.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('portico.tenant_id', true));
