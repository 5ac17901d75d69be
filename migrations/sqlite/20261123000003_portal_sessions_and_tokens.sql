-- Portal sessions, one-time account tokens (email verification, password
-- reset, email change), and the link from a self-registered record to the
-- account that registered it. Keep in step with the PostgreSQL file.

CREATE TABLE portal_sessions (
    tenant_id           TEXT NOT NULL,
    id                  TEXT NOT NULL,
    account_id          TEXT NOT NULL,
    token_hash          TEXT NOT NULL,
    csrf_token          TEXT NOT NULL,
    active_patient_id   TEXT,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    revoked_at          INTEGER,
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
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, account_id) REFERENCES portal_accounts (tenant_id, id)
);

ALTER TABLE patients ADD COLUMN registered_by_account TEXT;
