-- A code mailed for a patient's sign-in outlives its waiting login's row
-- (kept a day), so that the mail budget counts every code sent in its
-- window: the foreign key that deleted codes with their login goes.
-- (A database from the release whose migration 19 already left it out has
-- none to drop.) Keep in step with the SQLite file.
ALTER TABLE email_sign_in_codes
    DROP CONSTRAINT IF EXISTS email_sign_in_codes_tenant_id_pending_login_id_fkey;
