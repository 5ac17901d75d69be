-- Which clinics the hourly audit-head job has to look at. It read two rows
-- of every clinic's log each hour to find out: 2.2 s at 10,000 clinics
-- with nothing due (docs/performance.md), linear in clinics, and the
-- platform's role cannot ask the logs all at once through row-level
-- security. Now a clinic's log marks itself here when it grows, and the
-- signer clears the mark with the head it signs, so the job asks this
-- table once. Keep in step with the SQLite file.
--
-- `grown` is 1 while the log holds events no head covers; `last_signed_at`
-- is when the newest head was signed (Unix ms), for the daily head that
-- shows a quiet log is still there.
CREATE TABLE audit_heads_due (
    tenant_id       TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id),
    grown           BIGINT NOT NULL CHECK (grown IN (0, 1)),
    last_signed_at  BIGINT
);
GRANT SELECT, INSERT, UPDATE ON audit_heads_due TO portico_app;

-- Every clinic is looked at once, as every run did before.
INSERT INTO audit_heads_due (tenant_id, grown) SELECT id, 1 FROM tenants;

-- The hourly job reads every clinic's row at once, outside any clinic: ids
-- and times only, like the mail queue. Writing is walled as a clinic's own
-- tables are: a clinic's transaction marks and clears its own row alone.
ALTER TABLE audit_heads_due ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_heads_due FORCE ROW LEVEL SECURITY;
CREATE POLICY read_across_clinics ON audit_heads_due FOR SELECT USING (true);
CREATE POLICY insert_own_row ON audit_heads_due FOR INSERT
    WITH CHECK (tenant_id = current_setting('portico.tenant_id', true));
CREATE POLICY update_own_row ON audit_heads_due FOR UPDATE
    USING (tenant_id = current_setting('portico.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('portico.tenant_id', true));

-- In the appending transaction, so a mark can never be missing for an
-- event that committed. While the mark is set (most appends), the update
-- matches nothing and writes nothing. Lock order: an append holds its
-- clinic's `audit_ledger_size` row before it reaches this one, and the
-- signer takes the same two in the same order.
CREATE FUNCTION audit_log_grew() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_heads_due SET grown = 1 WHERE tenant_id = NEW.tenant_id AND grown = 0;
    IF NOT FOUND THEN
        -- A clinic made after this migration, or already marked.
        INSERT INTO audit_heads_due (tenant_id, grown) VALUES (NEW.tenant_id, 1)
            ON CONFLICT (tenant_id) DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_log_grew AFTER UPDATE OF size ON audit_ledger_size
    FOR EACH ROW WHEN (NEW.size > OLD.size) EXECUTE FUNCTION audit_log_grew();
