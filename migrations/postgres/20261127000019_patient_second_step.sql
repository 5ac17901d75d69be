-- Patients' two-step sign-in (issue 14): codes by email, and devices a
-- patient trusts. Keep in step with the SQLite file.

-- Whether the patient chose to receive a code by email at each sign-in.
-- (An authenticator app or a passkey is a row of second_factors.)
ALTER TABLE portal_accounts ADD COLUMN email_second_step BIGINT NOT NULL DEFAULT 0
    CHECK (email_second_step IN (0, 1));

-- A six-digit code mailed for one waiting sign-in. Only a keyed hash is
-- kept (the key lives outside the database); it works once, for ten
-- minutes, and a few wrong tries spend it.
CREATE TABLE email_sign_in_codes (
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    id                TEXT NOT NULL,
    account_id        TEXT NOT NULL,
    pending_login_id  TEXT NOT NULL,
    code_hash         TEXT NOT NULL,
    misses            BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    used_at           BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES portal_accounts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, pending_login_id) REFERENCES pending_logins (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX email_sign_in_codes_by_login ON email_sign_in_codes (tenant_id, pending_login_id);
CREATE INDEX email_sign_in_codes_by_account ON email_sign_in_codes (tenant_id, account_id, created_at);

-- A browser the patient told to skip the second step for 30 days: the
-- cookie holds a random token, this table only its hash. Listed and
-- revocable on the account page; a password change revokes them all.
CREATE TABLE trusted_devices (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    id            TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    token_hash    TEXT NOT NULL,
    label         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, account_id) REFERENCES portal_accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX trusted_devices_by_account ON trusted_devices (tenant_id, account_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON email_sign_in_codes, trusted_devices TO portico_app;
ALTER TABLE email_sign_in_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE email_sign_in_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON email_sign_in_codes
    USING (tenant_id = current_setting('portico.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('portico.tenant_id', true));
ALTER TABLE trusted_devices ENABLE ROW LEVEL SECURITY;
ALTER TABLE trusted_devices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON trusted_devices
    USING (tenant_id = current_setting('portico.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('portico.tenant_id', true));
