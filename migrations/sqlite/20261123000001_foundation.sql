-- Foundation: tenants, operators, staff, sessions, role policies, audit trail,
-- login throttling. Keep in step with ../postgres/20261123000001_foundation.sql.
-- Times are Unix milliseconds; ids are UUIDv7 text.

CREATE TABLE tenants (
    id              TEXT PRIMARY KEY NOT NULL,
    slug            TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    custom_domain   TEXT UNIQUE,
    policy_version  INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE operator_tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE staff (
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    id                  TEXT NOT NULL,
    email               TEXT NOT NULL,
    email_normalized    TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    password_hash       TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    password_changed_at INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email_normalized)
);

CREATE TABLE staff_sessions (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    staff_id    TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('cookie', 'bearer')),
    csrf_token  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    step_up_at  INTEGER,
    revoked_at  INTEGER,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, staff_id) REFERENCES staff (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE casbin_rules (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    id          TEXT NOT NULL,
    ptype       TEXT NOT NULL,
    v0          TEXT NOT NULL DEFAULT '',
    v1          TEXT NOT NULL DEFAULT '',
    v2          TEXT NOT NULL DEFAULT '',
    v3          TEXT NOT NULL DEFAULT '',
    v4          TEXT NOT NULL DEFAULT '',
    v5          TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, ptype, v0, v1, v2, v3, v4, v5)
);

CREATE TABLE audit_events (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    id          TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    actor_kind  TEXT NOT NULL CHECK (actor_kind IN ('staff', 'account', 'operator', 'anonymous', 'system')),
    actor_id    TEXT,
    action      TEXT NOT NULL,
    target      TEXT,
    outcome     TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    reason      TEXT,
    ip          TEXT,
    user_agent  TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_events_by_action ON audit_events (tenant_id, action, id);
CREATE INDEX audit_events_by_actor ON audit_events (tenant_id, actor_id, id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

CREATE TABLE login_throttle (
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    bucket              TEXT NOT NULL,
    failures            INTEGER NOT NULL,
    window_started_at   INTEGER NOT NULL,
    locked_until        INTEGER,
    PRIMARY KEY (tenant_id, bucket)
);
