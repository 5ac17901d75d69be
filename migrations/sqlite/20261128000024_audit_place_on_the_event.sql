-- An audit event carries its own place in its clinic's Merkle log (issue 16,
-- the ledger's cost): `seq` and `leaf_hash` move from audit_ledger onto the
-- event's row, so appending is one insert into one table with one more
-- index, instead of a second row in a second table with two indexes and a
-- foreign key. Keep in step with the PostgreSQL file.

ALTER TABLE audit_events ADD COLUMN seq INTEGER CHECK (seq IS NULL OR seq >= 1);
ALTER TABLE audit_events ADD COLUMN leaf_hash TEXT
    CHECK (leaf_hash IS NULL OR length(leaf_hash) = 64);

DROP TRIGGER audit_events_no_update;
DROP TRIGGER audit_events_no_delete;
UPDATE audit_events
   SET seq = (SELECT l.seq FROM audit_ledger l
               WHERE l.tenant_id = audit_events.tenant_id AND l.event_id = audit_events.id),
       leaf_hash = (SELECT l.leaf_hash FROM audit_ledger l
               WHERE l.tenant_id = audit_events.tenant_id AND l.event_id = audit_events.id);
DROP TABLE audit_ledger;

CREATE UNIQUE INDEX audit_events_by_seq ON audit_events (tenant_id, seq);

-- The one change an event allows: taking its place once, when a clinic's
-- log starts and takes in the events written before it. Nothing else of
-- an event ever changes.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN NOT (
    OLD.seq IS NULL AND NEW.seq IS NOT NULL AND NEW.leaf_hash IS NOT NULL
    AND NEW.tenant_id IS OLD.tenant_id AND NEW.id IS OLD.id
    AND NEW.occurred_at IS OLD.occurred_at AND NEW.actor_kind IS OLD.actor_kind
    AND NEW.actor_id IS OLD.actor_id AND NEW.action IS OLD.action
    AND NEW.target IS OLD.target AND NEW.outcome IS OLD.outcome
    AND NEW.reason IS OLD.reason AND NEW.ip IS OLD.ip
    AND NEW.user_agent IS OLD.user_agent)
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

-- Pruning is the one removal allowed: an event at or before its clinic's
-- cut.
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN OLD.seq IS NULL OR NOT EXISTS (
    SELECT 1 FROM audit_cuts c WHERE c.tenant_id = OLD.tenant_id AND OLD.seq <= c.size)
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

-- audit_ledger_size stays: a clinic's row there says its log has started.
-- On SQLite the writer is exclusive, so an append takes the place after
-- the last one and no longer counts in the row (one page less to write on
-- every audited transaction); on PostgreSQL the row's lock orders appends
-- from several nodes and its count is kept.
