-- Second factors (issue 14). A factor belongs to a staff member or to a
-- portal account, never both. An authenticator app's shared secret is
-- sealed with the code key, which lives outside the database; a passkey's
-- credential is a public key and its counter, which prove nothing without
-- the device. An enrolment begun but not yet proven has no confirmed_at
-- and does not count. Keep in step with the PostgreSQL file.
CREATE TABLE second_factors (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    id              TEXT NOT NULL,
    staff_id        TEXT,
    account_id      TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('totp', 'passkey')),
    name            TEXT NOT NULL,
    sealed_secret   TEXT,
    credential_id   TEXT,
    passkey         TEXT,
    -- The last time step an authenticator code was accepted at: a code is
    -- never accepted twice, nor one older than the last.
    last_step       INTEGER,
    created_at      INTEGER NOT NULL,
    confirmed_at    INTEGER,
    last_used_at    INTEGER,
    PRIMARY KEY (tenant_id, id),
    CHECK ((staff_id IS NULL) <> (account_id IS NULL)),
    CHECK ((kind = 'totp') = (sealed_secret IS NOT NULL)),
    FOREIGN KEY (tenant_id, staff_id) REFERENCES staff (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, account_id) REFERENCES portal_accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX second_factors_by_staff ON second_factors (tenant_id, staff_id);
CREATE INDEX second_factors_by_account ON second_factors (tenant_id, account_id);
CREATE UNIQUE INDEX second_factors_by_credential ON second_factors (tenant_id, credential_id)
    WHERE credential_id IS NOT NULL;

-- Ten single-use codes for when the device is lost, stored as keyed hashes.
CREATE TABLE recovery_codes (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    id          TEXT NOT NULL,
    staff_id    TEXT,
    account_id  TEXT,
    code_hash   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    used_at     INTEGER,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code_hash),
    CHECK ((staff_id IS NULL) <> (account_id IS NULL)),
    FOREIGN KEY (tenant_id, staff_id) REFERENCES staff (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, account_id) REFERENCES portal_accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX recovery_codes_by_staff ON recovery_codes (tenant_id, staff_id);
CREATE INDEX recovery_codes_by_account ON recovery_codes (tenant_id, account_id);

-- A login whose password was right, waiting for its second factor: a
-- short-lived token (hashed here) that only the second step accepts, once.
CREATE TABLE pending_logins (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    id              TEXT NOT NULL,
    token_hash      TEXT NOT NULL,
    staff_id        TEXT,
    account_id      TEXT,
    -- What the finished login opens: a staff cookie or bearer session;
    -- NULL for a portal session.
    session_kind    TEXT CHECK (session_kind IN ('cookie', 'bearer')),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    CHECK ((staff_id IS NULL) <> (account_id IS NULL)),
    FOREIGN KEY (tenant_id, staff_id) REFERENCES staff (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, account_id) REFERENCES portal_accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX pending_logins_by_expiry ON pending_logins (tenant_id, expires_at);

-- Whether a clinic requires a second factor of its staff, and of its
-- patients. Clinics created from now on require it of staff (set when the
-- clinic is created); clinics that exist keep working as they did until an
-- owner turns it on, so nobody is locked out by an upgrade.
ALTER TABLE tenants ADD COLUMN staff_second_factor_required INTEGER NOT NULL DEFAULT 0
    CHECK (staff_second_factor_required IN (0, 1));
ALTER TABLE tenants ADD COLUMN patient_second_factor_required INTEGER NOT NULL DEFAULT 0
    CHECK (patient_second_factor_required IN (0, 1));

-- Whether a session's last step-up was made with a second factor (a code,
-- a passkey) rather than the password: changing one's factors needs one,
-- so a stolen password and session cannot add the thief's own.
ALTER TABLE staff_sessions ADD COLUMN step_up_by_factor INTEGER NOT NULL DEFAULT 0
    CHECK (step_up_by_factor IN (0, 1));
