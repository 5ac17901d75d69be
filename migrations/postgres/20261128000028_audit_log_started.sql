-- Whether the clinic's audit log has started. A node's start made sure
-- every clinic's had, each in a write transaction of its own: 2.9 s at
-- 10,000 clinics (docs/performance.md), linear in clinics. Now it asks
-- this column once and starts only the clinics it names. Every clinic
-- reads 0 until its log is next started or found started (the first start
-- after this migration does that once for all of them, as every start did
-- before).
ALTER TABLE tenants ADD COLUMN audit_log_started BIGINT NOT NULL DEFAULT 0;
