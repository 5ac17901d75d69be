-- Patient portal access: patient records, access codes, portal accounts,
-- grants, and the mail outbox. Keep in step with
-- ../postgres/20261123000002_patient_portal_access.sql.

-- Clinic settings for portal access.
ALTER TABLE tenants ADD COLUMN auto_enable_portal_access INTEGER NOT NULL DEFAULT 0
    CHECK (auto_enable_portal_access IN (0, 1));
ALTER TABLE tenants ADD COLUMN code_lifetime_secs INTEGER NOT NULL DEFAULT 432000
    CHECK (code_lifetime_secs BETWEEN 3600 AND 432000);
ALTER TABLE tenants ADD COLUMN default_code_delivery TEXT NOT NULL DEFAULT 'email'
    CHECK (default_code_delivery IN ('email', 'print'));

CREATE TABLE patients (
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    id                  TEXT NOT NULL,
    full_name           TEXT NOT NULL,
    -- Lowercased name, for search.
    name_search         TEXT NOT NULL,
    date_of_birth       TEXT NOT NULL,
    email               TEXT,
    email_normalized    TEXT,
    phone               TEXT,
    home_zip            TEXT,
    portal_access       TEXT NOT NULL CHECK (portal_access IN ('enabled', 'disabled')),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    archived_at         INTEGER,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX patients_by_name ON patients (tenant_id, name_search);

CREATE TABLE access_codes (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('medical_records', 'smartform')),
    patient_id      TEXT NOT NULL,
    -- HMAC-SHA256 of the code's letters under the server's code key; the
    -- code itself is never stored.
    code_hash       TEXT NOT NULL,
    delivery        TEXT NOT NULL CHECK (delivery IN ('email', 'print')),
    issued_by       TEXT,
    issued_at       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    redeemed_at     INTEGER,
    redeemed_by     TEXT,
    revoked_at      INTEGER,
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
    email_verified_at   INTEGER,
    password_hash       TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
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
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    revoked_by  TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES portal_accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);
CREATE UNIQUE INDEX grants_one_live_per_pair ON grants (tenant_id, account_id, patient_id)
    WHERE revoked_at IS NULL;
CREATE INDEX grants_by_patient ON grants (tenant_id, patient_id);

-- Mail to send, written in the same transaction as the act that causes it.
CREATE TABLE outbox (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    patient_id      TEXT,
    -- JSON: what the template needs. Never holds a password.
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
