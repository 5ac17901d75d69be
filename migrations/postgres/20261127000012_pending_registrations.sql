-- Registrations a visitor made online without a code wait here, apart from
-- the clinic's patients and accounts, until their address is proven by the
-- mailed link; unproven ones expire. A clinic can turn online registration
-- off. Keep in step with the SQLite file.
ALTER TABLE tenants ADD COLUMN self_registration BIGINT NOT NULL DEFAULT 1
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
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash)
);
CREATE INDEX pending_registrations_by_email ON pending_registrations (tenant_id, email_normalized);
CREATE INDEX pending_registrations_by_expiry ON pending_registrations (tenant_id, expires_at);

GRANT SELECT, INSERT, DELETE ON pending_registrations TO portico_app;
ALTER TABLE pending_registrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE pending_registrations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON pending_registrations
    USING (tenant_id = current_setting('portico.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('portico.tenant_id', true));
