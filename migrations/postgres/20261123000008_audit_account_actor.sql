-- Portal accounts act too (redeeming a code, logging in): the audit trail's
-- actor_kind gains 'account'. Keep in step with the SQLite file.

ALTER TABLE audit_events DROP CONSTRAINT audit_events_actor_kind_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_actor_kind_check
    CHECK (actor_kind IN ('staff', 'account', 'operator', 'anonymous', 'system'));
