-- Registrations a visitor made online without a code wait here, apart from
-- the clinic's patients and accounts, until their address is proven by the
-- mailed link; unproven ones expire. A clinic can turn online registration
-- off. Keep in step with the PostgreSQL file.
ALTER TABLE tenants ADD COLUMN self_registration INTEGER NOT NULL DEFAULT 1
    CHECK (self_registration IN (0, 1));

CREATE TABLE pending_registrations (
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    id                  TEXT NOT NULL,
    email               TEXT NOT NULL,
    email_normalized    TEXT NOT NULL,
    -- NULL: the account logs in with its email.
    username            TEXT,
    password_hash       TEXT NOT NULL,
    -- The clinic's registration form as filled in (JSON), or NULL.
    new_patient         TEXT,
    token_hash          TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash)
);
CREATE INDEX pending_registrations_by_email ON pending_registrations (tenant_id, email_normalized);
CREATE INDEX pending_registrations_by_expiry ON pending_registrations (tenant_id, expires_at);
