-- Which clinics the hourly audit-head job has to look at. It read two rows
-- of every clinic's log each hour to find out: 2.2 s at 10,000 clinics
-- with nothing due (docs/performance.md), linear in clinics. Now a
-- clinic's log marks itself here when it grows, and the signer clears the
-- mark with the head it signs, so the job asks this table once. Keep in
-- step with the PostgreSQL file.
--
-- `grown` is 1 while the log holds events no head covers; `last_signed_at`
-- is when the newest head was signed (Unix ms), for the daily head that
-- shows a quiet log is still there.
CREATE TABLE audit_heads_due (
    tenant_id       TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id),
    grown           BIGINT NOT NULL CHECK (grown IN (0, 1)),
    last_signed_at  BIGINT
);

-- Every clinic is looked at once, as every run did before.
INSERT INTO audit_heads_due (tenant_id, grown) SELECT id, 1 FROM tenants;

-- In the appending transaction, so a mark can never be missing for an
-- event that committed. On SQLite an append takes its place without
-- counting in `audit_ledger_size` (see `ledger::store::next_place`), so the
-- mark follows the events themselves: one that enters the log with its
-- place, or takes one when the log starts. While the mark is set (most
-- appends), neither statement writes a page.
CREATE TRIGGER audit_log_grew AFTER INSERT ON audit_events
    FOR EACH ROW WHEN NEW.seq IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO audit_heads_due (tenant_id, grown) VALUES (NEW.tenant_id, 1);
    UPDATE audit_heads_due SET grown = 1 WHERE tenant_id = NEW.tenant_id AND grown = 0;
END;
CREATE TRIGGER audit_log_grew_in_place AFTER UPDATE OF seq ON audit_events
    FOR EACH ROW WHEN NEW.seq IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO audit_heads_due (tenant_id, grown) VALUES (NEW.tenant_id, 1);
    UPDATE audit_heads_due SET grown = 1 WHERE tenant_id = NEW.tenant_id AND grown = 0;
END;
