-- When a record's portal access was first turned on; never cleared. An
-- email change on a record whose portal was ever open is guarded like one
-- while it is open, so turning access off, changing the address and
-- turning it on again is no side door. Records open now are backfilled.
-- Keep in step with the PostgreSQL file.
ALTER TABLE patients ADD COLUMN portal_opened_at INTEGER;
UPDATE patients SET portal_opened_at = updated_at WHERE portal_access = 'enabled';
