-- Patient portal access: patient records, access codes, portal accounts,
-- grants, and the mail outbox. Keep in step with
-- ../sqlite/20261123000002_patient_portal_access.sql.

ALTER TABLE tenants ADD COLUMN auto_enable_portal_access BIGINT NOT NULL DEFAULT 0
    CHECK (auto_enable_portal_access IN (0, 1));
ALTER TABLE tenants ADD COLUMN code_lifetime_secs BIGINT NOT NULL DEFAULT 432000
    CHECK (code_lifetime_secs BETWEEN 3600 AND 432000);
ALTER TABLE tenants ADD COLUMN default_code_delivery TEXT NOT NULL DEFAULT 'email'
    CHECK (default_code_delivery IN ('email', 'print'));

CREATE TABLE patients (
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    id                  TEXT NOT NULL,
    full_name           TEXT NOT NULL,
    name_search         TEXT NOT NULL,
    date_of_birth       TEXT NOT NULL,
    email               TEXT,
    email_normalized    TEXT,
    phone               TEXT,
    home_zip            TEXT,
    portal_access       TEXT NOT NULL CHECK (portal_access IN ('enabled', 'disabled')),
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    archived_at         BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX patients_by_name ON patients (tenant_id, name_search);

CREATE TABLE access_codes (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('medical_records', 'smartform')),
    patient_id      TEXT NOT NULL,
    code_hash       TEXT NOT NULL,
    delivery        TEXT NOT NULL CHECK (delivery IN ('email', 'print')),
    issued_by       TEXT,
    issued_at       BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    redeemed_at     BIGINT,
    redeemed_by     TEXT,
    revoked_at      BIGINT,
    revoked_by      TEXT,
    revoke_reason   TEXT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code_hash),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);
CREATE INDEX access_codes_by_patient ON access_codes (tenant_id, patient_id, issued_at);
CREATE INDEX access_codes_pending ON access_codes (tenant_id, expires_at)
    WHERE redeemed_at IS NULL AND revoked_at IS NULL;

CREATE TABLE portal_accounts (
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    id                  TEXT NOT NULL,
    username            TEXT NOT NULL,
    username_normalized TEXT NOT NULL,
    email               TEXT NOT NULL,
    email_normalized    TEXT NOT NULL,
    email_verified_at   BIGINT,
    password_hash       TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, username_normalized)
);
CREATE INDEX portal_accounts_by_email ON portal_accounts (tenant_id, email_normalized);

CREATE TABLE grants (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    patient_id  TEXT NOT NULL,
    code_id     TEXT,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    revoked_by  TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES portal_accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);
CREATE UNIQUE INDEX grants_one_live_per_pair ON grants (tenant_id, account_id, patient_id)
    WHERE revoked_at IS NULL;
CREATE INDEX grants_by_patient ON grants (tenant_id, patient_id);

CREATE TABLE outbox (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    patient_id      TEXT,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

GRANT SELECT, INSERT, UPDATE ON patients, access_codes, portal_accounts, grants, outbox TO portico_app;

DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['patients', 'access_codes', 'portal_accounts', 'grants', 'outbox']
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
