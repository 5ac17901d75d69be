-- A code mailed for a patient's sign-in outlives its waiting login's row
-- (kept a day), so that the mail budget counts every code sent in its
-- window: the foreign key that deleted codes with their login goes.
-- SQLite cannot drop a constraint, so the table is rebuilt with its rows
-- and indexes. Keep in step with the PostgreSQL file.
CREATE TABLE email_sign_in_codes_rebuilt (
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    id                TEXT NOT NULL,
    account_id        TEXT NOT NULL,
    pending_login_id  TEXT NOT NULL,
    code_hash         TEXT NOT NULL,
    misses            INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    used_at           INTEGER,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES portal_accounts (tenant_id, id) ON DELETE CASCADE
);
INSERT INTO email_sign_in_codes_rebuilt
    (tenant_id, id, account_id, pending_login_id, code_hash, misses, created_at, expires_at, used_at)
SELECT tenant_id, id, account_id, pending_login_id, code_hash, misses, created_at, expires_at, used_at
FROM email_sign_in_codes;
DROP TABLE email_sign_in_codes;
ALTER TABLE email_sign_in_codes_rebuilt RENAME TO email_sign_in_codes;
CREATE INDEX email_sign_in_codes_by_login ON email_sign_in_codes (tenant_id, pending_login_id);
CREATE INDEX email_sign_in_codes_by_account ON email_sign_in_codes (tenant_id, account_id, created_at);
