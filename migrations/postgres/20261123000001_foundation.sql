-- Foundation: tenants, operators, staff, sessions, role policies, audit trail,
-- login throttling. Keep in step with ../sqlite/20261123000001_foundation.sql.
-- Times are Unix milliseconds; ids are UUIDv7 text.
--
-- The server runs its queries as `portico_app`, a role without BYPASSRLS, so
-- the row-level security policies below are a second wall behind the
-- tenant-bound query handle: each transaction sets `portico.tenant_id`, and a
-- tenant-owned row is visible and writable only when it matches.

DO $$
BEGIN
    CREATE ROLE portico_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- created by another database on this cluster
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT portico_app TO %I', current_user);
EXCEPTION WHEN OTHERS THEN
    NULL; -- already a member, or a superuser who needs no membership
END
$$;

CREATE TABLE tenants (
    id              TEXT PRIMARY KEY,
    slug            TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    custom_domain   TEXT UNIQUE,
    policy_version  BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE operator_tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE staff (
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    id                  TEXT NOT NULL,
    email               TEXT NOT NULL,
    email_normalized    TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    password_hash       TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    password_changed_at BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
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
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    step_up_at  BIGINT,
    revoked_at  BIGINT,
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
    occurred_at BIGINT NOT NULL,
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

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END
$$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE login_throttle (
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    bucket              TEXT NOT NULL,
    failures            BIGINT NOT NULL,
    window_started_at   BIGINT NOT NULL,
    locked_until        BIGINT,
    PRIMARY KEY (tenant_id, bucket)
);

-- Privileges of the application role.
GRANT USAGE ON SCHEMA public TO portico_app;
GRANT SELECT, INSERT, UPDATE ON tenants, operator_tokens TO portico_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON staff, staff_sessions, casbin_rules, login_throttle TO portico_app;
GRANT SELECT, INSERT ON audit_events TO portico_app;

-- Row-level security on every tenant-owned table.
DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['staff', 'staff_sessions', 'casbin_rules', 'audit_events', 'login_throttle']
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
