-- Portal sessions, one-time account tokens (email verification, password
-- reset, email change), and the link from a self-registered record to the
-- account that registered it. Keep in step with the SQLite file.

CREATE TABLE portal_sessions (
    tenant_id           TEXT NOT NULL,
    id                  TEXT NOT NULL,
    account_id          TEXT NOT NULL,
    token_hash          TEXT NOT NULL,
    csrf_token          TEXT NOT NULL,
    active_patient_id   TEXT,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    revoked_at          BIGINT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, account_id) REFERENCES portal_accounts (tenant_id, id)
);

CREATE TABLE account_tokens (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'change_email')),
    token_hash  TEXT NOT NULL,
    new_email   TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, account_id) REFERENCES portal_accounts (tenant_id, id)
);

ALTER TABLE patients ADD COLUMN registered_by_account TEXT;

GRANT SELECT, INSERT, UPDATE ON portal_sessions, account_tokens TO portico_app;

DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['portal_sessions', 'account_tokens']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I
                USING (tenant_id = current_setting(''portico.tenant_id'', true))
                WITH CHECK (tenant_id = current_setting(''portico.tenant_id'', true))',
            t);
    END LOOP;
END
$$;
