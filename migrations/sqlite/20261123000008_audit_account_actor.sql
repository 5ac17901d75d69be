-- Portal accounts act too (redeeming a code, logging in): the audit trail's
-- actor_kind gains 'account'. SQLite cannot change a CHECK constraint, so the
-- table is rebuilt with its rows, indexes and append-only triggers, inside
-- the migration's transaction. Keep in step with the PostgreSQL file.

CREATE TABLE audit_events_rebuilt (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    id          TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    actor_kind  TEXT NOT NULL CHECK (actor_kind IN ('staff', 'account', 'operator', 'anonymous', 'system')),
    actor_id    TEXT,
    action      TEXT NOT NULL,
    target      TEXT,
    outcome     TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    reason      TEXT,
    ip          TEXT,
    user_agent  TEXT,
    PRIMARY KEY (tenant_id, id)
);
INSERT INTO audit_events_rebuilt
    (tenant_id, id, occurred_at, actor_kind, actor_id, action, target, outcome, reason, ip, user_agent)
SELECT tenant_id, id, occurred_at, actor_kind, actor_id, action, target, outcome, reason, ip, user_agent
FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_rebuilt RENAME TO audit_events;

CREATE INDEX audit_events_by_action ON audit_events (tenant_id, action, id);
CREATE INDEX audit_events_by_actor ON audit_events (tenant_id, actor_id, id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
