-- Signed tree heads and retention for the audit ledger (issue 16; see
-- docs/audit.md). Keep in step with the SQLite file.

-- A clinic's tree head as the server signed it: the log's size and root
-- at `signed_at` (milliseconds since 1970 UTC), signed with the platform's
-- Ed25519 audit key. The public key is kept beside the signature so a head
-- signed before a key rotation can still be checked. `frontier` holds the
-- hashes that summarise the head's events (see audit_cuts), so the next
-- head is signed from the events after this one alone.
CREATE TABLE audit_heads (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    id          TEXT NOT NULL,
    size        BIGINT NOT NULL CHECK (size >= 0),
    root_hash   TEXT NOT NULL CHECK (length(root_hash) = 64),
    signed_at   BIGINT NOT NULL,
    key_id      TEXT NOT NULL,
    public_key  TEXT NOT NULL CHECK (length(public_key) = 64),
    signature   TEXT NOT NULL CHECK (length(signature) = 128),
    frontier    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_heads_by_size ON audit_heads (tenant_id, size, signed_at);

CREATE FUNCTION audit_heads_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'signed tree heads are append-only';
END
$$;
CREATE TRIGGER audit_heads_no_change BEFORE UPDATE OR DELETE ON audit_heads
    FOR EACH ROW EXECUTE FUNCTION audit_heads_append_only();

-- Where a clinic's log was cut by retention: events 1 to `size` are gone,
-- summarised by `frontier` (the hashes of the perfect subtrees that cover
-- them, largest first, lowercase hex joined by commas), whose root is the
-- signed head `head_id`. `last_occurred_at` is the time of event `size`.
CREATE TABLE audit_cuts (
    tenant_id           TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id),
    size                BIGINT NOT NULL CHECK (size >= 1),
    head_id             TEXT NOT NULL,
    last_occurred_at    BIGINT NOT NULL,
    frontier            TEXT NOT NULL,
    cut_at              BIGINT NOT NULL,
    FOREIGN KEY (tenant_id, head_id) REFERENCES audit_heads (tenant_id, id)
);

-- A cut only moves forward, and is never removed.
CREATE FUNCTION audit_cuts_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.size <= OLD.size OR NEW.tenant_id <> OLD.tenant_id THEN
        RAISE EXCEPTION 'an audit cut only moves forward';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_cuts_forward BEFORE UPDATE OR DELETE ON audit_cuts
    FOR EACH ROW EXECUTE FUNCTION audit_cuts_forward();

-- How long a clinic keeps its audit events, in days; NULL keeps them
-- forever (the default).
ALTER TABLE tenants ADD COLUMN audit_retention_days BIGINT
    CHECK (audit_retention_days IS NULL OR audit_retention_days BETWEEN 1 AND 36500);

-- Pruning is the one removal allowed: a log entry at or before its clinic's
-- cut, and then an event that has left the log and is no newer than the
-- cut's last event.
CREATE OR REPLACE FUNCTION audit_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM audit_cuts c WHERE c.tenant_id = OLD.tenant_id AND OLD.seq <= c.size)
    THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit ledger is append-only';
END
$$;

CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
        AND NOT EXISTS (
            SELECT 1 FROM audit_ledger l WHERE l.tenant_id = OLD.tenant_id AND l.event_id = OLD.id)
        AND EXISTS (
            SELECT 1 FROM audit_cuts c
             WHERE c.tenant_id = OLD.tenant_id AND OLD.occurred_at <= c.last_occurred_at)
    THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only';
END
$$;

-- The application's role still may not delete from the trail: it calls this
-- function, which runs as the schema's owner and removes only what the
-- current clinic's cut allows (the triggers above check it again).
CREATE FUNCTION audit_prune_to_cut(p_tenant TEXT) RETURNS BIGINT
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    gone TEXT[];
    removed BIGINT;
BEGIN
    IF p_tenant IS DISTINCT FROM current_setting('portico.tenant_id', true) THEN
        RAISE EXCEPTION 'audit pruning is for the current clinic only';
    END IF;
    SELECT coalesce(array_agg(l.event_id), '{}') INTO gone
      FROM audit_ledger l JOIN audit_cuts c ON c.tenant_id = l.tenant_id
     WHERE l.tenant_id = p_tenant AND l.seq <= c.size;
    DELETE FROM audit_ledger l USING audit_cuts c
     WHERE l.tenant_id = p_tenant AND c.tenant_id = p_tenant AND l.seq <= c.size;
    DELETE FROM audit_events WHERE tenant_id = p_tenant AND id = ANY (gone);
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END
$$;
REVOKE ALL ON FUNCTION audit_prune_to_cut(TEXT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_prune_to_cut(TEXT) TO portico_app;

GRANT SELECT, INSERT ON audit_heads TO portico_app;
GRANT SELECT, INSERT, UPDATE ON audit_cuts TO portico_app;
ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_heads
    USING (tenant_id = current_setting('portico.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('portico.tenant_id', true));
ALTER TABLE audit_cuts ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_cuts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_cuts
    USING (tenant_id = current_setting('portico.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('portico.tenant_id', true));
