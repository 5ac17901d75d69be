-- An audit event carries its own place in its clinic's Merkle log (issue 16,
-- the ledger's cost): `seq` and `leaf_hash` move from audit_ledger onto the
-- event's row, so appending is one insert into one table with one more
-- index, instead of a second row in a second table with two indexes and a
-- foreign key. Keep in step with the SQLite file.

ALTER TABLE audit_events ADD COLUMN seq BIGINT CHECK (seq IS NULL OR seq >= 1);
ALTER TABLE audit_events ADD COLUMN leaf_hash TEXT
    CHECK (leaf_hash IS NULL OR length(leaf_hash) = 64);

-- Every clinic's rows, whoever the schema's owner is: row-level security
-- is lifted for the owner while the places move, then forced again.
ALTER TABLE audit_events NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_ledger NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change;
UPDATE audit_events e
   SET seq = l.seq, leaf_hash = l.leaf_hash
  FROM audit_ledger l
 WHERE l.tenant_id = e.tenant_id AND l.event_id = e.id;
ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
DROP TABLE audit_ledger;
DROP FUNCTION audit_ledger_append_only();

CREATE UNIQUE INDEX audit_events_by_seq ON audit_events (tenant_id, seq);

-- The one change an event allows is taking its place once, when a clinic's
-- log starts and takes in the events written before it; the one removal is
-- pruning an event at or before its clinic's cut.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.seq IS NOT NULL AND EXISTS (
            SELECT 1 FROM audit_cuts c WHERE c.tenant_id = OLD.tenant_id AND OLD.seq <= c.size)
        THEN
            RETURN OLD;
        END IF;
    ELSIF OLD.seq IS NULL AND NEW.seq IS NOT NULL AND NEW.leaf_hash IS NOT NULL
        AND (NEW.tenant_id, NEW.id, NEW.occurred_at, NEW.actor_kind, NEW.actor_id, NEW.action,
             NEW.target, NEW.outcome, NEW.reason, NEW.ip, NEW.user_agent)
            IS NOT DISTINCT FROM
            (OLD.tenant_id, OLD.id, OLD.occurred_at, OLD.actor_kind, OLD.actor_id, OLD.action,
             OLD.target, OLD.outcome, OLD.reason, OLD.ip, OLD.user_agent)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only';
END
$$;
GRANT UPDATE (seq, leaf_hash) ON audit_events TO portico_app;

CREATE OR REPLACE FUNCTION audit_prune_to_cut(p_tenant TEXT) RETURNS BIGINT
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    removed BIGINT;
BEGIN
    IF p_tenant IS DISTINCT FROM current_setting('portico.tenant_id', true) THEN
        RAISE EXCEPTION 'audit pruning is for the current clinic only';
    END IF;
    DELETE FROM audit_events e USING audit_cuts c
     WHERE e.tenant_id = p_tenant AND c.tenant_id = p_tenant AND e.seq <= c.size;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END
$$;
