-- The delivery queue: one row per undelivered mail, pointing into a
-- tenant's outbox. It holds no personal data, so the delivery worker can
-- claim due mail across tenants (FOR UPDATE SKIP LOCKED) without reading
-- any tenant's rows; it then reads each mail through that tenant's own
-- handle, under row-level security. Keep in step with the SQLite file.

CREATE TABLE mail_queue (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    mail_id         TEXT NOT NULL,
    due_at          BIGINT NOT NULL,
    claimed_until   BIGINT,
    PRIMARY KEY (tenant_id, mail_id)
);
CREATE INDEX mail_queue_due ON mail_queue (due_at);

INSERT INTO mail_queue (tenant_id, mail_id, due_at)
SELECT tenant_id, id, next_attempt_at FROM outbox WHERE status IN ('pending', 'sending');

GRANT SELECT, INSERT, UPDATE, DELETE ON mail_queue TO portico_app;
