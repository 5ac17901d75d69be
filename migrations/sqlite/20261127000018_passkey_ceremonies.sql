-- A passkey ceremony (registering one, or signing in or confirming with
-- one) spans two requests: the challenge the browser signs, and its
-- answer. Its state waits here, not in one node's memory, so that any
-- node can finish it; it is used once and lives a few minutes. It holds a
-- challenge and public data, no secret. Keep in step with the PostgreSQL file.
CREATE TABLE passkey_ceremonies (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    id          TEXT NOT NULL,
    -- Who it is for, when known (registering, confirming, a second step);
    -- neither for a sign-in that starts with the passkey.
    staff_id    TEXT,
    account_id  TEXT,
    purpose     TEXT NOT NULL CHECK (purpose IN ('register', 'sign_in', 'second_step', 'step_up')),
    state       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    PRIMARY KEY (tenant_id, id),
    CHECK (staff_id IS NULL OR account_id IS NULL),
    FOREIGN KEY (tenant_id, staff_id) REFERENCES staff (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, account_id) REFERENCES portal_accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX passkey_ceremonies_by_expiry ON passkey_ceremonies (tenant_id, expires_at);
